// Runs op sequences against the Wasm core on a real shared region, with the
// fuzz device as the controller and the reference model as the oracle, and
// checks the state after every step. fuzz() wraps it in fast-check: rounds of
// generated (config, ops) pairs; a failure is shrunk to a minimal sequence.
import fc from 'fast-check';
import { makeHarness, type Harness } from '../helpers/core-harness.js';
import { IOVA_BASE } from '../../host/transport.js';
import { HDR_HEAP_OFF } from '../../assembly/abi/region.js';
import { ST_SIZE } from '../../assembly/abi/stats.js';
import { qpDescriptorSize, OUT_STRIDE, OUT_SLOT, OUT_STATUS, OUT_DW0, OUT_CID } from '../../assembly/abi/qpair.js';
import { RingModel, PAGE, OUT_MAX, sqDoorbell, cqDoorbell, type QpConfig, type Placement, type SubmitReq, type Completion } from './model.js';
import { FuzzDevice, Divergence } from './device.js';
import { configArb, opsArb, describeOp, describeConfig, DATA_BYTES, type Op, type Mode, type CmdSpec } from './ops.js';
import { checkAll, checkHeader, checkOutside } from './check.js';

/** The large region: holds the biggest queue pair block (4095 slots of PRP pages). */
export const REGION_SIZE = 24 * 1024 * 1024;
/**
 * Most configurations' blocks fit a small region, and the whole-region check
 * after every sequence (checkOutside) costs what the region's size does: they
 * run there, the others in the large one (made the first time one needs it).
 */
export const SMALL_REGION_SIZE = 4 * 1024 * 1024;
const FULL_CHECK_EVERY = 256; // ops between whole-region canary checks

export interface FuzzHarness extends Harness {
  barU8: Uint8Array;
  /** The region as 16- and 32-bit words (every field the checks read is aligned). */
  u16: Uint16Array;
  u32: Uint32Array;
  /**
   * Canary bytes: a fixed pseudo-random pool a block's canary is copied from
   * (a memcpy instead of a generator per byte), and its guards compare
   * against in place (no copy per sequence).
   */
  pool: Uint8Array;
  /** This region's size. */
  size: number;
  /** The large harness, for blocks this one cannot hold (small harness only; made on first use). */
  big?: FuzzHarness;
  out: Uint32Array;
  /** The region as it must be outside the running sequence's block (kept up to date between sequences). */
  snapshot: Uint8Array;
}

export function makeFuzzHarness(size = SMALL_REGION_SIZE): FuzzHarness {
  const h = makeHarness({ regionSize: size });
  return {
    ...h,
    barU8: new Uint8Array(h.bar.buffer, h.bar.byteOffset, h.bar.byteLength),
    u16: new Uint16Array(h.u8.buffer, h.u8.byteOffset, h.u8.byteLength >>> 1),
    u32: new Uint32Array(h.u8.buffer, h.u8.byteOffset, h.u8.byteLength >>> 2),
    pool: canaryPool(size + POOL_SLACK),
    size,
    out: new Uint32Array(h.region.layout.memory.buffer, h.core.outPtr(), OUT_MAX * OUT_STRIDE),
    snapshot: h.u8.slice(),
  };
}

export interface Stats {
  sequences: number;
  ops: number;
  coreCalls: number;
  laps: number;
  maxLaps: number;
  submitted: number;
  completions: number;
  sqFull: number;
  noSlot: number;
  cqFull: number;
  cqFilled: number;
  bogus: number;
}

export function emptyStats(): Stats {
  return { sequences: 0, ops: 0, coreCalls: 0, laps: 0, maxLaps: 0, submitted: 0, completions: 0, sqFull: 0, noSlot: 0, cqFull: 0, cqFilled: 0, bogus: 0 };
}

/** Test hook: runs after each op, before the checks (to prove the checks check). */
export type AfterOp = (s: Seq, step: number, op: Op) => void;

const POOL_SLACK = 1 << 20;

/** Pseudo-random bytes (xorshift32, one word at a time), never all zero. */
function canaryPool(n: number): Uint8Array {
  const w = new Uint32Array(n >>> 2);
  let x = 0x9e3779b9;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
  return new Uint8Array(w.buffer);
}

