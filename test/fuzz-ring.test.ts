// A short, fixed-seed run of the queue core fuzzer (test/fuzz/) in each mode,
// and proof that its checker checks: corrupted core state, stray writes and a
// simulated core bug are all caught, the last one shrunk to a short sequence.
// Longer runs: npm run fuzz -- --seconds 60 (see test/fuzz/main.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fuzz, makeFuzzHarness, runSequence, emptyStats, SeqFailure, type AfterOp } from './fuzz/run.js';
import type { Op } from './fuzz/ops.js';
import type { QpConfig } from './fuzz/model.js';
import { QP_CQ_PHASE, QP_SQ_TAIL, QP_HDR_SIZE, QP_SLOT_SIZE, SLOT_LEN } from '../assembly/abi/qpair.js';
import { ST_READS } from '../assembly/abi/stats.js';

const h = makeFuzzHarness();
const SEED = 20240601;

test('fuzz: honest device, fixed seed: no divergence, many laps, SQ full and NoSlot reached', () => {
  const r = fuzz({ seed: SEED, mode: 'honest', ops: 12_000 }, h);
  assert.is(r.failure?.report, undefined);
  const s = r.stats;
  assert.ok(s.laps >= 10, `laps ${s.laps}`);
  assert.ok(s.completions > 1000, `completions ${s.completions}`);
  assert.ok(s.sqFull > 0 && s.noSlot > 0 && s.cqFilled > 0, JSON.stringify(s));
  assert.is(s.bogus, 0, 'an honest device posts no malformed completion');
});

test('fuzz: hostile device, fixed seed: malformed completions counted, CQ full respected', () => {
  const r = fuzz({ seed: SEED, mode: 'hostile', ops: 12_000 }, h);
  assert.is(r.failure?.report, undefined);
  const s = r.stats;
  assert.ok(s.laps >= 10, `laps ${s.laps}`);
  assert.ok(s.bogus > 100, `bogus ${s.bogus}`);
  assert.ok(s.cqFull > 0, `CQ-full waits ${s.cqFull}`);
});

test('fuzz: same seed, same run', () => {
  const a = fuzz({ seed: 7, mode: 'all', ops: 3000 }, h);
  const b = fuzz({ seed: 7, mode: 'all', ops: 3000 }, h);
  assert.equal(a.stats, b.stats);
});

// A fixed little sequence: two commands around a 4-entry ring, twice.
const cfg: QpConfig = { qid: 3, qsize: 4, nslots: 3, ownerBits: 0, dstrd: 0, maxXfer: 8192, stats: true };
const lap: Op[] = [
  { op: 'submit', count: 3, cmd: { kind: 'read', nsid: 1, slba: 8, blocks: 2, flags: 0, where: 'data', off: 4092, len: 8192 } },
  { op: 'ring' },
  { op: 'fetch', n: 1 << 30 },
  { op: 'complete', picks: [2, 0, 1].map((i) => ({ i, lag: 0, sf: 0, dw0: i })) },
  { op: 'poll', max: 256 },
];
const ops = [...lap, ...lap, ...lap];

function failsAt(afterOp: AfterOp, what = ''): SeqFailure {
  try {
    runSequence(h, cfg, ops, emptyStats(), afterOp);
  } catch (e) {
    assert.instance(e, SeqFailure);
    return e as SeqFailure;
  }
  assert.unreachable(`the checker missed it ${what}`);
  throw new Error();
}

test('checker: the fixed sequence passes untouched', () => {
  runSequence(h, cfg, ops, emptyStats());
});

test('checker: a descriptor field changed behind the model is caught at that step', () => {
  const f = failsAt((s, step) => {
    if (step === 7) s.h.dv.setUint32(s.at.desc + QP_CQ_PHASE, 0, true);
  });
  assert.is(f.step, 7);
  assert.match(f.message, 'QP_CQ_PHASE');
  const g = failsAt((s, step) => {
    if (step === 5) s.h.dv.setUint32(s.at.desc + QP_SQ_TAIL, 0, true);
  });
  assert.is(g.step, 5);
  assert.match(g.message, 'QP_SQ_TAIL');
});

