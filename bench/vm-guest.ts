// Guest side of `npm run bench:vm` (bench/vm.ts boots the guest and runs
// this): 4 KiB random reads on one QEMU NVMe controller, side by side in one
// boot, repetitions interleaved so drift under TCG hits every driver alike:
//
//   for each repetition:
//     kernel nvme driver:  for each QD: fio io_uring, fio io_uring polled (hipri)
//     C driver:            controller moved to vfio-pci, for each QD: the
//                          minimal polled C driver (bench/native/nvme-vfio.c)
//     nvme-wasm:           controller moved to vfio-pci (or uio_pci_generic),
//                          for each QD: nvme-wasm perf; then back to nvme
//
// Writes every run to --out (JSON) and prints one line per run.
//   --base DIR: also another checkout's perf (DIR/dist, built), right
//                          before or after this one's (alternating by repetition)
//   --no-kernel: leave out the fio runs (an A/B of two nvme-wasm builds)
//
// Usage: node dist/bench/vm-guest.js --bdf 0000:00:04.0 --seconds 5 --reps 3 --qd 1,32 --route vfio --out FILE [--base DIR] [--no-kernel]
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { bindDriver, rebindDefault } from '../hal/pci-bind.js';
import { kernelReady } from '../test/vm/kernel.js';
import { ROUTE_DRIVER, type VmRoute } from '../test/vm/env.js';
import { DRIVERS, type BenchRun } from './vm-common.js';

const CLI = fileURLToPath(new URL('../host/cli/main.js', import.meta.url));

const program = new Command('vm-guest')
  .requiredOption('--bdf <addr>', 'controller')
  .option('--nsid <n>', 'namespace', '1')
  .option('--seconds <s>', 'run time per point', '5')
  .option('--reps <n>', 'repetitions', '3')
  .option('--qd <list>', 'queue depths', '1,32')
  .option('--route <r>', 'nvme-wasm route: vfio or uio', 'vfio')
  .option('--base <dir>', "another checkout whose perf runs next to this one's")
  .option('--no-kernel', 'no fio runs on the kernel driver')
  .option('--profile <dir>', 'after the repetitions, nvme-wasm perf once more per QD under node --cpu-prof, its profiles written to DIR (not in the results)')
  .requiredOption('--out <file>', 'results JSON')
  .parse();
const o = program.opts<{ bdf: string; nsid: string; seconds: string; reps: string; qd: string; route: VmRoute; out: string; base?: string; kernel: boolean; profile?: string }>();
const BASE_CLI = o.base ? `${o.base}/dist/host/cli/main.js` : undefined;
const seconds = Number(o.seconds);
const reps = Number(o.reps);
const qds = o.qd.split(',').map(Number);
const nsid = Number(o.nsid);
const device = { bdf: o.bdf, namespaces: [{ nsid }] };

const runs: BenchRun[] = [];
function record(r: BenchRun): void {
  runs.push(r);
  const fig = r.error ? `not run: ${r.error}` : `${r.iops!.toFixed(0).padStart(8)} IOPS  mean ${r.meanUs!.toFixed(1).padStart(8)} us  p99 ${r.p99Us!.toFixed(1).padStart(8)} us`;
  console.log(`rep ${r.rep}  QD ${String(r.qd).padStart(3)}  ${r.driver.padEnd(28)} ${fig}`);
  fs.writeFileSync(o.out, JSON.stringify({ seconds, reps, qds, route: o.route, runs }, null, 2));
}

interface FioLat {
  mean: number;
  percentile?: Record<string, number>;
}

/** One fio job on the kernel's block device; latency is submission to completion (lat_ns). */
function fio(blk: string, qd: number, polled: boolean): Omit<BenchRun, 'rep' | 'qd' | 'driver'> {
  const args = [
    '--name=randread',
    `--filename=/dev/${blk}`,
    '--ioengine=io_uring',
    '--direct=1',
    '--rw=randread',
    '--bs=4k',
    `--iodepth=${qd}`,
    ...(polled ? ['--hipri=1'] : []),
    '--time_based',
    `--runtime=${seconds}`,
    '--ramp_time=0.5',
    '--norandommap',
    '--randrepeat=0',
    '--lat_percentiles=1',
    '--output-format=json',
  ];
  const r = spawnSync('fio', args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) return { error: `fio exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}` };
  const job = (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ read: { iops: number; lat_ns: FioLat; clat_ns: FioLat } }> }).jobs[0]!.read;
  const lat = job.lat_ns.percentile ? job.lat_ns : job.clat_ns;
  return { iops: job.iops, meanUs: job.lat_ns.mean / 1000, p99Us: (lat.percentile?.['99.000000'] ?? NaN) / 1000 };
}

const C_BIN = '/tmp/nvme-vfio';
const cc = spawnSync('cc', ['-O2', '-Wall', '-o', C_BIN, fileURLToPath(new URL('../../bench/native/nvme-vfio.c', import.meta.url))], { encoding: 'utf8' });
const ccError = cc.status === 0 ? undefined : `cc exited ${cc.status}: ${cc.stderr.trim().split('\n').slice(-1).join('')}`;

