// A queue pair's Promise path: run() and its closure-free forms (runRw for
// a Read, Write or Compare into a DMA buffer, runBatch for many commands
// behind one promise), submissions parked while the queue is full, the
// doorbell rung once per tick (ringSoon), and the poller that reaps while
// commands are pending (pollOnce, what promise-poller.ts calls through its
// queue pair). The queue pair (qpair.ts) owns the command table and the
// submit/complete cycle and calls in; a Promise-path command is a row of
// that table with PROMISE_CB as its callback, settled by the cycle's
// deliver().
import { ControllerError, coreError } from './errors.js';
import type { CoreExports } from './core.js';
import type { CidKeys } from './cid-keys.js';
import { PROMISE_CB, capture, captured, type CommandTable, type IoCallback, type Cleanup } from './command-table.js';
import type { LatencySampler } from './latency-sampler.js';
import { PromisePoller, PollMode, type PollTarget, type PollerCounters, type SleepPolicy } from './promise-poller.js';
import type { QueuePairDeadlines } from './qpair-timeouts.js';
import { QUEUE_FULL, type QueuePairInit } from './qpair-types.js';
import { runBatch, type BatchQueue } from './batch.js';
import type { InterruptSource } from './interrupts.js';

/** An already settled promise: `await RESOLVED` / `RESOLVED.then(f)` is the cheapest way into the next microtask. */
const RESOLVED = Promise.resolve();

/**
 * The queue pair's live state and steps as the Promise path uses them,
 * called at each use (the state changes, subclasses override the steps, a
 * benchmark may replace processCompletions on the instance). Functions
 * made once with the queue pair, not getters: an object literal's getters
 * are the instance's own, and reading the state through them cost the
 * Promise path about a tenth more CPU per I/O (bench:ab, loopback).
 */
export interface PromiseQueue {
  /** The default timeout of a command, in ms (0 = none). */
  readonly timeoutMs: () => number;
  /** Why the queue pair refuses commands (it failed or closed), else undefined. */
  readonly closedError: () => Error | undefined;
  /** A controller reset holds submissions. */
  readonly suspended: () => boolean;
  /** A poll is delivering completions (a callback of it must not drain the parked ones). */
  readonly inPoll: () => boolean;
  /** The cid of the command the last guard() posted. */
  readonly lastCid: () => number;
  /** Post through the core (the admin queue takes the group lock around it). */
  readonly guard: (submit: () => number) => number;
  /** Record posted command `r` (false: the queue is full; throws for a refused one). */
  readonly track: (r: number, opcode: number, cb: IoCallback, what: string) => boolean;
  /** Ring the SQ doorbell now. */
  readonly ringNow: () => void;
  /** Reap every completion there is and deliver it; returns how many. */
  readonly processCompletions: () => number;
  /** Fail every command and refuse new ones. */
  readonly failAll: (err: Error) => void;
  /** Scan for commands past their deadline. */
  readonly checkTimeouts: (now: number) => void;
}

/** What the Promise path needs of its queue pair, given once. */
export interface PromiseOwner {
  readonly queue: PromiseQueue;
  /** The queue pair as its poller sees it. */
  readonly target: PollTarget;
  readonly core: CoreExports;
  /** Region offset of the core's descriptor. */
  readonly desc: number;
  readonly table: CommandTable;
  readonly sampler: LatencySampler;
  /** The keys of this process's cids (the shared admin queue); undefined where keys are core slots. */
  readonly cids: CidKeys | undefined;
  /** The queue pair's deadlines: when a liveness and timeout scan is due. */
  readonly expiry: QueuePairDeadlines;
  /** Throws a ControllerError when the controller is dead. */
  readonly checkAlive: (() => void) | undefined;
  readonly wire: QueuePairInit['wire'];
  readonly sleep: SleepPolicy | undefined;
}