function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** The parts of a queue pair's block (see Seq): guard, descriptor, statistics, SQ, CQ, PRP pages, data. */
function blockParts(h: Harness, cfg: QpConfig): number[] {
  const prpPages = h.core.prpPagesFor(cfg.maxXfer);
  const descSize = qpDescriptorSize(cfg.nslots);
  return [PAGE, pageUp(descSize + 1), pageUp(ST_SIZE + 1), pageUp(cfg.qsize * 64 + 1), pageUp(cfg.qsize * 16 + 1), cfg.nslots * prpPages * PAGE + PAGE, DATA_BYTES + PAGE];
}

/** The harness a configuration runs on: the small one if its block fits there (with room to spare), else the large one. */
export function harnessFor(h: FuzzHarness, cfg: QpConfig): FuzzHarness {
  const total = blockParts(h, cfg).reduce((a, b) => a + b, 0);
  if (total + h.dv.getUint32(HDR_HEAP_OFF, true) + 256 * 1024 <= h.size) return h;
  if (h.size >= REGION_SIZE) return h;
  return (h.big ??= makeFuzzHarness(REGION_SIZE));
}

/** One queue pair on its own block of the region, with its model and device. */
export class Seq {
  readonly model: RingModel;
  readonly dev: FuzzDevice;
  readonly at: Placement;
  readonly block: { start: number; end: number; off: number };
  readonly data: number;
  readonly guards: Array<{ name: string; start: number; bytes: Uint8Array }> = [];
  /** Every slot index (PRP checks of all slots). */
  readonly allSlots: number[];
  /** Scratch for the free-list walk (checkSlots). */
  readonly seen: Uint8Array;
  readonly barShadow: DataView;
  private readonly dma;
  coreCalls = 0;

  constructor(
    readonly h: FuzzHarness,
    readonly cfg: QpConfig,
    salt: number,
  ) {
    // One block: [guard][desc][guard][stats][guard][SQ][guard][CQ][guard][PRP][guard][data][guard], page aligned.
    const prpPages = h.core.prpPagesFor(cfg.maxXfer);
    const descSize = qpDescriptorSize(cfg.nslots);
    const parts = blockParts(h, cfg);
    const total = parts.reduce((a, b) => a + b, 0);
    this.dma = h.region.allocDma(total);
    const start = this.dma.regionOffset;
    let p = start + PAGE;
    const desc = p;
    p += parts[1]!;
    const statsAt = p;
    const stats = cfg.stats ? statsAt : 0;
    p += parts[2]!;
    const sq = p;
    p += parts[3]!;
    const cq = p;
    p += parts[4]!;
    const prp = prpPages ? p : 0;
    const prpBytes = cfg.nslots * prpPages * PAGE;
    p += parts[5]!;
    this.data = p;
    this.block = { start, end: start + total, off: start };
    this.at = { desc, sq, cq, prp, prpPages, stats, heapOff: h.dv.getUint32(HDR_HEAP_OFF, true), regionSize: h.size, iova: IOVA_BASE };

    // Canary bytes everywhere in the block (from the pool, at a place the salt picks),
    // then zero PRP pages (the model's start).
    const u8 = h.u8;
    const room = h.pool.length - total;
    const poolAt = room > 0 ? (Math.imul(salt + 1, 2654435761) >>> 0) % room : 0;
    u8.set(h.pool.subarray(poolAt, poolAt + total), start);
    if (prpBytes) u8.fill(0, prp, prp + prpBytes);
    if (stats) u8.fill(0, stats, stats + ST_SIZE); // a fresh block is zeroed (host/stats.ts)

    const st = h.core.qpInit(desc, cfg.qid, cfg.qsize, sq, cq, cfg.dstrd, cfg.nslots, cfg.ownerBits, prp, prpPages, cfg.maxXfer, 0);
    if (st !== 0) throw new Error(`qpInit(${describeConfig(cfg)}) failed: ${st}`);
    if (stats) h.core.qpSetStats(desc, stats);
    h.core.setSelf(0);
    // A new queue's doorbells start at 0 (the controller resets them on creation).
    h.bar[sqDoorbell(cfg.qid, cfg.dstrd) / 4] = 0;
    h.bar[cqDoorbell(cfg.qid, cfg.dstrd) / 4] = 0;

    const guard = (name: string, a: number, b: number) => {
      if (b > a) this.guards.push({ name, start: a, bytes: h.pool.subarray(poolAt + a - start, poolAt + b - start) });
    };
    guard('before descriptor', start, desc);
    // Without statistics the block's place is canary too: the core must not write it.
    guard('after descriptor', desc + descSize, stats ? statsAt : statsAt + ST_SIZE);
    guard('after statistics block', statsAt + ST_SIZE, sq);
    guard('after SQ', sq + cfg.qsize * 64, cq);
    guard('after CQ', cq + cfg.qsize * 16, prp || this.data - PAGE);
    if (prp) guard('after PRP pages', prp + prpBytes, this.data);
    guard('data buffers', this.data, this.data + DATA_BYTES);
    guard('after data buffers', this.data + DATA_BYTES, start + total);

    this.allSlots = Array.from({ length: cfg.nslots }, (_, i) => i);
    this.seen = new Uint8Array(cfg.nslots);
    this.model = new RingModel(cfg, this.at);
    this.dev = new FuzzDevice(cfg, h.dv, u8, new DataView(h.bar.buffer, h.bar.byteOffset, h.bar.byteLength), sq, cq);
    this.barShadow = new DataView(h.barU8.slice().buffer);
    // The allocator changed its metadata (below the heap): that is not the core's doing.
    const heapOff = this.at.heapOff;
    h.snapshot.set(u8.subarray(0, heapOff), 0);
  }

