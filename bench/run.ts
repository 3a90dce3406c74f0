// nvme-wasm's benchmark (npm run bench): 4 KiB random reads at queue depths
// 1, 32 and 128 against the simulated controller in null-I/O mode, running
// as its own process, driven in turn by
//   - nvme-wasm, callback path (bench/js-driver.ts callback)
//   - nvme-wasm, Promise path  (bench/js-driver.ts promise)
//   - nvme-wasm, Promise batches (bench/js-driver.ts batch: qp.readMany)
//   - the native baseline, a minimal polled C driver (bench/native/nvme-native.c,
//     compiled here with the machine's cc -O2)
// each a separate process, one after the other, REPS rounds of SECONDS each
// (after a 0.5 s warm-up); the figures are medians over the rounds.
//
// How each number is computed:
//   IOPS            completions in the measured interval / its wall time
//   CPU ns/IO       the driver process's CPU time over the interval
//                   (process.cpuUsage(); CLOCK_PROCESS_CPUTIME_ID in C) / completions
//   busy ns/IO      the driver's own work per I/O: both drivers read the
//                   clock once per poll, and a poll that reaped adds the time
//                   since the previous read (poll, doorbells, callbacks,
//                   resubmissions, one clock read) to busyNs;
//                   (busyNs - reapingPolls x clockNs) / completions.
//                   Both drivers busy-poll, so when the device is the slower
//                   side CPU ns/IO counts waiting; busy ns/IO does not.
//                   (Callback path and native only: the Promise path's work
//                   runs in microtasks outside the poll.)
//   empty%          share of polls that found no completion (high: the
//                   driver waits for the device; low: the driver is the
//                   bottleneck)
//   sim CPU ns/IO   the simulator process's CPU time (/proc/PID/stat) / completions
//   ratio           nvme-wasm / native, per I/O, on CPU ns and on busy ns
// The simulator's ceiling: the native driver with 4 queue pairs x QD 128.
//
// --device loopback: the simulator creates the queues, then is stopped
// while each driver completes its own I/O with an in-process null device
// (bench/loopback.ts; the same in nvme-native.c) that completes everything
// rung for at once, between polls and outside the busy time: the fastest
// device there can be, and one no other process on this machine can slow
// down. CPU ns/IO then includes the device's work; busy ns/IO does not.
//
// --paths callback,promise: leave the batch line out (a build without qp.readMany).
//
//   npm run bench [-- --seconds S --reps N --qd 1,32,128 --device sim|loopback --paths callback,promise,batch]
import fs from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeBarChart } from './svg-chart.js';
import path from 'node:path';
import os from 'node:os';
import { median, startSim } from './common.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const root = path.resolve(here, '../..');
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const seconds = Number(arg('seconds', '3'));
const reps = Number(arg('reps', '3'));
const qds = arg('qd', '1,32,128').split(',').map(Number);
const device = arg('device', 'sim');
if (!(seconds > 0) || !(reps >= 1) || qds.some((q) => !(q >= 1 && q <= 1000)) || (device !== 'sim' && device !== 'loopback')) {
  console.error('usage: npm run bench [-- --seconds S --reps N --qd 1,32,128 --device sim|loopback]');
  process.exit(2);
}

interface Run {
  driver: string;
  qd: number;
  queues: number;
  ios: number;
  wallNs: number;
  cpuNs: number;
  polls: number;
  emptyPolls: number;
  emptyPollNs: number | null;
  busyNs: number | null;
  clockNs: number | null;
  errors: number;
  simCpuNs?: number;
}

// 1. The native baseline, compiled with the machine's compiler.
const buildDir = path.join(root, 'bench/build');
fs.mkdirSync(buildDir, { recursive: true });
const nativeBin = path.join(buildDir, 'nvme-native');
execFileSync('cc', ['-O2', '-Wall', '-o', nativeBin, path.join(root, 'bench/native/nvme-native.c')], { stdio: 'inherit' });

