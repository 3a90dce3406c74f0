// perf's I/O engine: one queue pair per namespace (of one or several
// controllers, all polled by this one thread), `qd` commands kept in
// flight on each, issued through the low-overhead callback path
// (IoQueuePair.submitRead/submitWrite, then processCompletions in a loop)
// into DMA buffers allocated once (zero copy). The loop polls for ~50 ms at
// a time, then yields to the event loop (setImmediate) so progress lines,
// signals and timers run.
//
// Latency: one clock read per poll iteration that reaps (a per-batch
// timestamp, read by the first completion of the iteration), shared by
// every command reaped and resubmitted in it; an empty poll reads no clock,
// as the minimal C drivers in bench/native do. An I/O's latency is the time
// between the iteration that submitted it and the one that reaped it: exact
// to within one iteration, at one clock read per batch. (A clock read is
// not always cheap: in the QEMU guests of bench:vm the clocksource is the
// HPET, and performance.now() costs about 5 us, 2026-12-01: read every
// poll, it set the QD1 latency.)
import type { Controller } from '../../controller.js';
import type { Namespace } from '../../namespace.js';
import type { IoQueuePair } from '../../io-qpair.js';
import type { DmaBuffer } from '../../dma.js';
import { LatencyStats } from './stats.js';
import { fillPattern, checkPattern, type Mismatch } from './verify.js';

export type Workload = 'read' | 'write' | 'randread' | 'randwrite' | 'rw' | 'randrw';

export interface EngineConfig {
  workload: Workload;
  /** Percentage of reads for rw / randrw (100 for read workloads, 0 for writes). */
  readPct: number;
  queueDepth: number;
  ioSize: number;
  seconds: number;
  verify: boolean;
  /** Called about once per second with the totals of the last interval. */
  onProgress?: (p: Progress) => void;
  /** Called after every poll slice (~50 ms) with the run time so far. */
  onTick?: (elapsedS: number) => void;
}

export interface Progress {
  elapsedS: number;
  /** Run time planned (-t). */
  totalS: number;
  iops: number;
  mibps: number;
  avgLatencyUs: number;
}

/** Most units (I/O-size slices of a namespace) --verify tracks: 4 bytes of state each. */
export const VERIFY_MAX_UNITS = 1 << 22;
const SLICE_MS = 50;
const POLLS_PER_CLOCK_CHECK = 64;

interface Slot {
  buf: DmaBuffer;
  words: Uint32Array;
  lba: number;
  unit: number;
  isRead: boolean;
  seq: number;
  /** performance.now() of the iteration that submitted it. */
  submittedAt: number;
  cb: (err: Error | null) => void;
}

export class NsJob {
  readonly readLatency = new LatencyStats();
  readonly writeLatency = new LatencyStats();
  reads = 0;
  writes = 0;
  errors = 0;
  firstError: Error | undefined;
  /** Completed I/Os in the current progress interval (and their latency sum). */
  intervalIos = 0;
  intervalLatNs = 0;
  // --verify state
  mismatches = 0;
  readonly mismatchSamples: Mismatch[] = [];
  checked = 0;
  unchecked = 0;
  private expected: Uint32Array | undefined;
  private busy: Uint8Array | undefined;
  private seq = 0;

  readonly slots: Slot[] = [];
  readonly blocksPerIo: number;
  readonly units: number;
  private nextUnit = 0;
  private rng: number;
  private readonly blockWords: number;
  private readonly random: boolean;
  private readonly readThreshold: number;

  constructor(
    private readonly engine: PerfEngine,
    readonly ctrl: Controller,
    readonly ns: Namespace,
    readonly qp: IoQueuePair,
    private readonly cfg: EngineConfig,
  ) {
    this.blocksPerIo = cfg.ioSize / ns.blockSize;
    this.blockWords = ns.blockSize / 4;
    let units = Math.floor(ns.blocks / this.blocksPerIo);
    if (cfg.verify) {
      units = Math.min(units, VERIFY_MAX_UNITS);
      this.expected = new Uint32Array(units);
      this.busy = new Uint8Array(units);
    }
    this.units = units;
    this.random = cfg.workload.startsWith('rand');
    this.readThreshold = cfg.readPct / 100;
    this.rng = (0x9e3779b9 ^ (ns.id * 0x85ebca6b)) >>> 0 || 1;
  }

  /** Reads and writes together. */
  get latency(): LatencyStats {
    const l = new LatencyStats();
    l.merge(this.readLatency);
    l.merge(this.writeLatency);
    return l;
  }

  allocate(): void {
    for (let i = 0; i < this.cfg.queueDepth; i++) {
      const buf = this.ctrl.allocDma(this.cfg.ioSize, { align: 4096 });
      const slot: Slot = {
        buf, words: new Uint32Array(buf.bytes.buffer, buf.bytes.byteOffset, buf.length >>> 2),
        lba: 0, unit: 0, isRead: true, seq: 0, submittedAt: 0, cb: () => {},
      };
      slot.cb = (err) => this.complete(slot, err);
      this.slots.push(slot);
    }
  }