  close(): void {
    this.h.region.freeDma(this.dma);
    // Outside the next block, the bytes this one leaves behind are the new normal.
    const u8 = this.h.u8;
    this.h.snapshot.set(u8.subarray(this.block.start, this.block.end), this.block.start);
    this.h.snapshot.set(u8.subarray(0, this.at.heapOff), 0);
  }

  private request(c: CmdSpec): SubmitReq {
    if (c.kind === 'flush') return c;
    let buf: number;
    if (c.where === 'below-heap') buf = c.off % this.at.heapOff;
    else if (c.where === 'past-region') buf = this.at.regionSize - (c.off % 64);
    else {
      const maxOff = DATA_BYTES - c.len;
      buf = this.data + (c.off <= maxOff ? c.off : (c.off % 4) + ((maxOff - 3) & ~3));
    }
    return { kind: 'read', nsid: c.nsid, slba: c.slba, blocks: c.blocks, flags: c.flags, buf, len: c.len };
  }

  private callSubmit(req: SubmitReq): number {
    const core = this.h.core;
    this.coreCalls++;
    if (req.kind === 'flush') return core.submitFlush(this.at.desc, req.nsid);
    return core.submitRw(this.at.desc, 0x02, req.nsid, req.slba, req.blocks, req.buf, req.len, req.flags);
  }

  /** Apply one op to core, device and model, comparing every core result. */
  apply(op: Op, touched: Set<number>): void {
    const core = this.h.core;
    const m = this.model;
    const desc = this.at.desc;
    switch (op.op) {
      case 'submit': {
        const req = this.request(op.cmd);
        for (let i = 0; i < op.count; i++) {
          const want = m.expectSubmit(req);
          const got = this.callSubmit(req);
          if (want === 'slot') {
            // Any free slot will do; the model then follows the core's choice.
            if (!(Number.isInteger(got) && got >= 0 && m.free.has(got))) throw new Divergence(`submit returned ${got}, expected a free slot (${m.free.size} free)`);
            const cid = m.submitted_(got, req);
            if (core.slotCid(desc, got) !== cid) throw new Divergence(`slotCid(${got}) = ${core.slotCid(desc, got)}, model expects cid ${cid}`);
            touched.add(got);
          } else {
            if (got !== want) throw new Divergence(`submit returned ${got}, expected ${want}`);
            m.submitFailed(got);
            checkHeader(this);
            return; // a host backs off; the rest of the burst would fail the same way
          }
          checkHeader(this);
        }
        return;
      }
      case 'ring': {
        const want = m.ring();
        this.coreCalls++;
        const got = core.qpRing(desc);
        if (got !== want) throw new Divergence(`qpRing returned ${got}, expected ${want}`);
        return;
      }
      case 'fetch':
        this.dev.fetch(op.n);
        return;
      case 'complete':
        for (const p of op.picks) {
          const e = this.dev.complete(p.i, p.lag, p.sf, p.dw0);
          if (e === 'full' || e === 'none') break;
          m.posted(e);
        }
        return;
      case 'inject': {
        const e = this.dev.inject(op.kind, op.r);
        if (e !== 'full' && e !== 'none') m.posted(e);
        return;
      }
      case 'poll': {
        const want = m.poll(op.max);
        this.coreCalls++;
        const n = core.qpPoll(desc, op.max);
        const got: Completion[] = [];
        const o = this.h.out;
        for (let i = 0; i < Math.max(0, Math.min(n, OUT_MAX)); i++) {
          const b = i * OUT_STRIDE;
          got.push({ slot: o[b + OUT_SLOT]!, cid: o[b + OUT_CID]!, status: o[b + OUT_STATUS]!, dw0: o[b + OUT_DW0]! });
        }
        const show = (cs: Completion[]) => cs.map((c) => `{slot ${c.slot} cid ${c.cid} sf ${c.status} dw0 ${c.dw0}}`).join(' ');
        if (n !== want.length) throw new Divergence(`qpPoll(${op.max}) returned ${n}, expected ${want.length}: ${show(want)}`);
        for (let i = 0; i < n; i++) {
          const a = got[i]!;
          const b = want[i]!;
          if (a.slot !== b.slot || a.cid !== b.cid || a.status !== b.status || a.dw0 !== b.dw0) {
            throw new Divergence(`qpPoll record ${i}: core ${show([a])}, model ${show([b])} (CQ order, 4.6)`);
          }
        }
        return;
      }
      case 'setSelf':
        this.coreCalls++;
        core.setSelf(op.self);
        m.self = op.self;
        return;
      case 'reset':
        // The controller forgets the queue (7.3.2), then the host resets its rings.
        this.dev.reset();
        this.coreCalls++;
        core.qpReset(desc);
        m.reset();
        return;
    }
  }
}