test('checker: stray writes are caught (SQ, CQ, PRP list, canaries, BAR, rest of the region)', () => {
  const cases: Array<[string, AfterOp]> = [
    ['SQ ring', (s) => (s.h.u8[s.at.sq + 3 * 64 + 9] ^= 1)],
    ['CQ ring', (s) => (s.h.u8[s.at.cq + 5] ^= 1)],
    ['PRP list page of slot', (s) => (s.h.u8[s.at.prp + 4096 + 24] ^= 1)],
    ['canary data buffers', (s) => (s.h.u8[s.data + 100] ^= 1)],
    ['canary after descriptor', (s) => (s.h.u8[s.at.stats - 1] ^= 1)],
    ['canary after statistics block', (s) => (s.h.u8[s.at.sq - 1] ^= 1)],
    ['statistics reads', (s) => s.h.dv.setFloat64(s.at.stats + ST_READS, 1, true)],
    ['statistics word +72', (s) => (s.h.u8[s.at.stats + 72] ^= 1)],
    ['slot 1 data length', (s) => s.h.dv.setUint32(s.at.desc + QP_HDR_SIZE + QP_SLOT_SIZE + SLOT_LEN, 0, true)],
    ['BAR window', (s) => (s.h.bar[0x1000 / 4 + 100] = 1)],
    ['region above the queue pair block', (s) => (s.h.u8[s.block.end + 12345] ^= 1)],
  ];
  for (const [what, hit] of cases) {
    const f = failsAt((s, step, op) => {
      if (step === 3) hit(s, step, op);
    }, what);
    assert.match(f.message, what, `${what}: ${f.message}`);
    // Caught at the step it happened, except far from the queue pair (whole-region check, at the end).
    assert.is(f.step, what.startsWith('region') ? ops.length : 3, what);
    // Put the BAR back for the next case (the region is freed and re-snapshotted per sequence).
    h.bar[0x1000 / 4 + 100] = 0;
  }
});

test('fuzz: a simulated core bug (phase not flipped on wrap) is found and shrunk to a short sequence', () => {
  // Stand-in for a broken core: after a poll that wrapped the CQ head, undo the phase flip.
  const lapsBefore = new WeakMap<object, number>();
  const buggy: AfterOp = (s, _step, op) => {
    if (op.op === 'poll' && s.model.laps > (lapsBefore.get(s) ?? 0)) {
      const dv = s.h.dv;
      dv.setUint32(s.at.desc + QP_CQ_PHASE, dv.getUint32(s.at.desc + QP_CQ_PHASE, true) ^ 1, true);
    }
    lapsBefore.set(s, s.model.laps);
  };
  const r = fuzz({ seed: SEED, mode: 'honest', ops: 50_000, maxLength: 100, afterOp: buggy }, h);
  assert.ok(r.failure, 'the fuzzer found the planted bug');
  const f = r.failure!;
  assert.match(f.failure, 'QP_CQ_PHASE');
  assert.ok(f.ops.length <= 12, `shrunk to ${f.ops.length} ops:\n${f.report}`);
  assert.match(f.report, `seed ${SEED}`);
  assert.match(f.report, 'minimal failing sequence');
});

test('npm run fuzz -- --help prints the options and exits 0; an unknown flag is a usage error', () => {
  const main = fileURLToPath(new URL('./fuzz/main.js', import.meta.url));
  const h = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8', timeout: 20000 });
  assert.is(h.status, 0, h.stderr);
  assert.match(h.stdout, /^usage: npm run fuzz -- /);
  assert.match(h.stdout, /--seconds N/);
  const bad = spawnSync(process.execPath, [main, '--no-such-flag'], { encoding: 'utf8', timeout: 20000 });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /Unknown option '--no-such-flag'/);
});

test.run();
