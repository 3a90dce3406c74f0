// Operations of a fuzz sequence, as plain data (so fast-check can shrink them
// and a failure prints as a readable list), and their generators. Each op is
// valid in any state: picks are taken modulo what exists at the time.
import fc from 'fast-check';
import type { InjectKind } from './device.js';
import type { QpConfig } from './model.js';

export type Op =
  | { op: 'submit'; count: number; cmd: CmdSpec }
  | { op: 'ring' }
  | { op: 'fetch'; n: number }
  | { op: 'complete'; picks: Pick[] }
  | { op: 'poll'; max: number }
  | { op: 'setSelf'; self: number }
  | { op: 'inject'; kind: InjectKind; r: number }
  | { op: 'reset' };

export interface Pick {
  i: number; // which pending command (modulo)
  lag: number; // SQHD lag in [0, 1): 0 honest
  sf: number; // status field
  dw0: number;
}

/** A command to submit; buffers are placed in the sequence's data area (off, len). */
export type CmdSpec =
  | { kind: 'flush'; nsid: number }
  | { kind: 'read'; nsid: number; slba: number; blocks: number; flags: number; where: 'data' | 'below-heap' | 'past-region'; off: number; len: number };

export type Mode = 'honest' | 'hostile';

export const DATA_BYTES = 64 * 1024; // data area of a sequence

// Queue sizes 2 .. 4096, biased to small queues (many laps per sequence).
const qsizeArb = fc.oneof(
  { withCrossShrink: true },
  { weight: 8, arbitrary: fc.integer({ min: 2, max: 8 }) },
  { weight: 4, arbitrary: fc.integer({ min: 9, max: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 4096 }) },
);

export const configArb: fc.Arbitrary<QpConfig> = fc
  .record({
    qsize: qsizeArb,
    // nslots: qsize - 1 (a full SQ is reachable through slots) or anything from 1.
    full: fc.boolean(),
    nslotsR: fc.nat(),
    ownerR: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat() }),
    qid: fc.integer({ min: 0, max: 127 }),
    dstrd: fc.integer({ min: 0, max: 3 }),
    maxXfer: fc.constantFrom(4096, 8192, 16384),
    stats: fc.boolean(),
  })
  .map(({ qsize, full, nslotsR, ownerR, qid, dstrd, maxXfer, stats }) => {
    const nslots = full ? qsize - 1 : 1 + (nslotsR % (qsize - 1));
    let slotBits = 1;
    while (1 << slotBits < nslots) slotBits++;
    const ownerBits = ownerR < 0 ? 0 : ownerR % (16 - slotBits + 1);
    return { qid, qsize, nslots, ownerBits, dstrd, maxXfer, stats };
  });

const u32 = fc.integer({ min: 0, max: 0xffffffff });

const cmdArb: fc.Arbitrary<CmdSpec> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), nsid: u32 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      nsid: u32,
      slba: fc.integer({ min: 0, max: 2 ** 48 }),
      blocks: fc.integer({ min: 1, max: 0x10000 }),
      flags: u32,
      where: fc.oneof(
        { weight: 20, arbitrary: fc.constant('data' as const) },
        { weight: 1, arbitrary: fc.constantFrom('below-heap' as const, 'past-region' as const) },
      ),
      // Mostly dword aligned (4.3); sometimes not.
      off: fc.oneof(
        { weight: 12, arbitrary: fc.nat({ max: DATA_BYTES / 4 - 1 }).map((x) => x * 4) },
        { weight: 1, arbitrary: fc.nat({ max: DATA_BYTES - 1 }) },
      ),
      // 0 (no data), up to a few pages, sometimes above any maxXfer.
      len: fc.oneof(
        { withCrossShrink: true },
        { weight: 12, arbitrary: fc.integer({ min: 1, max: 16384 }) },
        { weight: 1, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 16385, max: 40000 }) },
      ),
    }),
  },
);

const pickArb: fc.Arbitrary<Pick> = fc.record({
  i: fc.nat(),
  lag: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
  sf: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7fff }) }),
  dw0: u32,
});

const honestOps: Array<{ weight: number; arbitrary: fc.Arbitrary<Op> }> = [
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('submit' as const),
      count: fc.oneof({ withCrossShrink: true }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 300 }) }),
      cmd: cmdArb,
    }),
  },
  { weight: 5, arbitrary: fc.constant({ op: 'ring' as const }) },
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('fetch' as const), n: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(1 << 30)) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('complete' as const),
      picks: fc.oneof(
        { withCrossShrink: true },
        { weight: 4, arbitrary: fc.array(pickArb, { minLength: 1, maxLength: 4 }) },
        { weight: 1, arbitrary: fc.array(pickArb, { minLength: 5, maxLength: 300 }) },
      ),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('poll' as const),
      // 1 .. 300 (above OUT_MAX = 256 too), often tiny; now and then 0.
      max: fc.oneof(
        { weight: 12, arbitrary: fc.integer({ min: 1, max: 300 }) },
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }) },
        { weight: 1, arbitrary: fc.constant(0) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setSelf' as const), self: fc.nat({ max: 255 }) }) },
  // A controller reset (CC.EN 1 -> 0 -> 1) with the queue created again: qpReset.
  { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
];

const injectOp: fc.Arbitrary<Op> = fc.record({
  op: fc.constant('inject' as const),
  kind: fc.constantFrom<InjectKind>('dup', 'unknown', 'stale', 'sqid', 'sqhd'),
  r: u32,
});

export function opArb(mode: Mode): fc.Arbitrary<Op> {
  return fc.oneof(...honestOps, ...(mode === 'hostile' ? [{ weight: 4, arbitrary: injectOp }] : []));
}

export function opsArb(mode: Mode, maxLength: number): fc.Arbitrary<Op[]> {
  return fc.array(opArb(mode), { minLength: 1, maxLength, size: 'max' });
}

/** One line per op, for failure reports. */
export function describeOp(o: Op): string {
  switch (o.op) {
    case 'submit': {
      const c = o.cmd;
      const what =
        c.kind === 'flush'
          ? `flush nsid=${c.nsid}`
          : `read nsid=${c.nsid} slba=${c.slba} blocks=${c.blocks} flags=0x${c.flags.toString(16)} buf=${c.where}+${c.off} len=${c.len}`;
      return `submit x${o.count} ${what}`;
    }
    case 'ring':
      return 'qpRing';
    case 'fetch':
      return `device fetch ${o.n >= 1 << 30 ? 'all' : o.n}`;
    case 'complete':
      return `device complete ${o.picks.length}: ${o.picks.map((p) => `#${p.i}${p.lag ? ` lag=${p.lag.toFixed(3)}` : ''}${p.sf ? ` sf=0x${p.sf.toString(16)}` : ''}`).join(', ')}`;
    case 'poll':
      return `qpPoll max=${o.max}`;
    case 'setSelf':
      return `setSelf ${o.self}`;
    case 'inject':
      return `device inject ${o.kind} r=${o.r}`;
    case 'reset':
      return 'controller reset, qpReset';
  }
}

export function describeConfig(c: QpConfig): string {
  return `qid=${c.qid} qsize=${c.qsize} nslots=${c.nslots} ownerBits=${c.ownerBits} dstrd=${c.dstrd} maxXfer=${c.maxXfer} stats=${c.stats}`;
}
