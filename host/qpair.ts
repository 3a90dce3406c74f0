// A queue pair as the host drives it: the core posts entries and reaps
// completions; this class keeps what only JavaScript can hold (callbacks,
// promises, deadlines) per command slot.
//
// Two ways in:
// - low overhead: submit with a callback, then processCompletions(max) from
//   your own loop; nothing is allocated per command by the driver, and the
//   SQ doorbell is rung once per processCompletions call (or ring()).
// - Promise: every method returns a Promise; a poller driven by
//   setImmediate reaps completions while any are pending, yielding to the
//   event loop between polls, and the doorbell is rung once per tick.
import {
  OUT_SLOT, OUT_SLOT_AEN, OUT_STATUS, OUT_DW0, OUT_CID, OUT_STRIDE, OUT_MAX, QP_SUBMITTED, QP_COMPLETED, QP_SQ_DB_WRITES,
  QP_CQ_DB_WRITES, QP_BOGUS, QP_SQ_FULL_SEEN, QP_BOGUS_DW2, QP_BOGUS_DW3, QP_SLOT_BITS, QP_HDR_SIZE,
} from '../assembly/abi/qpair.js';
import { CQE_DW3_CID_MASK, CQE_DW3_SF_SHIFT } from '../assembly/nvme/cmd.js';
import {
  ST_TIMEOUTS, ST_LAT_SUM_US, ST_LAT_COUNT, ST_LAT_SAMPLES, ST_HIST, ST_SIZE,
} from '../assembly/abi/stats.js';
import { latencyBucket } from './stats.js';
import { CoreStatus } from '../assembly/abi/status.js';
import {
  SF_SC_SHIFT, SF_SC_MASK, SF_SCT_SHIFT, SF_SCT_MASK, SF_DNR_SHIFT, SF_DNR_MASK, SF_M_SHIFT, SF_M_MASK,
  SF_CRD_SHIFT, SF_CRD_MASK,
} from '../assembly/nvme/cmd.js';
import type { CoreExports } from './core.js';
import { NvmeStatusError, NvmeTimeoutError, ResourceError, InvalidArgumentError, ControllerError, type TimeoutRecovery } from './errors.js';
import { Sct, GenericSc } from '../assembly/nvme/status.js';

/** A command finished: `err` is null on success (an NvmeStatusError, or the reason the queue pair died). */
export type IoCallback = (err: Error | null, dw0: number) => void;

export interface QueuePairInit {
  core: CoreExports;
  memory: WebAssembly.Memory;
  /** Wasm offset of the region window (to read the descriptor's counters). */
  regionOff: number;
  qid: number;
  depth: number;
  nslots: number;
  desc: number;
  maxTransfer: number;
  timeoutMs: number;
  /** Called every few ms while commands wait; throws a ControllerError when the controller is dead. */
  checkAlive?: () => void;
  /**
   * Track commands by cid rather than slot: on the shared admin queue a slot
   * can be reused by another process before its owner has read the
   * completion from its mailbox; the cid (with its generation) cannot.
   */
  keyByCid?: boolean;
  /**
   * A command passed its deadline: the owner decides what to do (Abort, then
   * a controller reset). Without it, the command fails with
   * NvmeTimeoutError at once and its slot stays outstanding.
   */
  onTimeout?: (qp: QueuePair, cid: number, opcode: number, timeoutMs: number) => void;
  /**
   * Region offset of this queue pair's live statistics block (abi/stats.ts),
   * undefined for none. The core counts reads, writes, errors and bytes into
   * it as it polls (the descriptor's QP_STATS, set by whoever made the
   * queue pair); this class adds timeouts and sampled latencies.
   */
  statsOff?: number;
  /**
   * One command in this many (a power of two) gets a submit time and counts
   * in the latency figures; counters are exact whatever it is. 'auto' (the
   * default) adapts it: see SAMPLE_GAP_MIN_MS. A clock read costs about
   * 55 ns here and the driver's whole work for one I/O on the null-I/O
   * simulator about 120 ns: timing every command adds up to two reads to each.
   */
  latencySampling?: number | 'auto';
}

// Indexes of the stats block's f64 fields (abi/stats.ts gives byte offsets).
const S_TIMEOUTS = ST_TIMEOUTS >>> 3;
const S_LAT_SUM = ST_LAT_SUM_US >>> 3;
const S_LAT_COUNT = ST_LAT_COUNT >>> 3;
const S_LAT_SAMPLES = ST_LAT_SAMPLES >>> 3;
const S_HIST = ST_HIST >>> 3;

