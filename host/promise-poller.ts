// The poller behind a queue pair's Promise path: while commands are
// pending it polls back to back, one microtask per poll (the continuations
// of what a poll completed run first and submit their next commands, which
// the next poll rings for), reading the clock only every CLOCK_EVERY polls
// and giving the event loop a turn (setImmediate) when YIELD_MS have passed
// since the last; while only long waits are outstanding (asynchronous
// events) or a reset holds the queue, it polls lazily on a timer. Nothing
// runs when nothing waits. With an interrupt source (completionMode
// 'interrupt' or 'adaptive', host/interrupts.ts) the hot loop, once polls
// have found nothing for the spin budget, arms the interrupt, polls once
// more and sleeps in the libuv pool until the vector fires (Asleep).
import type { InterruptSource } from './interrupts.js';

/** What the poller is doing. */
export enum PollMode {
  /** No poll scheduled. */
  Idle = 0,
  /** The hot loop runs (a microtask or setImmediate away): commands are pending. */
  Hot = 1,
  /** A timer is scheduled: only long waits, or a reset holds the queue, or an event-driven transport waits. */
  Lazy = 2,
  /** Commands are pending and the hot loop sleeps until the interrupt fires (completionMode 'interrupt' / 'adaptive'). */
  Asleep = 3,
}

/**
 * How the hot loop sleeps: on `source`, after `spinMs` of polls that found
 * nothing (0: at the first), at most `maxSleepMs` at a time.
 */
export interface SleepPolicy {
  source: InterruptSource;
  spinMs: number;
  maxSleepMs: number;
}

/** What the poller did, for tests and benchmarks (QueuePair.completionWaits). */
export interface PollerCounters {
  /** Polls made by the Promise path's poller. */
  polls: number;
  /** Times it went to sleep on the interrupt. */
  sleeps: number;
  /** Sleeps that ended by the interrupt (or a cancel), not by the maxSleepMs bound. */
  wakeups: number;
}

/** Hot polls between two clock reads (the timeout scan and the decision to yield). */
const CLOCK_EVERY = 32;
/** Longest the hot loop keeps the event loop waiting (timers, sockets) before it yields a turn. */
const YIELD_MS = 0.5;
/** Lazy poll interval while only asynchronous events are awaited. */
const LAZY_POLL_MS = 10;
/** Event-driven transports: the poll for deadlines and liveness while commands are pending. */
const EVENT_SCAN_MS = 5;
/** Poll interval while a controller reset holds the queue. */
const SUSPENDED_POLL_MS = 2;
/** Empty polls between two clock reads while 'adaptive' spins. */
const SPIN_CLOCK_EVERY = 8;

/** An already settled promise: awaiting it costs one microtask and allocates no promise. */
const RESOLVED = Promise.resolve();
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The queue pair as the poller sees it. */
export interface PollTarget {
  /**
   * One poll: reap and deliver; with `scan`, also check liveness and
   * timeouts (when due). Returns the completions reaped; -1: the queue
   * pair failed, stop.
   */
  pollOnce(scan: boolean): number;
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

  private woken = false;

  /**
   * `eventDriven`: the transport says when completions arrived (wake()), so
   * while commands are pending the poller waits for that, with a timer every
   * TIMEOUT_SCAN_MS for deadlines and liveness, instead of spinning (NVMe/TCP:
   * a spinning poller would starve the socket reads).
   */
  constructor(private readonly target: PollTarget, private readonly eventDriven = false, private readonly sleep?: SleepPolicy) {}

  readonly counters: PollerCounters = { polls: 0, sleeps: 0, wakeups: 0 };

  /** The interrupt this poller sleeps on, if any. */
  get sleepSource(): InterruptSource | undefined {
    return this.sleep?.source;
  }
  /** When the current run of empty polls began ('adaptive'), -1: the last poll reaped. */
  private emptySince = -1;
  private emptyPolls = 0;

  /** End a sleep now (the queue pair is being reset or closed): the loop looks at its state again. */
  cancelSleep(): void {
    if (this.mode === PollMode.Asleep) this.sleep!.source.cancel();
  }

  /** The queue pair is done with: release the interrupt source (which ends a sleep). */
  closeSleep(): void {
    this.sleep?.source.close();
  }