export class SeqFailure extends Error {
  constructor(
    readonly step: number,
    readonly op: Op | undefined,
    override readonly cause: Error,
  ) {
    super(`step ${step}${op ? ` (${describeOp(op)})` : ''}: ${cause.message}`);
  }
}

/** Run one sequence; throws SeqFailure at the first divergence. */
export function runSequence(harness: FuzzHarness, cfg: QpConfig, ops: Op[], stats: Stats, afterOp?: AfterOp): void {
  const h = harnessFor(harness, cfg);
  const s = new Seq(h, cfg, stats.sequences);
  let step = -1;
  const allSlots = s.allSlots;
  try {
    checkAll(s, []);
    for (step = 0; step < ops.length; step++) {
      const op = ops[step]!;
      const touched = new Set<number>();
      s.apply(op, touched);
      afterOp?.(s, step, op);
      // PRP list pages: those written this step; all of them when there are few.
      checkAll(s, s.cfg.nslots * s.at.prpPages <= 64 ? allSlots : touched);
      if (step % FULL_CHECK_EVERY === FULL_CHECK_EVERY - 1) checkOutside(s);
    }
    step = ops.length;
    checkOutside(s);
  } catch (e) {
    throw new SeqFailure(step, ops[step], e as Error);
  } finally {
    h.core.setSelf(0);
    s.close();
    const m = s.model;
    stats.sequences++;
    stats.ops += Math.min(step + 1, ops.length);
    stats.coreCalls += s.coreCalls;
    stats.laps += m.laps;
    stats.maxLaps = Math.max(stats.maxLaps, m.laps);
    stats.submitted += m.submitted;
    stats.completions += m.completed;
    stats.sqFull += m.sqFullSeen;
    stats.noSlot += m.noSlotHits;
    stats.cqFull += s.dev.cqFullHits;
    stats.cqFilled += s.dev.cqFilled;
    stats.bogus += m.bogus;
  }
}

export interface FuzzOptions {
  seed: number;
  mode: Mode | 'all';
  /** Stop after this many ops (at a round boundary), or after this many seconds. */
  ops?: number;
  seconds?: number;
  maxLength?: number; // ops per sequence
  runsPerRound?: number;
  afterOp?: AfterOp;
  log?: (line: string) => void;
  /** Log a progress line every this many seconds. */
  progressSeconds?: number;
}

export interface FuzzFailure {
  seed: number;
  round: number;
  fcSeed: number;
  path: string;
  mode: Mode;
  config: QpConfig;
  ops: Op[];
  failure: string;
  report: string;
}

export interface FuzzResult {
  stats: Stats;
  rounds: number;
  ms: number;
  failure?: FuzzFailure;
}

/** Seed of round r: deterministic from the run seed. */
export function roundSeed(seed: number, round: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(round + 1, 0x85ebca6b)) | 0;
}