const FULL = new Set<number>([CoreStatus.SqFull, CoreStatus.NoSlot]);
/** The status field (CQE DW3 bits 31:17) of Command Abort Requested (generic 07h). */
const SF_ABORT_REQUESTED = (Sct.Generic << SF_SCT_SHIFT) | (GenericSc.AbortRequested << SF_SC_SHIFT);
/** Callback-path polls between two looks at the clock for timeouts. */
const POLLS_PER_TIMEOUT_CHECK = 256;
/** Least time between two timeout scans of a queue pair. */
const TIMEOUT_SCAN_MS = 5;
/**
 * Adaptive latency sampling: after a poll that timed sampled commands, the
 * time since the previous such poll halves the share of commands sampled
 * when below SAMPLE_GAP_MIN_MS and doubles it when above SAMPLE_GAP_MAX_MS
 * (every command at most, one in SAMPLE_EVERY_MAX at least). So a queue
 * pair reads the clock for statistics 2,000 to 20,000 times a second, under
 * 0.3% of a core, whatever its IOPS.
 */
const SAMPLE_GAP_MIN_MS = 0.05;
const SAMPLE_GAP_MAX_MS = 0.5;
const SAMPLE_EVERY_MAX = 1024;
/** Back-to-back microtask polls before the Promise poller yields to the event loop. */
const MICRO_POLLS = 32;

export function statusError(sf: number, opcode: number, cid: number, qid: number): NvmeStatusError {
  return new NvmeStatusError(
    (sf >>> SF_SCT_SHIFT) & SF_SCT_MASK,
    (sf >>> SF_SC_SHIFT) & SF_SC_MASK,
    ((sf >>> SF_DNR_SHIFT) & SF_DNR_MASK) === 1,
    opcode,
    cid,
    qid,
    ((sf >>> SF_M_SHIFT) & SF_M_MASK) === 1,
    (sf >>> SF_CRD_SHIFT) & SF_CRD_MASK,
  );
}

/** A CoreStatus from a submission, as the typed error a caller should see. */
export function coreError(st: number, what: string): Error {
  switch (st) {
    case CoreStatus.Misaligned:
      return new InvalidArgumentError(`${what} buffer`, 'a dword (4-byte) aligned DMA buffer');
    case CoreStatus.BadLength:
      return new InvalidArgumentError(`${what} length`, 'a non-zero length within the maximum transfer size');
    case CoreStatus.OutOfRegion:
      return new InvalidArgumentError(`${what} buffer`, "a DMA buffer inside this controller's region");
    case CoreStatus.BadArgument:
      return new InvalidArgumentError(what, 'valid command fields');
    case CoreStatus.SqFull:
    case CoreStatus.NoSlot:
      return new ResourceError(`${what}: queue pair is full`, 'slot');
    default:
      return new Error(`${what}: core status ${CoreStatus[st] ?? st}`);
  }
}

export interface QueuePairStats {
  submitted: number;
  completed: number;
  /** SQ tail doorbell writes: fewer than submitted when batching works. */
  sqDoorbells: number;
  /** CQ head doorbell writes. */
  cqDoorbells: number;
  /** Completions that named no outstanding command (malformed or duplicated). */
  bogusCompletions: number;
  /** Submissions that found the SQ full. */
  sqFull: number;
}

/**
 * A completion the controller posted that names no command waiting on this
 * queue pair (unknown or stale cid, a duplicate, another SQ's id, an SQ head
 * beyond the ring). The driver consumed and ignored it; a command it may
 * have belonged to stays outstanding until its timeout.
 */
export interface BogusCompletion {
  qid: number;
  /** How many this queue pair has seen in all. */
  count: number;
  /** From the last one: */
  sqid: number;
  sqhd: number;
  cid: number;
  statusField: number;
}