  /** Completions arrived (event-driven transports): poll now. */
  readonly wake = (): void => {
    if (this.woken || this.mode === PollMode.Hot || this.mode === PollMode.Asleep || this.target.isClosed) return;
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
    if (this.mode === PollMode.Hot || this.mode === PollMode.Asleep || t.isClosed) return; // a sleeping loop wakes by the interrupt of what was just submitted
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
      // A lazy timer is unref'd: it would not keep the process alive for
      // commands someone awaits. Replace it.
      if (this.mode === PollMode.Lazy) clearTimeout(this.timer);
      this.mode = PollMode.Hot;
      void this.spin();
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

  /** Hot polls since the last clock read. */
  private polls = 0;
  /** When the hot loop last gave the event loop a turn. */
  private lastYield = 0;

  /**
   * The hot loop: one poll per microtask while commands are pending. Awaiting
   * an already settled promise queues the next poll behind the continuations
   * the last one's completions queued (so whether anything still waits is
   * asked after they ran and submitted), allocating nothing (no promise, no
   * queueMicrotask's async resource). The loop starts (one promise) when
   * commands wait after none did, not per command.
   */
  private async spin(): Promise<void> {
    const t = this.target;
    this.emptySince = -1; // the spin budget counts from this run's first empty poll
    try {
      for (;;) {
        await RESOLVED;
        if (t.isClosed || !t.hasWaiters || t.isSuspended || t.isLockWaiting) break; // ensure() (called by resumed()) picks up the slow pace
        const scan = ++this.polls >= CLOCK_EVERY;
        if (scan) this.polls = 0;
        this.counters.polls++;
        const n = t.pollOnce(scan);
        if (n < 0) break;
        if (this.sleep !== undefined) {
          if (n > 0) this.emptySince = -1;
          else if (this.spunEnough() && !(await this.sleepOnInterrupt())) break;
        }
        if (scan) {
          const now = performance.now();
          if (now - this.lastYield >= YIELD_MS) {
            await nextTurn();
            this.lastYield = performance.now();
          }
        }
      }
    } finally {
      this.mode = PollMode.Idle;
    }
    this.ensure();
  }

  /** A timer's or a wake()'s poll. */
  private readonly tick = (): void => {
    this.mode = PollMode.Idle;
    this.woken = false;
    if (this.target.isClosed) return;
    if (this.target.pollOnce(true) < 0) return;
    this.ensure();
  };

  /** An empty poll: has the spin budget run out? One clock read every SPIN_CLOCK_EVERY empty polls, none while polls reap. */
  private spunEnough(): boolean {
    const spinMs = this.sleep!.spinMs;
    if (spinMs === 0) return true;
    if (this.emptySince < 0) {
      this.emptySince = performance.now();
      this.emptyPolls = 0;
      return false;
    }
    return ++this.emptyPolls % SPIN_CLOCK_EVERY === 0 && performance.now() - this.emptySince >= spinMs;
  }

  /**
   * Arm, poll once more, sleep. The poll after arming reaps a completion
   * that came between the last empty poll and the arming: one that comes
   * after it fires the interrupt (the source's ordering, host/sim/irq.ts).
   * False: the queue pair failed.
   */
  private async sleepOnInterrupt(): Promise<boolean> {
    const t = this.target;
    const src = this.sleep!.source;
    const token = src.arm();
    this.counters.polls++;
    const n = t.pollOnce(true);
    if (n < 0) return false;
    if (n > 0 || !t.hasWaiters || t.isClosed || t.isSuspended || t.isLockWaiting) {
      this.emptySince = -1;
      return true;
    }
    this.mode = PollMode.Asleep;
    this.counters.sleeps++;
    let woken = false;
    try {
      woken = await src.wait(token, this.sleep!.maxSleepMs);
    } catch {
      // The wait itself failed (the pool call): poll again, as after a timeout.
    } finally {
      this.mode = PollMode.Hot;
    }
    if (woken) {
      this.counters.wakeups++;
      this.emptySince = -1; // a new completion: spin again before the next sleep
    }
    // Timed out: the spin budget stays spent, the next empty poll sleeps again.
    return true;
  }
}
