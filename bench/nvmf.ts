// `npm run bench:nvmf`: the kernel's NVMe/TCP initiator (fio, io_uring,
// O_DIRECT) against (i) the project's target, `nvme-wasm nvmf-tgt`, in
// front of QEMU's NVMe controller through vfio-pci and (ii) the kernel's
// nvmet-tcp in front of the same controller through the kernel nvme driver
// (device_path /dev/nvme0n1), all on the guest's loopback, in one boot.
//
// One guest (TCG, 2 vCPUs, intel-iommu), one controller at 0000:00:04.0
// with one 1 GiB namespace of 4096-byte blocks; bench/nvmf-guest.ts runs
// inside. Workloads: 4 KiB random read at QD1 and QD32, 128 KiB sequential
// write at QD32; repetitions interleaved (the first target alternates).
// Per run: IOPS, mean and p99 latency (fio lat_ns: submission to
// completion), and CPU per I/O:
//   - outside fio: guest /proc/stat busy time over the run minus fio's own
//     (its usr_cpu+sys_cpu): target + initiator work items + loopback stack,
//     measured the same way for both targets;
//   - the project's target process: utime+stime from /proc/PID/stat;
//   - the target's CPU for nvmet-tcp, which runs in kernel work items that
//     cannot be told from the initiator's: its outside-fio CPU minus the
//     initiator + stack share seen with the project's target (outside fio
//     minus the target process), an estimate, marked "~".
// Then medians over the repetitions and project / kernel ratios. TCG varies
// by tens of percent between runs: compare within one invocation only.
//
//   npm run bench:nvmf [-- --seconds 5 --reps 3 --smp 2]
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { runInGuest, PROJECT_DIR, bdfOf } from '../test/vm/guest.js';
import { provision } from '../test/vm/provision.js';
import { WORKLOADS, TARGETS, type NvmfBenchRun, type TargetId, type WorkloadId } from './nvmf-common.js';

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  return n;
}
function workloadList(v: string): WorkloadId[] {
  const l = v.split(',').map((s) => s.trim());
  for (const w of l) if (!(w in WORKLOADS)) throw new InvalidArgumentError(`workloads are ${Object.keys(WORKLOADS).join(', ')}; got "${w}"`);
  return l as WorkloadId[];
}

const opts = new Command('bench:nvmf')
  .option('--seconds <s>', 'run time of each point', positive, 5)
  .option('--reps <n>', 'repetitions (interleaved)', positive, 3)
  .option('--workloads <list>', `workloads (${Object.keys(WORKLOADS).join(',')})`, workloadList, Object.keys(WORKLOADS) as WorkloadId[])
  .option('--smp <n>', 'guest vCPUs', positive, 2)
  .parse()
  .opts<{ seconds: number; reps: number; workloads: WorkloadId[]; smp: number }>();