export class QueuePair {
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
  private readonly keySpace: number;
  private readonly cbs: Array<IoCallback | undefined>;
  private readonly opcodes: Uint8Array;
  /** Per command: when it times out (0 = not stamped yet: the next scan stamps it). */
  private readonly deadlines: Float64Array;
  /** Per command: its timeout in ms (0 = none). */
  private readonly limits: Float64Array;
  /** Per command: 1 once it passed its deadline and recovery started. */
  private readonly timedOut: Uint8Array;
  /** Settles a Promise-path command early (timeout, dead controller); undefined for callback-path commands. */
  private readonly abandon: Array<((err?: Error) => void) | undefined>;
  private readonly bKey = new Uint32Array(OUT_MAX);
  private readonly bAen = new Uint8Array(OUT_MAX);
  private readonly bStatus = new Uint32Array(OUT_MAX);
  private readonly bDw0 = new Uint32Array(OUT_MAX);
  private readonly bCid = new Uint32Array(OUT_MAX);
  private readonly bCb: Array<IoCallback | undefined> = new Array(OUT_MAX).fill(undefined);
  private readonly checkAlive: (() => void) | undefined;
  private readonly onTimeout: QueuePairInit['onTimeout'];
  /** Controller reset under way: submissions wait, nothing is polled. */
  protected suspended = false;
  private pollsSinceScan = 0;
  private readonly descView: DataView;
  private bogusSeen = 0;
  // Live statistics (undefined when off): the core counts commands and bytes
  // as it polls; here, timeouts and latency. Latency needs a sampled
  // command's submit time: kept per key here (the owner is the only
  // writer), taken from one clock read per batch: the first sampled
  // submission after a doorbell reads the clock, the others of its batch
  // reuse it; commands submitted by completion callbacks use the poll's
  // clock. The keys of sampled commands in flight are listed, so a poll
  // looks at those few, not at every completion.
  private readonly st: Float64Array | undefined;
  private readonly stStamp: Float64Array | undefined;
  /** The commands a sampled command stands for: those since the previous sampled one, itself included. */
  private readonly stWeight: Uint16Array | undefined;
  private readonly stKeys: Uint32Array | undefined;
  private stSampled = 0;
  /** One command in stShare is sampled. */
  private stShare: number;
  /** Commands until the next sampled one; negative (never reaching 0) without statistics. */
  private stCountdown: number;
  /** xorshift32 state for the gaps between sampled commands. */
  private stRng: number;
  /** The gap drawn at the last sample: what the next sampled command stands for. */
  private stGap = 1;
  private readonly stAdaptive: boolean;
  /** When the last poll that timed sampled commands read the clock (adaptive sampling). */
  private stLastSample = 0;
  private stNow = 0;
  private stFresh = false;
  /** Called after a poll that met malformed completions. */
  onBogus: ((b: BogusCompletion) => void) | undefined;
  protected inPoll = false;
  private pending = 0; // Promise-path commands keeping the poller hot
  private background = 0; // Promise-path commands that may wait forever (AER)
  /** 0: no poll scheduled; 1: setImmediate (commands pending); 2: a lazy unref'd timer (only long waits). */
  private pollMode = 0;
  private lazyTimer: NodeJS.Timeout | undefined;
  private ringScheduled = false;
  private waiters: Array<() => boolean> = [];
  private lastTimeoutScan = 0;
  private closedError: Error | undefined;

  constructor(init: QueuePairInit) {
    this.core = init.core;
    this.qid = init.qid;
    this.depth = init.depth;
    this.slots = init.nslots;
    this.desc = init.desc;
    this.maxTransfer = init.maxTransfer;
    this.timeoutMs = init.timeoutMs;
    this.checkAlive = init.checkAlive;
    this.out = new Uint32Array(init.memory.buffer, init.core.outPtr(), OUT_MAX * OUT_STRIDE);
    this.keyByCid = init.keyByCid === true;
    this.keySpace = this.keyByCid ? 65536 : init.nslots;
    this.cbs = new Array(this.keySpace).fill(undefined);
    this.opcodes = new Uint8Array(this.keySpace);
    this.deadlines = new Float64Array(this.keySpace);
    this.limits = new Float64Array(this.keySpace);
    this.timedOut = new Uint8Array(this.keySpace);
    this.onTimeout = init.onTimeout;
    this.abandon = new Array(this.keySpace).fill(undefined);
    this.descView = new DataView(init.memory.buffer, init.regionOff + init.desc, QP_HDR_SIZE);
    const sampling = init.latencySampling ?? 'auto';
    this.stAdaptive = sampling === 'auto';
    this.stShare = sampling === 'auto' ? 1 : sampling; // adaptive: start by timing every command
    this.stCountdown = init.statsOff !== undefined ? 1 : -1;
    this.stRng = (0x9e3779b9 ^ (init.qid * 0x85ebca6b)) >>> 0 || 1;
    if (init.statsOff !== undefined) {
      this.st = new Float64Array(init.memory.buffer, init.regionOff + init.statsOff, ST_SIZE >>> 3);
      this.stStamp = new Float64Array(this.keySpace);
      this.stWeight = new Uint16Array(this.keySpace);
      this.stKeys = new Uint32Array(this.keySpace);
    }
  }

