// The latency sampler with a clock of its own, so what it does is the same
// on any machine: the share of commands timed follows the poll rate (polls
// closer than 50 us: fewer timed; farther than 500 us: more, down to every
// one), and however the share moves, the figures stand for every command
// but those after the last timed one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LatencySampler } from '../host/latency-sampler.js';
import { STATS_BLOCK_SIZE, S_LAT_COUNT, S_LAT_SAMPLES, S_LAT_SUM_US, S_HIST, HIST_BUCKETS } from '../host/layout/stats-block.js';
import type { IoCallback } from '../host/command-table.js';

const QD = 32;

/** Run `batches` polls of QD commands each, `gapMs` apart on the sampler's clock; returns the commands run. */
function drive(s: LatencySampler, clock: { t: number }, batches: number, gapMs: number): number {
  const cbs: Array<IoCallback | undefined> = new Array(QD).fill(undefined);
  const cb: IoCallback = () => {};
  for (let b = 0; b < batches; b++) {
    for (let k = 0; k < QD; k++) {
      cbs[k] = cb;
      if (--s.countdown === 0) s.sample(k, 0x02);
    }
    s.newBatch(); // the doorbell
    clock.t += gapMs;
    cbs.fill(undefined); // the poll reaped them all
    if (s.pending) s.completed(cbs);
  }
  return batches * QD;
}

test("'auto': fast polls time one command in 1024, slow polls every one", () => {
  const clock = { t: 1000 };
  const words = new Float64Array(STATS_BLOCK_SIZE >>> 3);
  const s = new LatencySampler(words, QD, 'auto', 7, () => clock.t);
  assert.is(s.sharing, 1, 'starts by timing every command');
  let n = drive(s, clock, 20_000, 0.01); // 10 us apart: 3.2M commands/s
  assert.is(s.sharing, 1024);
  const timedFast = words[S_LAT_SAMPLES]!;
  assert.ok(timedFast < n / 100, `timed ${timedFast} of ${n}`);
  n += drive(s, clock, 200, 1); // 1 ms apart
  assert.is(s.sharing, 1, 'slow again: every command');
  // Every command counted but those after the last timed one (fewer than two of the largest share).
  const count = words[S_LAT_COUNT]!;
  assert.ok(count <= n && count > n - 2 * 1024, `stands for ${count} of ${n}`);
  let hist = 0;
  for (let b = 0; b < HIST_BUCKETS; b++) hist += words[S_HIST + b]!;
  assert.is(hist, count, 'the histogram holds what the count says');
  assert.ok(words[S_LAT_SUM_US]! > 0);
});

test('a fixed share times one in that many, and never adapts', () => {
  const clock = { t: 0 };
  const words = new Float64Array(STATS_BLOCK_SIZE >>> 3);
  const s = new LatencySampler(words, QD, 64, 3, () => clock.t);
  const n = drive(s, clock, 4000, 0.01);
  assert.is(s.sharing, 64);
  const timed = words[S_LAT_SAMPLES]!;
  assert.ok(timed > n / 64 / 2 && timed < (n / 64) * 2, `timed ${timed}, about ${n / 64} expected`);
});

test('statistics off: the countdown never reaches zero and nothing is written', () => {
  const s = new LatencySampler(undefined, QD, 'auto', 1, () => 0);
  for (let i = 0; i < 100_000; i++) assert.ok(--s.countdown !== 0);
  assert.is(s.pending, false);
});

test.run();
