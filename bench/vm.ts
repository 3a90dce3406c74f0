// `npm run bench:vm`: the kernel-driver baseline on QEMU's NVMe controller,
// and nvme-wasm on the same controller in the same boot.
//
// One guest (TCG, 2 vCPUs, intel-iommu, kernel nvme.poll_queues=<vCPUs> so
// io_uring can poll), one controller at 0000:00:04.0 with one 1 GiB
// namespace of 4096-byte blocks. bench/vm-guest.ts runs inside: 4 KiB random
// reads at each QD, repetitions interleaved, with
//   - fio, ioengine io_uring, O_DIRECT, on the kernel's block device;
//   - the same with hipri=1 (polled completions on the poll queues);
//   - the minimal polled C driver (bench/native/nvme-vfio.c, vfio only);
//   - nvme-wasm perf through trtype:PCIe, the controller moved to vfio-pci
//     (or uio_pci_generic with --route uio) and back.
// Figures per run: IOPS (completions / run time), mean and p99 latency
// (submission to completion: fio lat_ns, perf's per-poll timestamps), then
// medians over the repetitions and nvme-wasm / fio ratios. TCG varies by tens
// of percent between runs: compare within one invocation only.
//
//   npm run bench:vm [-- --seconds 5 --reps 3 --qd 1,32 --route vfio]
//   npm run bench:vm -- --base ../other-checkout --no-kernel --reps 8 --seconds 2
//     (an A/B of two builds' perf in one boot, next to the C driver)
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { runInGuest, PROJECT_DIR, bdfOf } from '../test/vm/guest.js';
import { provision } from '../test/vm/provision.js';
import { DRIVERS, type BenchRun } from './vm-common.js';
import { guestRuns, medians } from './guest-results.js';
import { keepProfiles } from './cpuprofile-top.js';

/** The guest folder (under NVME_WASM_VM_SHARED) and bench/build/ folder of --profile's profiles. */
const PROFILE_DIR = 'vm-prof';
import { positive } from './common.js';
import { writeBarChart } from './svg-chart.js';

function qdList(v: string): number[] {
  const l = v.split(',').map(Number);
  if (l.some((q) => !Number.isInteger(q) || q < 1 || q > 1024)) throw new InvalidArgumentError(`expected queue depths 1..1024, comma-separated, got "${v}"`);
  return l;
}
function route(v: string): string {
  if (v !== 'vfio' && v !== 'uio') throw new InvalidArgumentError(`expected vfio or uio, got "${v}"`);
  return v;
}

const opts = new Command('bench:vm')
  .option('--seconds <s>', 'run time of each point', positive, 5)
  .option('--reps <n>', 'repetitions (interleaved)', positive, 3)
  .option('--qd <list>', 'queue depths', qdList, [1, 32])
  .option('--route <r>', 'nvme-wasm route: vfio or uio', route, 'vfio')
  .option('--smp <n>', 'guest vCPUs', positive, 2)
  .option('--base <dir>', "another checkout (built) whose perf runs next to this one's, alternating")
  .option('--no-kernel', 'leave out the fio runs on the kernel driver')
  .option('--profile', 'then nvme-wasm perf once more per QD under node --cpu-prof: profiles in bench/build/vm-prof/, summed up here')
  .parse()
  .opts<{ seconds: number; reps: number; qd: number[]; route: string; smp: number; base?: string; kernel: boolean; profile?: boolean }>();
const base = opts.base ? path.resolve(opts.base) : undefined;
if (base && !fs.existsSync(path.join(base, 'dist/host/cli/main.js'))) {
  console.error(`bench:vm: error: --base ${base}: no dist/host/cli/main.js there (build that checkout first)`);
  process.exit(2);
}

const bdf = bdfOf(0);
const prov = provision();
console.log(
  `nvme-wasm VM benchmark: 4 KiB random read, QEMU NVMe at ${bdf} (TCG, ${opts.smp} vCPUs), ${opts.reps} x ${opts.seconds} s per point, QD ${opts.qd.join(',')}`,
);
const result = await runInGuest({
  name: 'bench',
  provisioned: prov,
  nvme: [{ namespaces: [{ lbaSize: 4096, sizeMiB: 1024 }] }],
  iommu: true,
  smp: opts.smp,
  memMiB: 2048,
  hugepages: 128,
  kernelArgs: [`nvme.poll_queues=${opts.smp}`],
  script: `exec node dist/bench/vm-guest.js --bdf ${bdf} --seconds ${opts.seconds} --reps ${opts.reps} --qd ${opts.qd.join(',')} --route ${opts.route}${base ? ` --base '${base}'` : ''}${opts.kernel ? '' : ' --no-kernel'}${opts.profile ? ` --profile "$NVME_WASM_VM_SHARED/${PROFILE_DIR}"` : ''} --out "$NVME_WASM_VM_SHARED/bench.json"`,
  timeoutMs: (120 + (opts.reps * ((opts.kernel ? 2 : 0) + 2 + (base ? 1 : 0)) + (opts.profile ? 1 : 0)) * opts.qd.length * (opts.seconds + 30)) * 1000,
  onStdout: (s) => process.stdout.write(s),
  onStderr: (s) => process.stderr.write(s),
});
const outFile = path.join(PROJECT_DIR, 'bench/build/vm-bench-results.json');
const runs = guestRuns<BenchRun>(result, outFile, { opts });
keepProfiles(result.files, PROFILE_DIR, 'processCompletions');