  /** Counters the core keeps in the queue pair's descriptor. */
  get stats(): QueuePairStats {
    const g = (o: number) => this.descView.getUint32(o, true);
    return {
      submitted: g(QP_SUBMITTED),
      completed: g(QP_COMPLETED),
      sqDoorbells: g(QP_SQ_DB_WRITES),
      cqDoorbells: g(QP_CQ_DB_WRITES),
      bogusCompletions: g(QP_BOGUS),
      sqFull: g(QP_SQ_FULL_SEEN),
    };
  }

  /** Commands submitted and not completed (timed-out ones included until they complete). */
  get outstanding(): number {
    return this.core.qpOutstanding(this.desc);
  }

  /** Times a submission found the SQ full (CQE.SQHD had not moved past it). */
  get sqFullCount(): number {
    return this.core.qpSqFullSeen(this.desc);
  }

  /**
   * Record a submitted command (`r` is what the core returned). Returns
   * false when the queue is full, throws for a rejected submission.
   */
  protected track(r: number, opcode: number, cb: IoCallback, what: string): boolean {
    if (r >= 0) {
      const k = this.keyByCid ? this.lastCid : r;
      this.cbs[k] = cb;
      this.opcodes[k] = opcode;
      // No clock read per command: the next timeout scan stamps the deadline.
      this.deadlines[k] = 0;
      this.limits[k] = this.timeoutMs;
      this.timedOut[k] = 0;
      if (--this.stCountdown === 0) this.sample(k); // the JavaScript side of statistics, per unsampled command: one decrement
      return true;
    }
    if (FULL.has(r)) return false;
    throw coreError(r, what);
  }

  /**
   * Time command `k` for the latency statistics. It stands for the commands
   * since the previous timed one (so the figures' count follows the
   * commands done exactly, whatever the share did meanwhile). The next
   * timed command is 1 to 2 * stShare - 1 commands on, at random (stShare
   * on average): a fixed stride would pick the same place in every batch of
   * a steady workload (at QD 32 and a share of 512, always the same one of
   * the 32), and the place in a batch decides much of a command's latency.
   */
  private sample(k: number): void {
    let x = this.stRng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.stRng = x >>> 0;
    this.stWeight![k] = this.stGap;
    this.stGap = 1 + (this.stRng % (2 * this.stShare - 1));
    this.stCountdown = this.stGap;
    if (!this.stFresh) {
      this.stNow = performance.now();
      this.stFresh = true; // until the doorbell: the batch shares this time
    }
    this.stStamp![k] = this.stNow;
    this.stKeys![this.stSampled++] = k;
  }

  /** Ring the SQ tail doorbell for everything submitted since the last ring. */
  ring(): void {
    this.stFresh = false;
    this.core.qpRing(this.desc);
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
    this.stFresh = false; // a new batch starts
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
    core.qpRing(desc); // what the callbacks submitted
    this.stFresh = false;
    if (this.waiters.length > 0) this.drainWaiters();
    this.checkBogus();
    if (firstThrow !== undefined) throw firstThrow;
    return total;
  }

  /** Report malformed completions the core consumed since the last look (one counter read). */
  protected checkBogus(): void {
    const count = this.descView.getUint32(QP_BOGUS, true);
    if (count === this.bogusSeen) return;
    this.bogusSeen = count;
    const dw2 = this.descView.getUint32(QP_BOGUS_DW2, true);
    const dw3 = this.descView.getUint32(QP_BOGUS_DW3, true);
    this.onBogus?.({ qid: this.qid, count, sqid: dw2 >>> 16, sqhd: dw2 & 0xffff, cid: dw3 & CQE_DW3_CID_MASK, statusField: dw3 >>> CQE_DW3_SF_SHIFT });
  }

  /** A completion arrived for no command this process has outstanding. */
  protected onUnknown(): void {}

  /** An asynchronous event's completion dword 0 reached this process (admin queue). */
  protected onAsyncEvent(_dw0: number): void {}

