// A queue pair as the host drives it: the core posts entries and reaps
// completions; this class ties the core to what only JavaScript can hold per
// command (command-table.ts), deadlines (qpair-timeouts.ts), sampled latency
// (latency-sampler.ts) and the Promise path (qpair-promise.ts, its poller
// promise-poller.ts). What is here is the submit/complete cycle (track,
// ring, processCompletions, deliver) and the state it runs on, and what a
// reset or a failure does to it (suspend, resume, failAll).
//
// Two ways in:
// - low overhead: submit with a callback, then processCompletions(max) from
//   your own loop; nothing is allocated per command by the driver, and the
//   SQ doorbell is rung once per processCompletions call (or ring()).
// - Promise: run() returns a Promise; the poller reaps completions while any
//   are pending, yielding to the event loop between polls, and the doorbell
//   is rung once per tick.
//
// The device is the core's descriptor and its doorbells; a transport that
// is no PCIe device (NVMe/TCP) takes new entries after each doorbell and
// posts completions into the ring (`wire`, host/fabrics/ring.ts).
import { OUT_SLOT, OUT_SLOT_AEN, OUT_STATUS, OUT_DW0, OUT_CID, OUT_STRIDE, OUT_MAX } from '../assembly/abi/qpair.js';
import { SF_ABORT_REQUESTED, sfCode } from '../assembly/nvme/status.js';
import { CoreStatus } from '../assembly/abi/status.js';
import type { CoreExports } from './core.js';
import { statusError, coreError, type TimeoutRecovery } from './errors.js';
import { CidKeys } from './cid-keys.js';
import { CommandTable, PROMISE_CB, type IoCallback, type Cleanup } from './command-table.js';
import { LatencySampler } from './latency-sampler.js';
import type { PollTarget, PollerCounters } from './promise-poller.js';
import { POLLS_PER_TIMEOUT_CHECK } from './timeouts.js';
import { QueuePairDeadlines } from './qpair-timeouts.js';
import { QueuePairPromises } from './qpair-promise.js';
import { QpDescriptor } from './layout/qp-descriptor.js';
import { statsWords } from './layout/stats-block.js';
import { QUEUE_FULL, type QueuePairInit, type QueuePairStats, type BogusCompletion } from './qpair-types.js';
import type { InterruptSource } from './interrupts.js';

export type { IoCallback } from './command-table.js';
export type { QueuePairInit, QueuePairStats, BogusCompletion } from './qpair-types.js';

// What pass 1 of deliver() found for each record of a batch.
const KIND_CB = 0; // a callback-path command: pass 2 calls its callback
const KIND_DONE = 1; // a Promise-path command: settled in pass 1
const KIND_UNKNOWN = 2; // no command of ours
const KIND_AEN = 3; // an asynchronous event's copy (admin queue)

export class QueuePair implements PollTarget {
  readonly qid: number;
  /** Entries in each ring. */
  readonly depth: number;
  /** Commands that can be outstanding at once. */
  readonly slots: number;
  /** Bytes one command can move (MDTS and the driver's cap applied). */
  readonly maxTransfer: number;
  /** Region offset of the core's descriptor. */
  readonly desc: number;
  /** Default timeout of Promise-path commands, in ms (0 = none). */
  timeoutMs: number;

  protected readonly core: CoreExports;
  private readonly out: Uint32Array;
  private readonly keyByCid: boolean;
  /** keyByCid: the keys of this process's cids (undefined on I/O queues, keyed by slot). */
  private readonly cids: CidKeys | undefined;
  private readonly slotBits: number;
  private readonly table: CommandTable;
  private readonly cbs: CommandTable['cbs'];
  private readonly opcodes: Uint8Array;
  private readonly deadlines: Float64Array;
  private readonly limits: Float64Array;
  private readonly timedOut: Uint8Array;
  private readonly sampler: LatencySampler;
  private readonly descriptor: QpDescriptor;
  // One batch's records as pass 1 of deliver() leaves them for pass 2.
  private readonly bKind = new Uint8Array(OUT_MAX);
  private readonly bDw0 = new Uint32Array(OUT_MAX);
  private readonly bCb: Array<IoCallback | undefined> = new Array(OUT_MAX).fill(undefined);
  private readonly bErr: Array<Error | null> = new Array(OUT_MAX).fill(null);
  /** The transport's side of the rings (NVMe/TCP), undefined on PCIe and the simulator. */
  protected readonly wire: QueuePairInit['wire'];
  /** Controller reset under way: submissions wait, nothing is polled. */
  protected suspended = false;
  private pollsSinceScan = 0;
  private bogusSeen = 0;
  /** Called after a poll that met malformed completions. */
  onBogus: ((b: BogusCompletion) => void) | undefined;
  protected inPoll = false;
  /** Deadlines, timeouts and ending every outstanding command (qpair-timeouts.ts). */
  private readonly expiry: QueuePairDeadlines;
  /** The Promise path: run, runRw, runBatch, parked submissions and the poller (qpair-promise.ts). */
  private readonly promises: QueuePairPromises;
  private closedError: Error | undefined;

