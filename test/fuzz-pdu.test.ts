// The NVMe/TCP framer mutation fuzzer (test/fuzz/pdu.ts) in CI: a short run
// of a fixed seed, proof that its properties catch a framer that throws or
// asks for too much data, and the parallel entry point (--jobs) summing its
// workers. `npm run fuzz -- --target pdu --seconds N` runs it for longer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fuzzPdu, runPduCase, emptyPduStats, PduFuzzFailure } from './fuzz/pdu.js';
import { PduFramer } from '../host/nvmf/pdu/framer.js';

const MAIN = fileURLToPath(new URL('./fuzz/main.js', import.meta.url));

test('pdu fuzz: 3000 cases of seed 1 hold every property', () => {
  const r = fuzzPdu({ seed: 1, cases: 3000 });
  assert.is(r.failure, undefined, r.failure);
  assert.is(r.stats.cases, 3000);
  assert.ok(r.stats.pdus > 3000, `${r.stats.pdus} PDUs`);
  assert.ok(r.stats.fatals > 500, `${r.stats.fatals} fatal errors`);
  assert.ok(Object.keys(r.stats.byFes).length >= 4, `FES seen: ${Object.keys(r.stats.byFes).join(', ')}`);
});

test('pdu fuzz: a framer that throws on some input is caught, with the seed, case and replay command', () => {
  const proto = PduFramer.prototype as unknown as { push(c: Uint8Array, n?: number): void };
  const push = proto.push;
  proto.push = function (this: PduFramer, c: Uint8Array, n?: number) {
    if (c.length > 2 && c[0] === 0xff && c[1] === 0xff) throw new RangeError('planted');
    push.call(this, c, n);
  };
  try {
    const r = fuzzPdu({ seed: 1, cases: 20000 });
    assert.ok(r.failure, 'found');
    assert.match(r.failure!, /push\(\) threw RangeError: planted/);
    const c = Number(/case (\d+)/.exec(r.failure!)![1]);
    assert.match(r.failure!, `--target pdu --seed 1 --case ${c}`);
    assert.throws(() => runPduCase(1, c, emptyPduStats()), (e: unknown) => e instanceof PduFuzzFailure);
  } finally {
    proto.push = push;
  }
});

test('pdu fuzz: a framer asking for more data than its limits is caught', () => {
  const proto = PduFramer.prototype as unknown as { push(c: Uint8Array, n?: number): void; limits: { maxDataPdu: number } };
  const push = proto.push;
  proto.push = function (this: PduFramer & { limits: { maxDataPdu: number } }, c: Uint8Array, n?: number) {
    const l = this.limits as { maxDataPdu: number; maxCapsuleData: number };
    l.maxDataPdu = l.maxCapsuleData = 1 << 20; // the framer forgets the limits it was given
    push.call(this, c, n);
  };
  try {
    const r = fuzzPdu({ seed: 2, cases: 20000 });
    assert.ok(r.failure, 'found');
    assert.match(r.failure!, /header\(\) asks for \d+ data bytes .* the limit is \d+/);
  } finally {
    proto.push = push;
  }
});

test('fuzz --jobs 2 --target pdu: two workers, seeds S and S+1, counts summed', () => {
  const r = spawnSync(process.execPath, [MAIN, '--target', 'pdu', '--jobs', '2', '--seed', '40', '--ops', '600'], { encoding: 'utf8', timeout: 60000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /seed 40: ok, 300 cases/);
  assert.match(r.stdout, /seed 41: ok, 300 cases/);
  assert.match(r.stdout, /total: 600 cases/);
});

test('fuzz --jobs 2 (ring): ops summed over the workers', () => {
  const r = spawnSync(process.execPath, [MAIN, '--jobs', '2', '--seed', '7', '--ops', '4000', '--min-laps', '1'], { encoding: 'utf8', timeout: 60000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const total = Number(/total: (\d+) ops/.exec(r.stdout)?.[1]);
  assert.ok(total >= 4000, r.stdout);
});

test.run();