  /**
   * Hand `n` OUT records to their callbacks. Pass 1 copies the records and
   * detaches the callbacks, so a callback that submits (and reuses a slot of
   * this batch) cannot be confused; pass 2 calls them. Returns the first
   * exception a callback threw (the others still run).
   */
  protected deliver(n: number, firstThrow: unknown): unknown {
    const out = this.out;
    for (let i = 0; i < n; i++) {
      const o = i * OUT_STRIDE;
      const slotField = out[o + OUT_SLOT]!;
      const k = this.keyByCid ? out[o + OUT_CID]! : slotField;
      this.bKey[i] = k;
      this.bStatus[i] = out[o + OUT_STATUS]!;
      this.bDw0[i] = out[o + OUT_DW0]!;
      this.bCid[i] = out[o + OUT_CID]!;
      this.bAen[i] = (slotField & OUT_SLOT_AEN) !== 0 ? 1 : 0;
      if (this.bAen[i]) continue;
      this.bCb[i] = this.cbs[k];
      this.cbs[k] = undefined;
      this.abandon[k] = undefined;
    }
    // Before pass 2: its callbacks may submit into these very slots.
    if (this.stSampled !== 0) this.sampleLatency();
    for (let i = 0; i < n; i++) {
      if (this.bAen[i]) {
        try {
          this.onAsyncEvent(this.bDw0[i]!);
        } catch (e) {
          firstThrow ??= e;
        }
        continue;
      }
      const cb = this.bCb[i];
      this.bCb[i] = undefined;
      if (!cb) {
        this.onUnknown();
        continue;
      }
      const sf = this.bStatus[i]!;
      const k = this.bKey[i]!;
      let err: Error | null = sf === 0 ? null : statusError(sf, this.opcodes[k]!, this.bCid[i]!, this.qid);
      if (this.timedOut[k]) {
        this.timedOut[k] = 0;
        // Aborted after its deadline: the caller sees the timeout, not the abort.
        if ((sf & ~((SF_DNR_MASK << SF_DNR_SHIFT) | (SF_M_MASK << SF_M_SHIFT) | (SF_CRD_MASK << SF_CRD_SHIFT))) === SF_ABORT_REQUESTED) {
          err = this.timeoutError(k, this.bCid[i]!, 'aborted');
        }
      }
      try {
        cb(err, this.bDw0[i]!);
      } catch (e) {
        firstThrow ??= e;
      }
    }
    return firstThrow;
  }

  /**
   * Latency of the sampled commands this batch completed (after deliver's
   * pass 1, which detached their callbacks): one clock read for the batch,
   * plain stores into the shared block (this process is its only writer).
   * Commands the callbacks submit next reuse this clock reading as their
   * submit time.
   */
  private sampleLatency(): void {
    const st = this.st!;
    const stamp = this.stStamp!;
    const weight = this.stWeight!;
    const keys = this.stKeys!;
    const cbs = this.cbs;
    let now = -1; // read once, and only if a sampled command completed
    let latSum = 0;
    let latCount = 0;
    let samples = 0;
    for (let i = 0; i < this.stSampled; ) {
      const k = keys[i]!;
      if (cbs[k] !== undefined) {
        i++; // still in flight
        continue;
      }
      if (now < 0) {
        now = performance.now();
        this.stNow = now;
        this.stFresh = true;
      }
      // Whole microseconds (one clock: never negative).
      const us = (now - stamp[k]!) * 1000; // one clock: never negative
      const w = weight[k]!;
      // The bucket from whole microseconds; the sum exact (whole ones would
      // lose half a microsecond per command, a sixth of a 3 us latency).
      st[S_HIST + latencyBucket(us >>> 0)] += w;
      latSum += us * w;
      latCount += w;
      samples++;
      keys[i] = keys[--this.stSampled]!; // unordered list: the last fills the gap
    }
    if (samples === 0) return;
    st[S_LAT_SUM] += latSum;
    st[S_LAT_COUNT] += latCount;
    st[S_LAT_SAMPLES] += samples;
    if (this.stAdaptive) {
      const gap = now - this.stLastSample;
      this.stLastSample = now;
      if (gap < SAMPLE_GAP_MIN_MS) {
        if (this.stShare < SAMPLE_EVERY_MAX) this.stShare *= 2;
      } else if (gap > SAMPLE_GAP_MAX_MS && this.stShare > 1) this.stShare /= 2;
    }
  }

