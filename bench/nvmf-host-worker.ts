// One timed run of this project's NVMe/TCP initiator, as bench/nvmf-host-guest.ts
// (and anyone) runs it: 4 KiB random reads at a queue depth over one I/O
// queue pair on the callback path (submitRead from the completion callback:
// nothing polls, the socket's data drives it), every I/O timed. With poll:1
// in the TRID (FabricsOptions.poll: the queue's socket is read by
// processCompletions), it spins processCompletions instead, an event-loop
// turn every 256 polls. Prints one JSON line: { iops, meanUs, p99Us, ios, errors }.
// --cpu-prof FILE: V8's sampling profiler (100 us) over the measured phase
// only (not the start-up, the warm-up or the drain), written as a .cpuprofile.
//   node dist/bench/nvmf-host-worker.js --trid '...' --qd 32 --seconds 5 [--bs 4096] [--core-mask 0x2] [--cpu-prof FILE]
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Command } from 'commander';
import { Controller } from '../host/index.js';
import { parseTransportId } from '../host/trid.js';
import { parseCoreMask, applyCoreMask } from '../host/cli/core-mask.js';

const o = new Command('nvmf-host-worker')
  .requiredOption('--trid <trid>', 'NVMe/TCP transport ID')
  .option('--qd <n>', 'queue depth', '1')
  .option('--seconds <s>', 'run time', '5')
  .option('--bs <bytes>', 'I/O size', '4096')
  .option('--warmup <s>', 'seconds of QD 32 reads first, not counted (lets V8 optimise the I/O path: under TCG a QD1 run alone never gets there)', '2')
  .option('--core-mask <mask>', "bind the polling thread, as perf's -c (a hex mask like 0x2 or a list like '[1]'), once the queue pair is up", parseCoreMask)
  .option('--cpu-prof <file>', 'profile the measured phase (V8 sampling profiler, 100 us) into this .cpuprofile')
  .parse()
  .opts<{ trid: string; qd: string; seconds: string; bs: string; warmup: string; coreMask?: number[]; cpuProf?: string }>();
const qd = Number(o.qd);
const bs = Number(o.bs);
const seconds = Number(o.seconds);
const warmupMs = Number(o.warmup) * 1000;

const WARM_QD = 32;
const depth = Math.max(qd, WARM_QD) + 1;
const ctrl = await Controller.open({ transport: o.trid, ioQueueDepth: depth });
const ns = ctrl.namespace(1);
const qp = await ctrl.createQueuePair({ depth });
if (o.coreMask) applyCoreMask(o.coreMask);
const units = Math.floor((ns.blocks * ns.blockSize) / bs);
const bufs = Array.from({ length: Math.max(qd, WARM_QD) }, () => ctrl.allocDma(bs));
const start = new Float64Array(bufs.length);
const lat = new Float64Array(4_000_000);
let n = 0;
let errors = 0;
let counting = false;
let stop = false;
let outstanding = 0;
let seed = 0x9e3779b9;
const rand = (): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % units;
};
const blocksPer = bs / ns.blockSize;
/** poll:1: nothing reads the socket unless processCompletions runs, so spin it. */
const tid = parseTransportId(o.trid);
const SPIN = tid.trtype === 'tcp' && tid.fabrics?.poll === true;
/** `ms` of the run: a timer, or (SPIN) polls with an event-loop turn every 256. */
const wait = async (ms: number): Promise<void> => {
  if (!SPIN) return new Promise((r) => setTimeout(r, ms));
  const until = performance.now() + ms;
  for (let i = 1; ; i++) {
    qp.processCompletions();
    if (i % 256 === 0) {
      if (performance.now() >= until) return;
      await new Promise((r) => setImmediate(r));
    }
  }
};
const cbs = bufs.map((buf, i) => (err: Error | null): void => {
  const now = performance.now();
  if (err) errors++;
  if (counting && n < lat.length) lat[n++] = now - start[i]!;
  if (stop) {
    outstanding--;
    return;
  }
  start[i] = now;
  if (!qp.submitRead(ns, rand() * blocksPer, buf, cbs[i]!)) outstanding--;
});
const launch = (depthNow: number): void => {
  for (let i = 0; i < depthNow; i++) {
    start[i] = performance.now();
    if (qp.submitRead(ns, rand() * blocksPer, bufs[i]!, cbs[i]!)) outstanding++;
  }
  qp.ring();
};
const drain = async (): Promise<void> => {
  stop = true;
  const until = performance.now() + 5000;
  while (outstanding > 0 && performance.now() < until) await wait(5);
  stop = false;
};
if (warmupMs > 0) {
  launch(WARM_QD);
  await wait(warmupMs);
  await drain();
}
launch(qd);
await wait(500);
const prof = o.cpuProf === undefined ? undefined : new Session();
if (prof) {
  prof.connect();
  await prof.post('Profiler.setSamplingInterval', { interval: 100 });
  await prof.post('Profiler.enable');
  await prof.post('Profiler.start');
}
counting = true;
const t0 = performance.now();
await wait(seconds * 1000);
counting = false;
const elapsed = (performance.now() - t0) / 1000;
if (prof) {
  const { profile } = await prof.post('Profiler.stop');
  fs.writeFileSync(o.cpuProf!, JSON.stringify(profile));
  prof.disconnect();
}
await drain();
const l = lat.subarray(0, n).sort();
let sum = 0;
for (let i = 0; i < n; i++) sum += l[i]!;
process.stdout.write(`${JSON.stringify({ iops: n / elapsed, meanUs: (sum / Math.max(1, n)) * 1000, p99Us: (l[Math.min(n - 1, Math.floor(n * 0.99))] ?? NaN) * 1000, ios: n, errors })}\n`);
await qp.delete();
await ctrl.close();