  constructor(init: QueuePairInit) {
    this.core = init.core;
    this.qid = init.qid;
    this.depth = init.depth;
    this.slots = init.nslots;
    this.desc = init.desc;
    this.maxTransfer = init.maxTransfer;
    this.timeoutMs = init.timeoutMs;
    this.out = new Uint32Array(init.region.buffer, init.core.outPtr(), OUT_MAX * OUT_STRIDE);
    this.descriptor = new QpDescriptor(init.region, init.desc);
    this.slotBits = this.descriptor.slotBits;
    this.cids = init.cidOwner !== undefined ? new CidKeys(this.slotBits, this.descriptor.ownerBits, init.cidOwner) : undefined;
    this.keyByCid = this.cids !== undefined;
    this.table = new CommandTable(this.cids ? this.cids.size : init.nslots);
    // The hot path stores into the table's arrays directly (one field load each, no call).
    this.cbs = this.table.cbs;
    this.opcodes = this.table.opcodes;
    this.deadlines = this.table.deadlines;
    this.limits = this.table.limits;
    this.timedOut = this.table.timedOut;
    const words = init.statsOff !== undefined ? statsWords(init.region, init.statsOff) : undefined;
    this.sampler = new LatencySampler(words, this.table.size, init.latencySampling ?? 'auto', init.qid);
    this.wire = init.wire;
    const cids = this.cids;
    this.expiry = new QueuePairDeadlines({
      queue: this, qid: this.qid, table: this.table, sampler: this.sampler, keyByCid: this.keyByCid, wire: this.wire, onTimeout: init.onTimeout,
      cidOf: cids ? (k) => cids.cidOf(k) : (k) => this.core.slotCid(this.desc, k),
    });
    this.promises = new QueuePairPromises({
      target: this, core: this.core, desc: this.desc, table: this.table, sampler: this.sampler, cids, expiry: this.expiry,
      checkAlive: init.checkAlive, wire: this.wire, sleep: init.sleep,
      // Made once; each call reads the field, or looks the method up (subclasses override some, a benchmark may replace processCompletions).
      queue: {
        timeoutMs: () => this.timeoutMs,
        closedError: () => this.closedError,
        suspended: () => this.suspended,
        inPoll: () => this.inPoll,
        lastCid: () => this.lastCid,
        guard: (submit) => this.guard(submit),
        track: (r, opcode, cb, what) => this.track(r, opcode, cb, what),
        ringNow: () => this.ringNow(),
        processCompletions: () => this.processCompletions(),
        failAll: (err) => this.failAll(err),
        checkTimeouts: (now) => this.checkTimeouts(now),
      },
    });
  }

  /** Counters the core keeps in the queue pair's descriptor. */
  get stats(): QueuePairStats {
    return this.descriptor.counters();
  }

  /** Commands submitted and not completed (timed-out ones included until they complete). */
  get outstanding(): number {
    return this.core.qpOutstanding(this.desc);
  }

  /** Times a submission found the SQ full (CQE.SQHD had not moved past it). */
  get sqFullCount(): number {
    return this.core.qpSqFullSeen(this.desc);
  }

  /** Commands in how many get timed for the latency statistics now (1: every one). */
  get latencySamplingNow(): number {
    return this.sampler.sharing;
  }