/** The minimal polled C driver (vfio only): same reads, same device, nothing else per I/O. */
function cDriver(qd: number): Omit<BenchRun, 'rep' | 'qd' | 'driver'> {
  if (ccError) return { error: ccError };
  if (o.route !== 'vfio') return { error: 'the C driver is VFIO only' };
  const r = spawnSync(C_BIN, [o.bdf, String(qd), String(seconds), String(nsid)], { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  if (r.status !== 0) return { error: `nvme-vfio exited ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-1).join('')}` };
  const j = JSON.parse(r.stdout) as { iops: number; meanUs: number; p99Us: number };
  return { iops: j.iops, meanUs: j.meanUs, p99Us: j.p99Us };
}

/** nvme-wasm perf on the controller through the PCIe transport. */
function wasmPerf(qd: number, cli = CLI, nodeArgs: string[] = []): Omit<BenchRun, 'rep' | 'qd' | 'driver'> {
  const args = [...nodeArgs, cli, 'perf', '-r', `trtype:PCIe traddr:${o.bdf}`, '-q', String(qd), '-o', '4096', '-w', 'randread', '-t', String(seconds), '-L', '--json'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) return { error: `perf exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1).join('')}` };
  const doc = JSON.parse(r.stdout) as { namespaces: Array<{ nsid: number; iops: number; latencyUs: { average: number }; percentilesUs?: Record<string, number> }> };
  const ns = doc.namespaces.find((n) => n.nsid === nsid) ?? doc.namespaces[0]!;
  return { iops: ns.iops, meanUs: ns.latencyUs.average, p99Us: ns.percentilesUs?.['99.000000'] ?? NaN };
}

/** The kernel's queue split ("N/0/M default/read/poll queues") and whether the block device polls. */
function pollSetup(ctrl: string, blk: string): { ioPoll: boolean; queues: string } {
  const ioPoll = fs.readFileSync(`/sys/block/${blk}/queue/io_poll`, 'latin1').trim() === '1';
  const log = spawnSync('dmesg', [], { encoding: 'utf8' }).stdout ?? '';
  const queues = [...log.matchAll(new RegExp(`${ctrl}: (\\d+/\\d+/\\d+ default/read/poll queues)`, 'g'))].pop()?.[1] ?? 'queue split not logged';
  return { ioPoll, queues };
}

for (let rep = 1; rep <= reps; rep++) {
  const { ctrl, ns } = await kernelReady(device);
  const blk = ns.get(nsid)!;
  const poll = pollSetup(ctrl, blk);
  if (rep === 1) console.log(`kernel: ${ctrl} ${poll.queues}, ${blk} io_poll=${poll.ioPoll ? 1 : 0}`);
  for (const qd of o.kernel ? qds : []) {
    record({ rep, qd, driver: DRIVERS.fio, ...fio(blk, qd, false) });
    // Without poll queues hipri would not poll: no figures rather than wrong ones.
    record({ rep, qd, driver: DRIVERS.fioPolled, ...(poll.ioPoll ? fio(blk, qd, true) : { error: `${blk} has io_poll=0 (nvme.poll_queues not set)` }) });
  }

  // ---- nvme-wasm perf runs, same boot, same controller ----------------
  // The controller leaves the kernel for the user-space route; perf runs
  // through the PCIe transport (trtype:PCIe). Until that transport exists,
  // perf exits non-zero and the runs are recorded as 'not run' with its
  // message; the ratios appear once it works.
  bindDriver(o.bdf, ROUTE_DRIVER[o.route]);
  try {
    for (const qd of qds) {
      record({ rep, qd, driver: DRIVERS.native, ...cDriver(qd) });
      if (!BASE_CLI) {
        record({ rep, qd, driver: DRIVERS.wasm, ...wasmPerf(qd) });
        continue;
      }
      // Which build goes first alternates, so a drift within a repetition hits both alike.
      const order = rep % 2 === 1 ? (['wasm', 'base'] as const) : (['base', 'wasm'] as const);
      for (const which of order) record({ rep, qd, driver: DRIVERS[which], ...wasmPerf(qd, which === 'base' ? BASE_CLI : CLI) });
    }
  } finally {
    rebindDefault(o.bdf);
  }
  // ---------------------------------------------------------------------
}
if (o.profile) {
  // 100 us sampling: under TCG the default 1 ms would give a few thousand samples per run.
  bindDriver(o.bdf, ROUTE_DRIVER[o.route]);
  try {
    for (const qd of qds) {
      const r = wasmPerf(qd, CLI, ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${o.profile}`, `--cpu-prof-name=perf-qd${qd}.cpuprofile`]);
      console.log(`profiled perf QD${qd}: ${r.error ?? `${r.iops!.toFixed(0)} IOPS, mean ${r.meanUs!.toFixed(1)} us (with the profiler's cost)`}`);
    }
  } finally {
    rebindDefault(o.bdf);
  }
}
await kernelReady(device);