  free(): void {
    for (const s of this.slots) s.buf.free();
    this.slots.length = 0;
  }

  /** xorshift32: cheap, and reproducible per namespace. */
  private rand(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }

  private pickUnit(): number {
    if (!this.random) {
      const u = this.nextUnit;
      this.nextUnit = u + 1 === this.units ? 0 : u + 1;
      return u;
    }
    return this.units <= 2 ** 32 ? this.rand() % this.units : Math.floor((this.rand() / 2 ** 32) * this.units);
  }

  /** Submit the next I/O into `slot`. False when the engine is stopping or nothing can be issued now. */
  issue(slot: Slot): boolean {
    if (this.engine.stopping) return false;
    let unit = this.pickUnit();
    const busy = this.busy;
    if (busy) {
      // --verify: never two commands on one unit at once (their order would be undefined).
      for (let tries = 0; busy[unit] === 1; tries++) {
        if (tries > 64) return false;
        unit = this.pickUnit();
      }
      busy[unit] = 1;
    }
    const isRead = this.readThreshold >= 1 ? true : this.readThreshold <= 0 ? false : this.rand() / 2 ** 32 < this.readThreshold;
    slot.unit = unit;
    slot.lba = unit * this.blocksPerIo;
    slot.isRead = isRead;
    slot.submittedAt = this.engine.stamp();
    if (!isRead && this.expected) {
      slot.seq = ++this.seq;
      fillPattern(slot.words, slot.lba, this.blocksPerIo, this.blockWords, slot.seq, this.ns.id);
    }
    const ok = isRead ? this.qp.submitRead(this.ns, slot.lba, slot.buf, slot.cb) : this.qp.submitWrite(this.ns, slot.lba, slot.buf, slot.cb);
    if (!ok && busy) busy[unit] = 0;
    return ok;
  }

  /** Read back `unit` (the final --verify pass). */
  issueReadBack(slot: Slot, unit: number): boolean {
    slot.unit = unit;
    slot.lba = unit * this.blocksPerIo;
    slot.isRead = true;
    slot.submittedAt = this.engine.stamp();
    this.busy![unit] = 1;
    return this.qp.submitRead(this.ns, slot.lba, slot.buf, slot.cb);
  }

  private complete(slot: Slot, err: Error | null): void {
    const eng = this.engine;
    if (err) {
      this.errors++;
      this.firstError ??= err;
    } else if (eng.counting) {
      const ns = (eng.stamp() - slot.submittedAt) * 1e6;
      this.intervalIos++;
      this.intervalLatNs += ns;
      if (slot.isRead) {
        this.reads++;
        this.readLatency.record(ns);
      } else {
        this.writes++;
        this.writeLatency.record(ns);
      }
    }
    if (this.expected) {
      if (!err) {
        if (slot.isRead) this.checkRead(slot);
        else this.expected[slot.unit] = slot.seq;
      }
      this.busy![slot.unit] = 0;
    }
    eng.outstanding--;
    if (eng.readBack) return;
    if (this.issue(slot)) eng.outstanding++;
    else eng.idle.push(slot, this);
  }

  private checkRead(slot: Slot): void {
    const seq = this.expected![slot.unit]!;
    if (seq === 0) {
      this.unchecked++; // never written in this run: nothing known to compare with
      return;
    }
    this.checked++;
    const bad = checkPattern(slot.words, slot.lba, this.blocksPerIo, this.blockWords, seq, this.ns.id);
    if (bad) {
      this.mismatches++;
      if (this.mismatchSamples.length < 10) this.mismatchSamples.push(bad);
    }
  }

  /** Units written during the run (for the read-back pass). */
  writtenUnits(): number[] {
    const out: number[] = [];
    const e = this.expected;
    if (e) for (let u = 0; u < e.length; u++) if (e[u] !== 0) out.push(u);
    return out;
  }
}

/** Slots that could not be resubmitted at once (queue full, --verify collisions): retried every poll. */
class IdleList {
  private slots: Slot[] = [];
  private jobs: NsJob[] = [];
  push(s: Slot, j: NsJob): void {
    this.slots.push(s);
    this.jobs.push(j);
  }
  get length(): number {
    return this.slots.length;
  }
  retry(eng: PerfEngine): void {
    const s = this.slots;
    const j = this.jobs;
    this.slots = [];
    this.jobs = [];
    for (let i = 0; i < s.length; i++) {
      if (eng.stopping) return;
      if (j[i]!.issue(s[i]!)) eng.outstanding++;
      else this.push(s[i]!, j[i]!);
    }
  }
}

export class PerfEngine {
  /** performance.now() of the current poll iteration, once stamp() read it (or of the last clock check). */
  now = performance.now();
  /** The current iteration has not read the clock yet. */
  private stale = false;
  stopping = false;
  /** Stopped by stop() (Ctrl-C) before the run, or the --verify read-back, was over. */
  interrupted = false;
  /** Set once the run and the read-back are over: a stop() then changes nothing. */
  done = false;
  counting = false;
  readBack = false;
  outstanding = 0;
  /** Measured run time in seconds (until stop). */
  elapsedS = 0;
  readonly idle = new IdleList();
  readonly jobs: NsJob[] = [];