  /**
   * Record a submitted command (`r` is what the core returned). Returns
   * false when the queue is full, throws for a rejected submission.
   */
  protected track(r: number, opcode: number, cb: IoCallback, what: string): boolean {
    if (r >= 0) {
      const k = this.cids ? this.cids.postedKey(this.lastCid) : r;
      // The one thing done per command. No clock read: the next timeout scan stamps the deadline.
      this.cbs[k] = cb;
      this.opcodes[k] = opcode;
      this.deadlines[k] = 0;
      this.limits[k] = this.timeoutMs;
      this.timedOut[k] = 0;
      const s = this.sampler;
      if (--s.countdown === 0) s.sample(k, opcode); // the JavaScript side of statistics, per unsampled command: one decrement
      return true;
    }
    if (QUEUE_FULL.has(r)) return false;
    throw coreError(r, what);
  }

  /** Ring the SQ tail doorbell for everything submitted since the last ring. */
  ring(): void {
    this.sampler.newBatch();
    this.core.qpRing(this.desc);
    this.wire?.kick();
  }

  /**
   * Ring the SQ doorbell, then reap up to `max` completions (0 = all there
   * are) and call their callbacks. Returns the number reaped.
   */
  processCompletions(max = 0): number {
    if (this.inPoll || this.suspended) return 0; // a callback polling its own queue pair: the outer loop goes on
    if (++this.pollsSinceScan >= POLLS_PER_TIMEOUT_CHECK) this.checkTimeouts(performance.now());
    const core = this.core;
    const desc = this.desc;
    core.qpRing(desc);
    this.wire?.kick();
    this.sampler.newBatch();
    this.inPoll = true;
    let total = 0;
    let firstThrow: unknown;
    try {
      for (;;) {
        const want = max > 0 ? Math.min(OUT_MAX, max - total) : OUT_MAX;
        if (want <= 0) break;
        const n = core.qpPoll(desc, want);
        if (n === 0) break;
        firstThrow = this.deliver(n, firstThrow);
        total += n;
        if (n < want) break;
      }
    } finally {
      this.inPoll = false;
    }
    if (total > 0) {
      // What the callbacks submitted (an empty poll ran none: nothing new to ring).
      core.qpRing(desc);
      this.wire?.kick();
      this.sampler.newBatch();
    }
    if (this.promises.parked > 0) this.drainWaiters();
    this.checkBogus();
    if (firstThrow !== undefined) throw firstThrow;
    return total;
  }

  /** Report malformed completions the core consumed since the last look (one counter read). */
  protected checkBogus(): void {
    const count = this.descriptor.bogus;
    if (count === this.bogusSeen) return;
    this.bogusSeen = count;
    this.onBogus?.({ qid: this.qid, count, ...this.descriptor.lastBogus() });
  }

  /** A completion arrived for no command this process has outstanding. */
  protected onUnknown(): void {}

  /** An asynchronous event's completion dword 0 reached this process (admin queue). */
  protected onAsyncEvent(_dw0: number): void {}