/** The Promise path of one queue pair (see the top of this file). */
export class QueuePairPromises {
  /** Reaps while commands are pending; its target is the queue pair. */
  readonly poller: PromisePoller;
  /** Submissions that found the queue full (or, on the shared admin queue, the lock busy), oldest first. */
  private waiters: Array<() => boolean> = [];
  private ringScheduled = false;
  /** The queue pair as a batch sees it. */
  private readonly batchQueue: BatchQueue;

  constructor(private readonly o: PromiseOwner) {
    // A wire that notifies (NVMe/TCP's socket reads) wakes the poller; a polled one is polled like PCIe.
    this.poller = new PromisePoller(o.target, o.wire !== undefined && !o.wire.polled, o.sleep);
    if (o.wire) o.wire.notify = this.poller.wake;
    this.batchQueue = this.asBatchQueue();
  }

  /**
   * Submit through `submit` (which calls the core and returns its result)
   * and resolve with the completion's dword 0 (QueuePair.run).
   */
  run(opcode: number, what: string, submit: () => number, cleanup?: Cleanup, opts?: { timeoutMs?: number; background?: boolean }): Promise<number> {
    const { queue: q, table: t } = this.o;
    if (q.closedError()) {
      cleanup?.(q.closedError()!);
      return Promise.reject(q.closedError());
    }
    const timeoutMs = opts?.timeoutMs ?? q.timeoutMs();
    const bg = opts?.background === true;
    const p = new Promise<number>(capture);
    const resolve = captured.resolve!;
    const reject = captured.reject!;
    if (bg) t.backgroundPending++;
    else t.pending++;
    if (this.waiters.length > 0 || !this.attempt(opcode, what, submit, cleanup, timeoutMs, bg, resolve, reject)) {
      this.waiters.push(() => this.attempt(opcode, what, submit, cleanup, timeoutMs, bg, resolve, reject));
    }
    this.poller.ensure();
    return p;
  }

  /**
   * Post a Promise-path command and record it: true when done with (posted,
   * or failed and settled), false when the queue is full (park it).
   */
  private attempt(opcode: number, what: string, submit: () => number, cleanup: Cleanup | undefined, timeoutMs: number, bg: boolean, resolve: (dw0: number) => void, reject: (err: Error) => void): boolean {
    const { queue: q, table: t, cids } = this.o;
    let err: Error | undefined = q.closedError();
    if (err === undefined) {
      try {
        const r = q.guard(submit);
        if (q.track(r, opcode, PROMISE_CB, what)) {
          const k = cids ? cids.postedKey(q.lastCid()) : r;
          t.resolves[k] = resolve;
          t.rejects[k] = reject;
          t.cleanups[k] = cleanup;
          t.background[k] = bg ? 1 : 0;
          t.limits[k] = timeoutMs;
          t.deadlines[k] = timeoutMs > 0 ? performance.now() + timeoutMs : 0;
          this.ringSoon();
          return true;
        }
        return false;
      } catch (e) {
        err = e as Error;
      }
    }
    // Not posted: it never was a command of the table.
    cleanup?.(err);
    if (bg) t.backgroundPending--;
    else t.pending--;
    reject(err);
    return true;
  }

  /** run() for a Read, Write or Compare into a DMA buffer, without a `submit` closure (QueuePair.runRw). */
  runRw(opc: number, what: string, nsid: number, lba: number, blocks: number, at: number, len: number, flags: number, timeoutMs: number | undefined): Promise<number> {
    const { queue: q, core, desc } = this.o;
    if (q.closedError() !== undefined || q.suspended() || this.waiters.length > 0 || this.o.cids !== undefined) {
      return this.run(opc, what, () => core.submitRw(desc, opc, nsid, lba, blocks, at, len, flags), undefined, { timeoutMs });
    }
    const r = core.submitRw(desc, opc, nsid, lba, blocks, at, len, flags);
    if (r < 0) {
      if (QUEUE_FULL.has(r)) return this.run(opc, what, () => core.submitRw(desc, opc, nsid, lba, blocks, at, len, flags), undefined, { timeoutMs });
      return Promise.reject(coreError(r, what));
    }
    const t = this.o.table;
    const p = new Promise<number>(capture);
    t.cbs[r] = PROMISE_CB;
    t.opcodes[r] = opc;
    t.deadlines[r] = 0;
    t.limits[r] = timeoutMs ?? q.timeoutMs();
    t.timedOut[r] = 0;
    t.resolves[r] = captured.resolve;
    t.rejects[r] = captured.reject;
    t.background[r] = 0;
    t.pending++;
    const s = this.o.sampler;
    if (--s.countdown === 0) s.sample(r, opc);
    this.poller.ensure();
    this.ringSoon();
    return p;
  }