  /** True when a controller is reached over a fabric: the event loop then gets every round. */
  private fabric = false;

  constructor(private readonly cfg: EngineConfig) {}

  add(ctrl: Controller, ns: Namespace, qp: IoQueuePair): NsJob {
    const job = new NsJob(this, ctrl, ns, qp, this.cfg);
    job.allocate();
    this.jobs.push(job);
    if (ctrl.transport.fabric) this.fabric = true;
    return job;
  }

  /** Stop early (SIGINT): the summary covers the time run so far. */
  stop(): void {
    if (!this.done) this.interrupted = true;
    this.stopping = true;
  }

  /** The clock of this poll iteration: read at the first call in it, then reused. */
  stamp(): number {
    if (this.stale) {
      this.now = performance.now();
      this.stale = false;
    }
    return this.now;
  }

  private pollAll(): void {
    const jobs = this.jobs;
    for (let k = 0; k < POLLS_PER_CLOCK_CHECK; k++) {
      this.stale = true; // a new iteration: its first completion or submission reads the clock
      for (let i = 0; i < jobs.length; i++) jobs[i]!.qp.processCompletions();
      if (this.idle.length > 0) this.idle.retry(this);
    }
    this.stale = false;
    this.now = performance.now(); // the slice's end and the progress lines
  }

  async run(): Promise<void> {
    const t0 = performance.now();
    this.now = t0;
    this.counting = true;
    for (const job of this.jobs) {
      for (const slot of job.slots) {
        if (job.issue(slot)) this.outstanding++;
        else this.idle.push(slot, job);
      }
      job.qp.ring();
    }
    const end = t0 + this.cfg.seconds * 1000;
    let lastProgress = t0;
    while (!this.stopping) {
      // Over NVMe/TCP completions arrive as socket reads: give the event loop every round.
      const sliceEnd = Math.min(this.now + (this.fabric ? 0 : SLICE_MS), end);
      do this.pollAll();
      while (this.now < sliceEnd && !this.stopping);
      if (this.now >= end) this.stopping = true;
      this.cfg.onTick?.((this.now - t0) / 1000);
      if (this.now - lastProgress >= 1000 || (this.stopping && this.now - lastProgress >= 500)) {
        this.progress(this.now - t0, this.now - lastProgress);
        lastProgress = this.now;
      }
      if (this.stopping) break;
      await new Promise((r) => setImmediate(r));
    }
    this.counting = false;
    this.elapsedS = (this.now - t0) / 1000;
    await this.drain();
  }

  private progress(elapsedMs: number, intervalMs: number): void {
    let ios = 0;
    let lat = 0;
    for (const j of this.jobs) {
      ios += j.intervalIos;
      lat += j.intervalLatNs;
      j.intervalIos = 0;
      j.intervalLatNs = 0;
    }
    const s = intervalMs / 1000;
    this.cfg.onProgress?.({ elapsedS: elapsedMs / 1000, totalS: this.cfg.seconds, iops: ios / s, mibps: (ios * this.cfg.ioSize) / 2 ** 20 / s, avgLatencyUs: ios ? lat / ios / 1000 : 0 });
  }

  /** Reap what is still in flight (bounded by the command timeout). */
  private async drain(timeoutMs = 10_000): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (this.outstanding > 0 && performance.now() < end) {
      this.pollAll();
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * --verify: read back every unit written during the run and check it
   * (reads of the run itself only check units written before them).
   */
  async readBackAll(): Promise<number> {
    this.readBack = true;
    this.stopping = true;
    let total = 0;
    for (const job of this.jobs) {
      const units = job.writtenUnits();
      let next = 0;
      const free = [...job.slots];
      const refill = (): void => {
        while (free.length > 0 && next < units.length && !this.interrupted) {
          const slot = free.pop()!;
          if (job.issueReadBack(slot, units[next]!)) {
            next++;
            this.outstanding++;
          } else {
            free.push(slot);
            break;
          }
        }
      };
      // Slots come back through complete(), which does not resubmit in readBack mode.
      for (const slot of job.slots) {
        const cb = slot.cb;
        slot.cb = (err) => {
          cb(err);
          free.push(slot);
        };
      }
      refill();
      const end = performance.now() + 60_000;
      for (let iter = 1; ((next < units.length && !this.interrupted) || this.outstanding > 0) && this.now < end; iter++) {
        this.stale = true;
        job.qp.processCompletions();
        refill();
        this.stale = false;
        this.now = performance.now();
        if (iter % 4096 === 0 || this.fabric) await new Promise((r) => setImmediate(r));
      }
      total += next; // all of them, unless Ctrl-C cut the read-back short
    }
    return total;
  }

  free(): void {
    for (const j of this.jobs) j.free();
  }
}
