// The poller behind a queue pair's Promise path: while commands are
// pending it polls back to back in microtasks (the continuations of what
// just completed submit their next commands first), giving the event loop
// a turn every MICRO_POLLS polls; while only long waits are outstanding
// (asynchronous events) or a reset holds the queue, it polls lazily on a
// timer. Nothing runs when nothing waits.

/** What the poller is doing. */
export enum PollMode {
  /** No poll scheduled. */
  Idle = 0,
  /** A microtask or setImmediate poll is scheduled: commands are pending. */
  Hot = 1,
  /** An unref'd timer is scheduled: only long waits, or a reset holds the queue. */
  Lazy = 2,
}

/** Back-to-back microtask polls before the poller yields to the event loop. */
const MICRO_POLLS = 32;
/** Lazy poll interval while only asynchronous events are awaited. */
const LAZY_POLL_MS = 10;
/** Event-driven transports: the poll for deadlines and liveness while commands are pending. */
const EVENT_SCAN_MS = 5;
/** Poll interval while a controller reset holds the queue. */
const SUSPENDED_POLL_MS = 2;

/** The queue pair as the poller sees it. */
export interface PollTarget {
  /** One poll: reap, deliver, check liveness and timeouts. False: the queue pair failed, stop. */
  pollOnce(): boolean;
  /** Commands someone awaits are pending (or parked, waiting for slots). */
  readonly hasWaiters: boolean;
  /** Only long waits (asynchronous events) are outstanding. */
  readonly hasBackground: boolean;
  readonly isSuspended: boolean;
  /** Waiting (off the event loop) for a lock another process holds: poll on a timer meanwhile. */
  readonly isLockWaiting: boolean;
  readonly isClosed: boolean;
}

export class PromisePoller {
  private mode = PollMode.Idle;
  private timer: NodeJS.Timeout | undefined;
  /** Polls run back to back in microtasks since the event loop last had a turn. */
  private microPolls = 0;

  private woken = false;

  /**
   * `eventDriven`: the transport says when completions arrived (wake()), so
   * while commands are pending the poller waits for that, with a timer every
   * TIMEOUT_SCAN_MS for deadlines and liveness, instead of spinning (NVMe/TCP:
   * a spinning poller would starve the socket reads).
   */
  constructor(private readonly target: PollTarget, private readonly eventDriven = false) {}

  /** Completions arrived (event-driven transports): poll now. */
  readonly wake = (): void => {
    if (this.woken || this.mode === PollMode.Hot || this.target.isClosed) return;
    if (this.mode === PollMode.Lazy) clearTimeout(this.timer);
    this.woken = true;
    this.mode = PollMode.Hot;
    queueMicrotask(this.tick);
  };

  get pollMode(): PollMode {
    return this.mode;
  }

  /** Make sure a poll is scheduled if anything waits (call after every submission and poll). */
  ensure(): void {
    const t = this.target;
    if (t.isClosed) return;
    if (t.isSuspended || t.isLockWaiting) {
      // A reset is under way, or the lock is awaited: look again in a while, not in a hot loop.
      if (this.mode !== PollMode.Idle) return;
      this.mode = PollMode.Lazy;
      this.timer = setTimeout(this.tick, SUSPENDED_POLL_MS);
      if (!t.hasWaiters) this.timer.unref();
      return;
    }
    if (t.hasWaiters && this.eventDriven) {
      if (this.mode !== PollMode.Idle) return;
      this.mode = PollMode.Lazy;
      this.timer = setTimeout(this.tick, EVENT_SCAN_MS);
      return;
    }
    if (t.hasWaiters) {
      if (this.mode === PollMode.Hot) return;
      // A lazy timer is unref'd: it would not keep the process alive for
      // commands someone awaits. Replace it.
      if (this.mode === PollMode.Lazy) clearTimeout(this.timer);
      this.mode = PollMode.Hot;
      if (this.microPolls < MICRO_POLLS) {
        this.microPolls++;
        queueMicrotask(this.tick);
      } else {
        this.microPolls = 0;
        setImmediate(this.tick);
      }
    } else if (t.hasBackground && this.mode === PollMode.Idle) {
      this.mode = PollMode.Lazy;
      this.timer = setTimeout(this.tick, LAZY_POLL_MS).unref();
    }
  }

  /** The queue is back after a reset (or has the lock it waited for): drop the slow timer, poll at the normal pace. */
  resumed(): void {
    if (this.mode === PollMode.Lazy) {
      clearTimeout(this.timer);
      this.mode = PollMode.Idle;
    }
    this.ensure();
  }

  private readonly tick = (): void => {
    this.mode = PollMode.Idle;
    this.woken = false;
    if (this.target.isClosed) return;
    if (!this.target.pollOnce()) return;
    this.ensure();
  };
}