/** Modes by round: 'all' alternates honest and hostile. */
function roundMode(mode: Mode | 'all', round: number): Mode {
  return mode === 'all' ? (round % 2 === 0 ? 'honest' : 'hostile') : mode;
}

export function formatSequence(cfg: QpConfig, ops: Op[], failStep?: number): string {
  const lines = [`  config: ${describeConfig(cfg)}`];
  ops.forEach((o, i) => lines.push(`  ${String(i).padStart(4)}  ${describeOp(o)}${i === failStep ? '   <-- diverges here' : ''}`));
  return lines.join('\n');
}

export function fuzz(o: FuzzOptions, h: FuzzHarness = makeFuzzHarness()): FuzzResult {
  const log = o.log ?? (() => {});
  const stats = emptyStats();
  const t0 = Date.now();
  const runs = o.runsPerRound ?? 8;
  const maxLength = o.maxLength ?? 400;
  let round = 0;
  let nextProgress = o.progressSeconds ? t0 + o.progressSeconds * 1000 : Infinity;
  for (;;) {
    if (Date.now() >= nextProgress) {
      const s = (Date.now() - t0) / 1000;
      log(`progress: ${stats.ops} ops in ${s.toFixed(0)} s (${Math.round(stats.ops / s)} ops/s), ${stats.sequences} sequences, ${stats.laps} laps`);
      nextProgress += o.progressSeconds! * 1000;
    }
    if (o.ops !== undefined && stats.ops >= o.ops) break;
    if (o.seconds !== undefined && Date.now() - t0 >= o.seconds * 1000) break;
    if (o.ops === undefined && o.seconds === undefined) break;
    const mode = roundMode(o.mode, round);
    const fcSeed = roundSeed(o.seed, round);
    const prop = fc.property(configArb, opsArb(mode, maxLength), (cfg, ops) => {
      runSequence(h, cfg, ops, stats, o.afterOp);
    });
    const res = fc.check(prop, { seed: fcSeed, numRuns: runs, endOnFailure: false });
    if (res.failed) {
      const [cfg, shrunk] = res.counterexample! as [QpConfig, Op[]];
      // Replay the shrunk case once more to get its failure (stats of the shrink runs are not counted).
      const scratch = emptyStats();
      let failure = String(res.errorInstance);
      let step: number | undefined;
      try {
        runSequence(h, cfg, shrunk, scratch, o.afterOp);
      } catch (e) {
        if (e instanceof SeqFailure) step = e.step;
        failure = (e as Error).message;
      }
      // Ops after the failing one never ran: leave them out.
      const ops = step === undefined ? shrunk : shrunk.slice(0, step + 1);
      const report = [
        `DIVERGENCE  seed ${o.seed}  round ${round}  mode ${mode}  fast-check seed ${fcSeed} path ${res.counterexamplePath}`,
        `  after ${res.numShrinks} shrinks: ${failure}`,
        `minimal failing sequence (${ops.length} ops):`,
        formatSequence(cfg, ops, step),
        `replay: npm run fuzz -- --seed ${o.seed} --mode ${o.mode}${o.ops !== undefined ? ` --ops ${o.ops}` : ''} --length ${maxLength}`,
        `   or: npm run fuzz -- --replay ${fcSeed}:${res.counterexamplePath} --mode ${mode} --length ${maxLength}`,
      ].join('\n');
      log(report);
      return {
        stats,
        rounds: round + 1,
        ms: Date.now() - t0,
        failure: { seed: o.seed, round, fcSeed, path: res.counterexamplePath!, mode, config: cfg, ops, failure, report },
      };
    }
    round++;
  }
  return { stats, rounds: round, ms: Date.now() - t0 };
}

/** Replay one fast-check case (seed and path from a report) and return its report, or undefined if it passes. */
export function replay(fcSeed: number, path: string, mode: Mode, maxLength = 400, h: FuzzHarness = makeFuzzHarness()): string | undefined {
  const stats = emptyStats();
  const prop = fc.property(configArb, opsArb(mode, maxLength), (cfg, ops) => runSequence(h, cfg, ops, stats));
  const res = fc.check(prop, { seed: fcSeed, path, numRuns: 1 });
  if (!res.failed) return undefined;
  const [cfg, ops] = res.counterexample! as [QpConfig, Op[]];
  return `${String(res.errorInstance)}\nminimal failing sequence (${ops.length} ops):\n${formatSequence(cfg, ops)}`;
}