interface Med {
  iops: number;
  meanUs: number;
  p99Us: number;
  n: number;
  error?: string;
}
function med(driver: string, qd: number): Med {
  const ok = runs.filter((r) => r.driver === driver && r.qd === qd && r.error === undefined);
  const err = runs.find((r) => r.driver === driver && r.qd === qd && r.error !== undefined)?.error;
  return { ...medians(ok), ...(ok.length === 0 && err ? { error: err } : {}) };
}

console.log(`\nmedians over ${opts.reps} repetitions (boot ${result.bootSeconds}s, guest run ${result.seconds.toFixed(0)} s):`);
console.log(`${'driver'.padEnd(28)} ${'QD'.padStart(3)} ${'IOPS'.padStart(9)} ${'mean us'.padStart(9)} ${'p99 us'.padStart(9)}  runs`);
for (const qd of opts.qd) {
  for (const d of Object.values(DRIVERS)) {
    const m = med(d, qd);
    if (m.n === 0 && m.error === undefined && ((d === DRIVERS.base && !base) || ((d === DRIVERS.fio || d === DRIVERS.fioPolled) && !opts.kernel))) continue;
    if (m.n === 0) console.log(`${d.padEnd(28)} ${String(qd).padStart(3)} ${'-'.padStart(9)} ${'-'.padStart(9)} ${'-'.padStart(9)}  0  (${m.error ?? 'no runs'})`);
    else console.log(`${d.padEnd(28)} ${String(qd).padStart(3)} ${m.iops.toFixed(0).padStart(9)} ${m.meanUs.toFixed(1).padStart(9)} ${m.p99Us.toFixed(1).padStart(9)}  ${m.n}`);
  }
}

console.log('\nratios (medians):');
for (const qd of opts.qd) {
  const fio = med(DRIVERS.fio, qd);
  const polled = med(DRIVERS.fioPolled, qd);
  const wasm = med(DRIVERS.wasm, qd);
  const r = (a: number, b: number): string => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
  console.log(`  QD ${String(qd).padStart(3)}: fio polled / fio   IOPS ${r(polled.iops, fio.iops)}  mean latency ${r(polled.meanUs, fio.meanUs)}`);
  if (wasm.n === 0) {
    console.log(`  QD ${String(qd).padStart(3)}: nvme-wasm: no figures (${wasm.error ?? 'no runs'})`);
    continue;
  }
  console.log(`  QD ${String(qd).padStart(3)}: nvme-wasm / fio          IOPS ${r(wasm.iops, fio.iops)}  mean latency ${r(wasm.meanUs, fio.meanUs)}  p99 ${r(wasm.p99Us, fio.p99Us)}`);
  console.log(`  QD ${String(qd).padStart(3)}: nvme-wasm / fio polled   IOPS ${r(wasm.iops, polled.iops)}  mean latency ${r(wasm.meanUs, polled.meanUs)}  p99 ${r(wasm.p99Us, polled.p99Us)}`);
  const c = med(DRIVERS.native, qd);
  if (c.n === 0) console.log(`  QD ${String(qd).padStart(3)}: C driver: no figures (${c.error ?? 'no runs'})`);
  else console.log(`  QD ${String(qd).padStart(3)}: nvme-wasm / C driver     IOPS ${r(wasm.iops, c.iops)}  mean latency ${r(wasm.meanUs, c.meanUs)}  (target IOPS >= 0.9)`);
  if (base) {
    const b = med(DRIVERS.base, qd);
    const pairs = runs.filter((x) => x.qd === qd && x.driver === DRIVERS.wasm && x.iops !== undefined).map((x) => [x, runs.find((y) => y.qd === qd && y.rep === x.rep && y.driver === DRIVERS.base && y.iops !== undefined)] as const).filter(([, y]) => y !== undefined);
    const perRep = pairs.map(([x, y]) => x.iops! / y!.iops!).sort((p, q) => p - q);
    const mid = perRep.length ? perRep[perRep.length >> 1]! : NaN;
    console.log(`  QD ${String(qd).padStart(3)}: this build / base      IOPS ${r(wasm.iops, b.iops)} (median of per-repetition ratios ${mid.toFixed(2)}, range ${perRep.length ? `${perRep[0]!.toFixed(2)}-${perRep[perRep.length - 1]!.toFixed(2)}` : '-'})  mean latency ${r(wasm.meanUs, b.meanUs)}`);
    if (c.n > 0) console.log(`  QD ${String(qd).padStart(3)}: base / C driver          IOPS ${r(b.iops, c.iops)}`);
  }
}
const shown = Object.values(DRIVERS).filter((d) => runs.some((x) => x.driver === d));
const chart = writeBarChart(path.join(PROJECT_DIR, 'bench/build/vm-bench-iops.svg'), {
  title: `4 KiB random read on QEMU's NVMe controller (TCG), medians of ${opts.reps}`,
  yLabel: 'IOPS',
  series: shown,
  groups: opts.qd.map((qd) => ({ label: `QD ${qd}`, values: Object.fromEntries(shown.map((d) => [d, med(d, qd).iops])) })),
  caption: `npm run bench:vm -- --seconds ${opts.seconds} --reps ${opts.reps} --route ${opts.route}, ${new Date().toISOString().slice(0, 10)}`,
});
console.log(`\nall runs: ${path.relative(process.cwd(), outFile)}; chart: ${path.relative(process.cwd(), chart)}; guest console: ${result.consoleLog}`);