// 2. The simulated controller as its own process.
// With the loopback device, each driver gets a simulator of its own: one
// that was stopped under a driver's feet does not know its queues' state.
let simNo = 0;
process.setMaxListeners(0); // startSim hooks exit and signals once per simulator
let name = `bench-${process.pid}`;
const simConfig = { name, nullIo: true, mqes: 1023, maxIoQueuePairs: 8, namespaces: [{ lbaSize: 512, blocks: 2 ** 21 }] };
let { ready, stop: stopSim } = await startSim(simConfig);
let simPid = Number(/ready \S+ pid (\d+)/.exec(ready)?.[1]);
async function freshSim(): Promise<void> {
  await stopSim();
  name = `bench-${process.pid}-${++simNo}`;
  ({ ready, stop: stopSim } = await startSim({ ...simConfig, name }));
  simPid = Number(/ready \S+ pid (\d+)/.exec(ready)?.[1]);
}

const ticksNs = 1e9 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || '100');
function simCpuNs(): number {
  // /proc/PID/stat fields 14 and 15: utime and stime in clock ticks (all threads).
  const f = fs.readFileSync(`/proc/${simPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * ticksNs;
}

async function runChild(make: () => [string, string[]]): Promise<Run> {
  if (device === 'loopback' && simNo++ > 0) await freshSim();
  const [cmd, args] = make();
  return new Promise((resolve, reject) => {
    const s0 = simCpuNs();
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', (code) => {
      if (device === 'loopback') process.kill(simPid, 'SIGCONT'); // whatever the child did
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${code}`));
      const r = JSON.parse(out.trim().split('\n').pop()!) as Run;
      // The sim's CPU over the whole child run (setup included) scaled to the measured share of it.
      r.simCpuNs = simCpuNs() - s0;
      resolve(r);
    });
  });
}

const trid = (): string => `trtype:sim name:${name}`;
const jsDriver = path.join(here, 'js-driver.js');
const jsDev = (): string[] => (device === 'loopback' ? ['0.5', `loopback:${simPid}`] : []);
const paths = arg('paths', 'callback,promise,batch').split(',').filter((p): p is 'callback' | 'promise' | 'batch' => p === 'callback' || p === 'promise' || p === 'batch');
const drivers: Array<[string, (qd: number, nq?: number) => [string, string[]]]> = [
  ...paths.map((p): [string, (qd: number) => [string, string[]]] => [`nvme-wasm ${p}`, (qd) => [process.execPath, [jsDriver, trid(), p, String(qd), String(seconds), ...jsDev()]]]),
  ['native C', (qd, nq = 1) => [nativeBin, [name, '/dev/shm', String(qd), String(seconds), String(nq), ...(device === 'loopback' ? ['0.5', 'loopback'] : [])]]],
];

console.log(`nvme-wasm benchmark: 4 KiB random reads, ${device === 'loopback' ? `in-process loopback null device (simulator ${simPid} stopped)` : `simulated controller (nullIo) in process ${simPid}`}, ${reps} x ${seconds} s per point, medians`);
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

