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
  readonly isClosed: boolean;
}

export class PromisePoller {
  private mode = PollMode.Idle;
  private timer: NodeJS.Timeout | undefined;
  /** Polls run back to back in microtasks since the event loop last had a turn. */
  private microPolls = 0;

  constructor(private readonly target: PollTarget) {}

  get pollMode(): PollMode {
    return this.mode;
  }

  /** Make sure a poll is scheduled if anything waits (call after every submission and poll). */
  ensure(): void {
    const t = this.target;
    if (t.isClosed) return;
    if (t.isSuspended) {
      // A reset is under way: look again in a while, not in a hot loop.
      if (this.mode !== PollMode.Idle) return;
      this.mode = PollMode.Lazy;
      this.timer = setTimeout(this.tick, SUSPENDED_POLL_MS);
      if (!t.hasWaiters) this.timer.unref();
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

  /** The queue is back after a reset: drop the slow timer, poll at the normal pace. */
  resumed(): void {
    if (this.mode === PollMode.Lazy) {
      clearTimeout(this.timer);
      this.mode = PollMode.Idle;
    }
    this.ensure();
  }

  private readonly tick = (): void => {
    this.mode = PollMode.Idle;
    if (this.target.isClosed) return;
    if (!this.target.pollOnce()) return;
    this.ensure();
  };
}