  /**
   * Hand `n` OUT records to their commands. Pass 1 reads the records (the
   * OUT area is the core's, shared by every queue pair of this controller:
   * a callback polling another one overwrites it), detaches the callbacks,
   * so a callback that submits (and reuses a slot of this batch) cannot be
   * confused, and settles Promise-path commands (that runs no caller code:
   * continuations run as microtasks after the poll); pass 2 calls the
   * callbacks. Returns the first exception a callback threw (the others
   * still run).
   */
  protected deliver(n: number, firstThrow: unknown): unknown {
    const out = this.out;
    const table = this.table;
    const cbs = this.cbs;
    const bKind = this.bKind;
    const bCb = this.bCb;
    const bErr = this.bErr;
    const bDw0 = this.bDw0;
    const timedOut = this.timedOut;
    const cids = this.cids;
    for (let i = 0; i < n; i++) {
      const o = i * OUT_STRIDE;
      const slotField = out[o + OUT_SLOT]!;
      if ((slotField & OUT_SLOT_AEN) !== 0) {
        bKind[i] = KIND_AEN;
        bDw0[i] = out[o + OUT_DW0]!;
        continue;
      }
      const k = cids ? cids.keyOf(out[o + OUT_CID]!) : slotField;
      const cb = k < 0 ? undefined : cbs[k];
      if (cb === undefined) {
        bKind[i] = KIND_UNKNOWN;
        continue;
      }
      cbs[k] = undefined; // detached before any callback runs
      const sf = out[o + OUT_STATUS]!;
      // Errors are made here, while opcodes[k] and timedOut[k] are still this command's.
      const err = sf === 0 && timedOut[k] === 0 ? null : this.completionError(k, sf, out[o + OUT_CID]!);
      if (cb === PROMISE_CB) {
        bKind[i] = KIND_DONE;
        try {
          table.finish(k, err, out[o + OUT_DW0]!);
        } catch (e) {
          firstThrow ??= e; // its cleanup threw (the promise is settled all the same)
        }
        continue;
      }
      bKind[i] = KIND_CB;
      bCb[i] = cb;
      bErr[i] = err;
      bDw0[i] = out[o + OUT_DW0]!;
    }
    // Before pass 2: its callbacks may submit into these very slots.
    if (this.sampler.pending) this.sampler.completed(cbs);
    for (let i = 0; i < n; i++) {
      const kind = bKind[i];
      if (kind === KIND_CB) {
        const cb = bCb[i]!;
        const err = bErr[i]!;
        bCb[i] = undefined;
        if (err !== null) bErr[i] = null;
        try {
          cb(err, bDw0[i]!);
        } catch (e) {
          firstThrow ??= e;
        }
      } else if (kind === KIND_UNKNOWN) {
        this.onUnknown();
      } else if (kind === KIND_AEN) {
        try {
          this.onAsyncEvent(bDw0[i]!);
        } catch (e) {
          firstThrow ??= e;
        }
      }
    }
    return firstThrow;
  }

  /** The error command `k` (cid `cid`) completed with, status field `sf`; null for success. */
  private completionError(k: number, sf: number, cid: number): Error | null {
    const t = this.table;
    let err: Error | null = sf === 0 ? null : statusError(sf, t.opcodes[k]!, cid, this.qid);
    if (t.timedOut[k]) {
      t.timedOut[k] = 0;
      // Aborted after its deadline: the caller sees the timeout, not the abort.
      if (sfCode(sf) === SF_ABORT_REQUESTED) err = this.expiry.timeoutError(k, cid, 'aborted');
    }
    return err;
  }

  /**
   * The cid of the command the last guard() posted, read while it could not
   * have completed yet (on the shared admin queue: inside the lock, before
   * another process can reap it and reuse its slot).
   */
  protected lastCid = 0;

  /** Post through the core (the admin queue takes the group lock around it). */
  protected guard(submit: () => number): number {
    if (this.suspended) return CoreStatus.NoSlot; // parked until the reset is over
    const r = submit();
    if (r >= 0) this.lastCid = this.core.slotCid(this.desc, r);
    return r;
  }

  protected ringNow(): void {
    this.sampler.newBatch();
    this.core.qpRing(this.desc);
    this.wire?.kick();
  }

  // ---- Promise path (qpair-promise.ts) ----

  /**
   * Submit through `submit` (which calls the core and returns its result)
   * and resolve with the completion's dword 0. A full queue parks the
   * submission until slots free up. `cleanup` runs when the command is done
   * with its buffers: on completion, never on timeout (the device may still
   * write them). The command's record is its row of the command table:
   * nothing is allocated for it but the promise (and `submit`, the
   * caller's), unless it has to park.
   */
  run(opcode: number, what: string, submit: () => number, cleanup?: Cleanup, opts?: { timeoutMs?: number; background?: boolean }): Promise<number> {
    return this.promises.run(opcode, what, submit, cleanup, opts);
  }

  /**
   * run() for a Read, Write or Compare of an I/O queue pair into a DMA
   * buffer, without a `submit` closure: posted at once when it can be, so
   * nothing is allocated but the promise. The deadline (if `timeoutMs`, or
   * the queue pair's default, is not 0) is stamped by the next timeout scan,
   * as on the callback path: it may expire up to TIMEOUT_SCAN_MS late,
   * never early.
   */
  protected runRw(opc: number, what: string, nsid: number, lba: number, blocks: number, at: number, len: number, flags: number, timeoutMs: number | undefined): Promise<number> {
    return this.promises.runRw(opc, what, nsid, lba, blocks, at, len, flags, timeoutMs);
  }

  /** A batch of `count` commands behind one promise (host/batch.ts): `post(i)` posts command i. */
  protected runBatch(count: number, opcode: number, what: string, post: (i: number) => number): Promise<void> {
    return this.promises.runBatch(count, opcode, what, post);
  }