const bdf = bdfOf(0);
const prov = provision();
console.log(`nvme-wasm NVMe/TCP benchmark: kernel initiator (fio io_uring) over the guest's loopback, QEMU NVMe at ${bdf} (TCG, ${opts.smp} vCPUs), ${opts.reps} x ${opts.seconds} s per point`);
const result = await runInGuest({
  name: 'bench-nvmf',
  provisioned: prov,
  nvme: [{ namespaces: [{ lbaSize: 4096, sizeMiB: 1024 }] }],
  iommu: true,
  smp: opts.smp,
  memMiB: 2048,
  hugepages: 128,
  script: `exec node dist/bench/nvmf-guest.js --bdf ${bdf} --seconds ${opts.seconds} --reps ${opts.reps} --workloads ${opts.workloads.join(',')} --out "$NVME_WASM_VM_SHARED/bench.json"`,
  timeoutMs: (180 + opts.reps * (60 + opts.workloads.length * 2 * (opts.seconds + 15))) * 1000,
  onStdout: (s) => process.stdout.write(s),
  onStderr: (s) => process.stderr.write(s),
});
const json = result.files.get('bench.json');
if (result.exitCode !== 0 || !json) {
  console.error(`guest bench exited ${result.exitCode}${json ? '' : ' without results'}\n${result.stderr.slice(-3000)}`);
  process.exit(1);
}
const runs = (JSON.parse(json.toString()) as { runs: NvmfBenchRun[] }).runs;
const outFile = path.join(PROJECT_DIR, 'bench/build/nvmf-bench-results.json');
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), opts, runs }, null, 2));

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
interface Med {
  iops: number;
  meanUs: number;
  p99Us: number;
  outsideUs: number;
  /** The target's CPU per I/O (µs); `estimated` for nvmet-tcp. */
  targetUs: number;
  estimated: boolean;
  n: number;
  error?: string;
}
function med(target: TargetId, w: WorkloadId): Med {
  const ok = runs.filter((r) => r.target === target && r.workload === w && r.error === undefined);
  const err = runs.find((r) => r.target === target && r.workload === w && r.error !== undefined)?.error;
  const m = (f: (r: NvmfBenchRun) => number): number => median(ok.map(f));
  const outsideUs = m((r) => r.outsideFioUsPerIo!);
  let targetUs = NaN;
  if (target === 'project') targetUs = m((r) => r.targetProcessUsPerIo!);
  else {
    // Initiator + stack share, from the project's runs of the same workload (outside fio minus the target process).
    const p = runs.filter((r) => r.target === 'project' && r.workload === w && r.error === undefined);
    const share = median(p.map((r) => r.outsideFioUsPerIo! - r.targetProcessUsPerIo!));
    targetUs = Number.isFinite(share) ? outsideUs - share : NaN;
  }
  return {
    iops: m((r) => r.iops!), meanUs: m((r) => r.meanUs!), p99Us: m((r) => r.p99Us!), outsideUs, targetUs, estimated: target === 'kernel', n: ok.length,
    ...(ok.length === 0 && err ? { error: err } : {}),
  };
}

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nmedians over ${opts.reps} repetitions (boot ${result.bootSeconds}s, guest run ${result.seconds.toFixed(0)} s):`);
const head = `${'workload'.padEnd(20)} ${'target'.padEnd(31)} ${'IOPS'.padStart(8)} ${'mean us'.padStart(9)} ${'p99 us'.padStart(9)} ${'CPU us/IO'.padStart(10)} ${'tgt us/IO'.padStart(10)} ${'IOPS/tgt CPU s'.padStart(15)}  runs`;
console.log(head);
for (const w of opts.workloads) {
  for (const t of Object.keys(TARGETS) as TargetId[]) {
    const m = med(t, w);
    const label = `${WORKLOADS[w].label.padEnd(20)} ${TARGETS[t].padEnd(31)}`;
    if (m.n === 0) {
      console.log(`${label} ${'-'.padStart(8)} ${'-'.padStart(9)} ${'-'.padStart(9)} ${'-'.padStart(10)} ${'-'.padStart(10)} ${'-'.padStart(15)}  0  (${m.error ?? 'no runs'})`);
      continue;
    }
    const tgt = `${m.estimated && Number.isFinite(m.targetUs) ? '~' : ''}${f(m.targetUs)}`;
    console.log(`${label} ${f(m.iops, 0).padStart(8)} ${f(m.meanUs).padStart(9)} ${f(m.p99Us).padStart(9)} ${f(m.outsideUs).padStart(10)} ${tgt.padStart(10)} ${f(1e6 / m.targetUs, 0).padStart(15)}  ${m.n}`);
  }
}
console.log('\n  CPU us/IO: guest CPU outside fio per I/O (target, initiator work items, loopback stack); tgt us/IO: the target\'s own');
console.log('  (nvme-wasm: its process; nvmet-tcp "~": CPU us/IO minus the initiator + stack share seen with nvme-wasm; "-" until nvme-wasm ran)');

console.log('\nratios, nvme-wasm / kernel nvmet-tcp (medians):');
for (const w of opts.workloads) {
  const p = med('project', w);
  const k = med('kernel', w);
  if (p.n === 0 || k.n === 0) {
    console.log(`  ${WORKLOADS[w].label.padEnd(20)} no ratio: ${p.n === 0 ? `nvme-wasm not run (${p.error ?? 'no runs'})` : `nvmet-tcp not run (${k.error ?? 'no runs'})`}`);
    continue;
  }
  const r = (a: number, b: number): string => f(a / b, 2);
  console.log(`  ${WORKLOADS[w].label.padEnd(20)} IOPS ${r(p.iops, k.iops)}  mean latency ${r(p.meanUs, k.meanUs)}  p99 ${r(p.p99Us, k.p99Us)}  CPU/IO outside fio ${r(p.outsideUs, k.outsideUs)}  IOPS per target CPU ${r(k.targetUs, p.targetUs)}`);
}
console.log(`\nall runs: ${path.relative(process.cwd(), outFile)}; guest console: ${result.consoleLog}`);