const results = new Map<string, Run[]>();
const key = (d: string, qd: number) => `${d}@${qd}`;
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const qd of qds) {
      for (const [label, make] of drivers) {
        const r = await runChild(() => make(qd));
        if (r.errors) throw new Error(`${label} QD ${qd}: ${r.errors} I/O errors`);
        const k = key(label, qd);
        results.set(k, [...(results.get(k) ?? []), r]);
        process.stderr.write(`  round ${rep + 1} ${label.padEnd(18)} QD ${String(qd).padStart(3)}: ${((r.ios / r.wallNs) * 1e9).toFixed(0).padStart(9)} IOPS, ${(r.cpuNs / r.ios).toFixed(1)} CPU ns/IO\n`);
      }
    }
  }
  // The simulator's ceiling: as many completions as it gives a driver much faster than itself.
  const ceiling: Run[] = [];
  for (let rep = 0; rep < reps; rep++) ceiling.push(await runChild(() => [nativeBin, [name, '/dev/shm', '128', String(seconds), '4', ...(device === 'loopback' ? ['0.5', 'loopback'] : [])]]));

  interface Point { iops: number; cpuPerIo: number; busyPerIo: number | null; emptyPct: number; simPerIo: number; cpuShare: number }
  const point = (rs: Run[]): Point => ({
    iops: median(rs.map((r) => (r.ios / r.wallNs) * 1e9)),
    cpuPerIo: median(rs.map((r) => r.cpuNs / r.ios)),
    busyPerIo: rs[0]!.busyNs === null ? null : median(rs.map((r) => (r.busyNs! - (r.polls - r.emptyPolls) * r.clockNs!) / r.ios)),
    emptyPct: median(rs.map((r) => (100 * r.emptyPolls) / Math.max(1, r.polls))),
    simPerIo: median(rs.map((r) => r.simCpuNs! / r.ios)),
    cpuShare: median(rs.map((r) => r.cpuNs / r.wallNs)),
  });
  const ceil = point(ceiling);
  const f = (x: number | null, d = 0) => (x === null ? '-' : x.toFixed(d));
  console.log('');
  console.log(`${'driver'.padEnd(20)} ${'QD'.padStart(4)} ${'IOPS'.padStart(10)} ${'CPU ns/IO'.padStart(10)} ${'busy ns/IO'.padStart(11)} ${'empty%'.padStart(7)} ${'CPU/wall'.padStart(9)} ${'sim ns/IO'.padStart(10)}`);
  const table: Record<string, Point> = {};
  for (const qd of qds) {
    for (const [label] of drivers) {
      const p = point(results.get(key(label, qd))!);
      table[key(label, qd)] = p;
      console.log(`${label.padEnd(20)} ${String(qd).padStart(4)} ${f(p.iops).padStart(10)} ${f(p.cpuPerIo, 1).padStart(10)} ${f(p.busyPerIo, 1).padStart(11)} ${f(p.emptyPct, 1).padStart(7)} ${f(p.cpuShare, 2).padStart(9)} ${f(p.simPerIo, 1).padStart(10)}`);
    }
  }
  console.log(`${'native C, 4 x QD128'.padEnd(20)} ${'512'.padStart(4)} ${f(ceil.iops).padStart(10)} ${f(ceil.cpuPerIo, 1).padStart(10)} ${f(ceil.busyPerIo, 1).padStart(11)} ${f(ceil.emptyPct, 1).padStart(7)} ${f(ceil.cpuShare, 2).padStart(9)} ${f(ceil.simPerIo, 1).padStart(10)}   <- ${device === 'loopback' ? 'loopback, 4 queue pairs' : 'simulator ceiling'}`);
  console.log('');
  console.log('nvme-wasm / native, per I/O:');
  for (const qd of qds) {
    const n = table[key('native C', qd)]!;
    for (const pth of paths) {
      const j = table[key(`nvme-wasm ${pth}`, qd)]!;
      const busy = j.busyPerIo !== null && n.busyPerIo !== null ? ` busy ns ${(j.busyPerIo / n.busyPerIo).toFixed(2)}` : '';
      const bound = device === 'loopback' ? 'loopback device' : j.iops >= 0.85 * ceil.iops ? 'simulator-bound' : j.emptyPct < 50 ? 'driver-bound' : qd === 1 ? 'round-trip bound' : 'waiting on the simulator';
      console.log(`  QD ${String(qd).padStart(3)} ${pth.padEnd(8)}: CPU ns ${(j.cpuPerIo / n.cpuPerIo).toFixed(2)}${busy}   (${device === 'loopback' ? 'loopback device' : `nvme-wasm ${bound}; native at ${((100 * n.iops) / ceil.iops).toFixed(0)}% of the simulator ceiling`})`);
    }
  }
  const file = path.join(buildDir, 'bench-results.json');
  fs.writeFileSync(file, JSON.stringify({ seconds, reps, qds, device, simConfig, loadavg: os.loadavg(), points: table, ceiling: ceil, runs: Object.fromEntries(results), ceilingRuns: ceiling }, null, 2));
  const chart = writeBarChart(path.join(buildDir, `bench-cpu-per-io-${device}.svg`), {
    title: `CPU ns per 4 KiB read, ${device === 'loopback' ? 'in-process loopback device' : 'simulated controller'} (medians of ${reps})`,
    yLabel: 'CPU ns per I/O',
    series: drivers.map(([label]) => label),
    groups: qds.map((qd) => ({ label: `QD ${qd}`, values: Object.fromEntries(drivers.map(([label]) => [label, table[key(label, qd)]!.cpuPerIo])) })),
    caption: `npm run bench -- --device ${device} --seconds ${seconds} --reps ${reps}, ${new Date().toISOString().slice(0, 10)}, load average ${os.loadavg()[0]!.toFixed(1)}`,
  });
  console.log(`\nall runs: ${path.relative(root, file)}; chart: ${path.relative(root, chart)}`);
} finally {
  await stopSim();
}