  /** A batch of `count` commands behind one promise (host/batch.ts): `post(i)` posts command i. */
  runBatch(count: number, opcode: number, what: string, post: (i: number) => number): Promise<void> {
    return runBatch(this.batchQueue, count, opcode, what, post);
  }

  private asBatchQueue(): BatchQueue {
    const pr = this; // the getters below have their own `this`
    const { queue: q, table } = this.o;
    return {
      get closedError() {
        return q.closedError();
      },
      get isSuspended() {
        return q.suspended();
      },
      get hasParked() {
        return pr.waiters.length > 0;
      },
      track: q.track, // bound by the queue pair
      ringSoon: () => pr.ringSoon(),
      park: (attempt) => void pr.waiters.push(attempt),
      pending: (delta) => void (table.pending += delta),
      ensurePolling: () => pr.poller.ensure(),
    };
  }

  /** Submissions parked, waiting for slots (or, on the shared admin queue, for the lock). */
  get parked(): number {
    return this.waiters.length;
  }

  /** Post parked submissions, oldest first, until one finds the queue full (not from inside a poll). */
  drainWaiters(): void {
    const q = this.o.queue;
    while (this.waiters.length > 0 && !q.inPoll()) {
      if (!this.waiters[0]!()) break;
      this.waiters.shift();
    }
  }

  /** The queue pair failed (its closedError is set): every parked submission fails now. */
  failParked(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const attempt of w) attempt(); // each fails fast: closedError is set
  }

  /**
   * The SQ doorbell for what was just posted: the hot poller's next poll
   * (a microtask away) rings first thing; otherwise one microtask rings
   * for everything posted meanwhile.
   */
  private ringSoon(): void {
    if (this.ringScheduled || this.poller.pollMode === PollMode.Hot) return;
    this.ringScheduled = true;
    void RESOLVED.then(this.ringTask);
  }

  private readonly ringTask = (): void => {
    this.ringScheduled = false;
    this.o.queue.ringNow();
  };

  /** Commands someone awaits are pending (or parked, waiting for slots). */
  get hasWaiters(): boolean {
    return this.o.table.pending > 0 || this.waiters.length > 0;
  }

  /** Only long waits (asynchronous events) are outstanding. */
  get hasBackground(): boolean {
    return this.o.table.backgroundPending > 0;
  }

  /** One poll of the poller (QueuePair.pollOnce): -1 when the queue pair failed. */
  pollOnce(scan: boolean): number {
    const q = this.o.queue;
    let n = 0;
    try {
      n = q.processCompletions();
    } catch (e) {
      if (e instanceof ControllerError) {
        q.failAll(e);
        return -1;
      }
      // A user callback threw: report it like an unhandled exception, keep polling.
      queueMicrotask(() => {
        throw e;
      });
    }
    if (!scan) return n;
    const now = performance.now();
    if (this.o.expiry.due(now)) {
      try {
        this.o.checkAlive?.();
      } catch (e) {
        q.failAll(e as Error); // the controller fails its other queue pairs too
        return -1;
      }
      q.checkTimeouts(now);
    }
    return n;
  }

  /** What the poller did: polls, sleeps on the interrupt, interrupt wake-ups (a copy). */
  get completionWaits(): PollerCounters {
    return { ...this.poller.counters };
  }

  /** The interrupt the poller sleeps on, if any (QueuePair.interrupt). */
  get interrupt(): InterruptSource | undefined {
    return this.poller.sleepSource;
  }
}