  /** Commands in how many get timed for the latency statistics now (1: every one). */
  get latencySamplingNow(): number {
    return this.stShare;
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
    this.stFresh = false;
    this.core.qpRing(this.desc);
  }

  // ---- Promise path ----

  /**
   * Submit through `submit` (which calls the core and returns its result)
   * and resolve with the completion's dword 0. A full queue parks the
   * submission until slots free up. `cleanup` runs when the command is done
   * with its buffers: on completion, never on timeout (the device may still
   * write them).
   */
  run(opcode: number, what: string, submit: () => number, cleanup?: (err: Error | null) => void, opts: { timeoutMs?: number; background?: boolean } = {}): Promise<number> {
    if (this.closedError) {
      cleanup?.(this.closedError);
      return Promise.reject(this.closedError);
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const bg = opts.background === true;
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        if (bg) this.background--;
        else this.pending--;
        return true;
      };
      const cb: IoCallback = (err, dw0) => {
        cleanup?.(err);
        if (!settle()) return;
        if (err) reject(err);
        else resolve(dw0);
      };
      const attempt = (): boolean => {
        if (this.closedError) {
          cleanup?.(this.closedError);
          if (settle()) reject(this.closedError);
          return true;
        }
        let r: number;
        try {
          r = this.guard(submit);
          if (!this.track(r, opcode, cb, what)) return false;
        } catch (e) {
          cleanup?.(e as Error);
          if (settle()) reject(e);
          return true;
        }
        const cid = this.lastCid;
        const k = this.keyByCid ? cid : r;
        this.limits[k] = timeoutMs;
        this.deadlines[k] = timeoutMs > 0 ? performance.now() + timeoutMs : 0;
        this.abandon[k] = (err?: Error) => {
          if (settle()) reject(err ?? this.timeoutError(k, cid, undefined));
        };
        this.scheduleRing();
        return true;
      };
      if (bg) this.background++;
      else this.pending++;
      if (this.waiters.length > 0 || !attempt()) this.waiters.push(attempt);
      this.ensurePolling();
    });
  }

  protected drainWaiters(): void {
    while (this.waiters.length > 0 && !this.inPoll) {
      if (!this.waiters[0]!()) break;
      this.waiters.shift();
    }
  }

  private scheduleRing(): void {
    if (this.ringScheduled) return;
    this.ringScheduled = true;
    queueMicrotask(() => {
      this.ringScheduled = false;
      this.ringNow();
    });
  }

  /** Polls run back to back in microtasks since the event loop last had a turn. */
  private microPolls = 0;

  private ensurePolling(): void {
    if (this.closedError) return;
    if (this.suspended) {
      // A reset is under way: look again in a while, not in a hot loop.
      if (this.pollMode !== 0) return;
      this.pollMode = 2;
      this.lazyTimer = setTimeout(this.tick, 2);
      if (this.pending === 0 && this.waiters.length === 0) this.lazyTimer.unref();
      return;
    }
    if (this.pending > 0 || this.waiters.length > 0) {
      if (this.pollMode === 1) return;
      // A lazy timer is unref'd: it would not keep the process alive for
      // commands someone awaits. Replace it.
      if (this.pollMode === 2) clearTimeout(this.lazyTimer);
      this.pollMode = 1;
      // Poll again in a microtask, after the continuations of what we just
      // completed have submitted their next commands: a turn of the event
      // loop costs microseconds. Every MICRO_POLLS polls, give the event
      // loop its turn (timers, I/O, other work) with setImmediate.
      if (this.microPolls < MICRO_POLLS) {
        this.microPolls++;
        queueMicrotask(this.tick);
      } else {
        this.microPolls = 0;
        setImmediate(this.tick);
      }
    } else if (this.background > 0 && this.pollMode === 0) {
      // Only long waits (asynchronous events) outstanding: poll lazily.
      this.pollMode = 2;
      this.lazyTimer = setTimeout(this.tick, 10).unref();
    }
  }

  private readonly tick = (): void => {
    this.pollMode = 0;
    if (this.closedError) return;
    try {
      this.processCompletions();
    } catch (e) {
      if (e instanceof ControllerError) {
        this.failAll(e);
        return;
      }
      // A user callback threw: report it like an unhandled exception, keep polling.
      queueMicrotask(() => {
        throw e;
      });
    }
    const now = performance.now();
    if (now - this.lastTimeoutScan >= TIMEOUT_SCAN_MS) {
      try {
        this.checkAlive?.();
      } catch (e) {
        this.failAll(e as Error); // the controller fails its other queue pairs too
        return;
      }
      this.checkTimeouts(now);
    }
    this.ensurePolling();
  };

  /** Scan for commands past their deadline (at most every TIMEOUT_SCAN_MS). */
  checkTimeouts(now: number): void {
    this.pollsSinceScan = 0;
    if (now - this.lastTimeoutScan < TIMEOUT_SCAN_MS || this.suspended) return;
    this.lastTimeoutScan = now;
    for (let k = 0; k < this.keySpace; k++) {
      if (this.cbs[k] === undefined || this.timedOut[k] || this.limits[k] === 0) continue;
      const d = this.deadlines[k]!;
      if (d === 0) this.deadlines[k] = now + this.limits[k]!; // a callback-path command: stamp it now
      else if (d <= now) this.expired(k);
    }
  }

  /**
   * Command `k` passed its deadline. With an owner's handler, recovery
   * starts (Abort, then a reset) and the command ends when recovery does:
   * its buffers are never handed back while the device may still use them.
   * Without one, a Promise-path command fails now and its slot stays
   * outstanding (its cid is not reused) until the completion comes.
   */
  private expired(k: number): void {
    const cid = this.keyByCid ? k : this.core.slotCid(this.desc, k);
    if (this.st !== undefined) this.st[S_TIMEOUTS]++;
    if (this.onTimeout) {
      this.timedOut[k] = 1;
      this.onTimeout(this, cid, this.opcodes[k]!, this.limits[k]!);
      return;
    }
    this.timedOut[k] = 1; // once: the slot stays outstanding
    const a = this.abandon[k];
    if (a) {
      this.abandon[k] = undefined;
      a();
    }
  }

  private timeoutError(k: number, cid: number, recovery: TimeoutRecovery | undefined): NvmeTimeoutError {
    const opcode = this.opcodes[k]!;
    return new NvmeTimeoutError(`${this.qid === 0 ? 'admin' : 'I/O'} command (qid ${this.qid} cid ${cid})`, this.limits[k]!, opcode, cid, this.qid, recovery);
  }

  /**
   * End every outstanding command with `err`, or, for commands already
   * past their deadline, with an NvmeTimeoutError naming `recovery`.
   */
  private failOutstanding(err: Error, recovery: TimeoutRecovery): void {
    this.stSampled = 0; // their latency would be the recovery's, not the device's
    for (let k = 0; k < this.keySpace; k++) {
      const a = this.abandon[k];
      this.abandon[k] = undefined;
      const cb = this.cbs[k];
      this.cbs[k] = undefined;
      if (!a && !cb) continue;
      let e = err;
      if (this.timedOut[k]) {
        this.timedOut[k] = 0;
        e = this.timeoutError(k, this.keyByCid ? k : this.core.slotCid(this.desc, k), recovery);
      }
      if (a) a(e);
      if (cb) {
        try {
          cb(e, 0);
        } catch {
          /* the command is gone either way */
        }
      }
    }
  }

  /**
   * Fail every Promise-path command with `err` and refuse new ones (the
   * controller died or the queue pair is being torn down). Callback-path
   * commands get `err` through their callbacks.
   */
  failAll(err: Error): void {
    this.closedError = err;
    this.suspended = false;
    this.failOutstanding(err, 'failed');
    const w = this.waiters;
    this.waiters = [];
    for (const attempt of w) attempt(); // each fails fast: closedError is set
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
    this.failOutstanding(err, 'reset');
  }

  /** The queue exists again on the controller: submissions go on. */
  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    if (this.pollMode === 2) {
      clearTimeout(this.lazyTimer);
      this.pollMode = 0;
    }
    this.drainWaiters();
    this.ensurePolling();
  }

  /** Command `cid` is still outstanding here (not completed, not failed). */
  isWaitingFor(cid: number): boolean {
    const k = this.keyByCid ? cid : cid & ((1 << this.descView.getUint32(QP_SLOT_BITS, true)) - 1);
    if (k >= this.keySpace || this.cbs[k] === undefined) return false;
    return this.keyByCid || this.core.slotCid(this.desc, k) === cid;
  }

  get isSuspended(): boolean {
    return this.suspended;
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