  /** Post parked submissions, oldest first, until one finds the queue full (not from inside a poll). */
  protected drainWaiters(): void {
    this.promises.drainWaiters();
  }

  // ---- PollTarget: what the Promise poller asks ----

  get hasWaiters(): boolean {
    return this.promises.hasWaiters;
  }

  get hasBackground(): boolean {
    return this.promises.hasBackground;
  }

  /**
   * One poll of the Promise poller: reap, then, if `scan` (the poller asks
   * every few polls, so the clock is not read per poll), every
   * TIMEOUT_SCAN_MS liveness and deadlines.
   */
  pollOnce(scan: boolean): number {
    return this.promises.pollOnce(scan);
  }

  /** What the Promise path's poller did: polls, sleeps on the interrupt, interrupt wake-ups. */
  get completionWaits(): PollerCounters {
    return this.promises.completionWaits;
  }

  /**
   * The interrupt this queue pair's completions raise, if it has one
   * (completionMode 'interrupt' or 'adaptive' where the transport has
   * vectors), for an application that reaps on the callback path and wants
   * to sleep while commands are on the device (the NVMe-oF target's poll
   * groups): `const t = irq.arm()`, processCompletions() once more (it reaps
   * what came before the arming), then `await irq.wait(t, ms)`. Not while
   * Promise-path commands of this queue pair are pending: their poller uses
   * the same source. Undefined: poll.
   */
  get interrupt(): InterruptSource | undefined {
    return this.promises.interrupt;
  }

  // ---- deadlines, failure, reset ----

  /** Scan for commands past their deadline (at most every TIMEOUT_SCAN_MS; qpair-timeouts.ts). */
  checkTimeouts(now: number): void {
    this.pollsSinceScan = 0;
    if (!this.suspended) this.expiry.scan(now);
  }

  /** End every outstanding command with `err` (past-deadline ones with a timeout error naming `recovery`). */
  private failOutstanding(err: Error, recovery: TimeoutRecovery): void {
    this.expiry.failOutstanding(err, recovery);
  }

  /**
   * Fail every Promise-path command with `err` and refuse new ones (the
   * controller died or the queue pair is being torn down). Callback-path
   * commands get `err` through their callbacks.
   */
  failAll(err: Error): void {
    this.closedError = err;
    this.suspended = false;
    this.promises.poller.closeSleep(); // ends a sleep too: the loop sees closedError
    this.failOutstanding(err, 'failed');
    this.promises.failParked(); // each fails fast: closedError is set
  }

  /**
   * A controller reset began: every outstanding command ends with `err`
   * (those past their deadline with an NvmeTimeoutError), submissions
   * wait (Promise path) or report a full queue (callback path) until
   * resume(). The caller resets the rings (qpReset) before resuming.
   */
  suspend(err: Error): void {
    if (this.closedError) return;
    this.suspended = true;
    this.promises.poller.cancelSleep(); // the loop sees isSuspended and goes to the slow pace
    this.failOutstanding(err, 'reset');
  }

  /** The queue exists again on the controller: submissions go on. */
  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.drainWaiters();
    this.promises.poller.resumed();
  }

  /** Command `cid` is still outstanding here (not completed, not failed). */
  isWaitingFor(cid: number): boolean {
    const k = this.cids ? this.cids.keyOf(cid) : cid & ((1 << this.slotBits) - 1);
    if (k < 0 || k >= this.table.size || !this.table.has(k)) return false;
    return this.keyByCid || this.core.slotCid(this.desc, k) === cid;
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Submissions parked, waiting for slots (or, on the shared admin queue, for the lock). */
  protected get parked(): number {
    return this.promises.parked;
  }

  /** Waiting for a lock another process holds (the shared admin queue): the poller goes slow meanwhile. */
  get isLockWaiting(): boolean {
    return false;
  }

  /** Back to polling at the normal pace (after a wait the poller slowed down for). */
  protected pollAgain(): void {
    this.promises.poller.resumed();
  }

  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** For submitters that post before tracking: throws when closed, true while a reset holds submissions. */
  protected held(): boolean {
    if (this.closedError) throw this.closedError;
    return this.suspended;
  }
}
