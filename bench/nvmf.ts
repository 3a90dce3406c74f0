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
//   - nvmet-tcp runs in kernel work items that cannot be told from the
//     initiator's (both high-priority kworkers): its own CPU is not
//     separated; "IOPS per CPU s" compares both targets by the outside-fio
//     CPU, the same measure on both sides.
// Then medians over the repetitions and project / kernel ratios. TCG varies
// by tens of percent between runs: compare within one invocation only.
//
//   npm run bench:nvmf [-- --seconds 5 --reps 3 --smp 2]
//   npm run bench:nvmf -- --from bench/build/nvmf-bench-results.json   (the table again, no boot)
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { runInGuest, PROJECT_DIR, bdfOf } from '../test/vm/guest.js';
import { provision } from '../test/vm/provision.js';
import { WORKLOADS, TARGETS, VARIANT_ARGS, VARIANTS, PROFILE_DIR, isKernelTarget, type NvmfBenchRun, type TargetId, type WorkloadId } from './nvmf-common.js';
import { guestRuns, medians } from './guest-results.js';
import { median, positive } from './common.js';
import { keepProfiles } from './cpuprofile-top.js';

function variantList(v: string): TargetId[] {
  const l = v.split(',').map((s) => s.trim()).filter(Boolean) as TargetId[];
  for (const t of l) if (!VARIANTS.includes(t)) throw new InvalidArgumentError(`variants are ${VARIANTS.join(', ')}; got "${t}"`);
  return l;
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
  .option('--adaptive-too', 'also the project target with --device-completion-mode adaptive (asleep on the device interrupt), in the same boot')
  .option('--node-sockets-too', 'also the project target with --no-poll-sockets (Node reads and writes every socket), in the same boot')
  .option('--variants <list>', `also these project target variants, in the same boot (${VARIANTS.join(',')}; bench/nvmf-common.ts)`, variantList, [] as TargetId[])
  .option('--standin', 'the (i) rows against test/vm/nvmf-standin.ts (a TCP forwarder in front of nvmet-tcp), to prove the bench before the target exists')
  .option('--from <file>', 'print the table of a saved results file (bench/build/nvmf-bench-results.json) without booting')
  .parse()
  .opts<{ seconds: number; reps: number; workloads: WorkloadId[]; smp: number; standin?: boolean; adaptiveToo?: boolean; nodeSocketsToo?: boolean; variants: TargetId[]; from?: string }>();
const variants = [...new Set([...(opts.adaptiveToo ? ['projectAdaptive' as const] : []), ...(opts.nodeSocketsToo ? ['projectNodeSockets' as const] : []), ...opts.variants])];
interface Saved {
  date: string;
  opts: typeof opts;
  runs: NvmfBenchRun[];
  bootSeconds?: number;
  guestSeconds?: number;
}
const saved = opts.from ? (JSON.parse(fs.readFileSync(opts.from, 'utf8')) as Saved) : undefined;
if (saved) Object.assign(opts, { reps: saved.opts.reps, seconds: saved.opts.seconds, workloads: saved.opts.workloads, standin: saved.opts.standin });
const labels: Record<TargetId, string> = { ...TARGETS, ...(opts.standin ? { project: 'STAND-IN forwarder+nvmet-tcp' } : {}) };

const bdf = bdfOf(0);
const outFile = path.join(PROJECT_DIR, 'bench/build/nvmf-bench-results.json');
const { runs, bootSeconds, guestSeconds, consoleLog } = saved
  ? { runs: saved.runs, bootSeconds: saved.bootSeconds ?? NaN, guestSeconds: saved.guestSeconds ?? NaN, consoleLog: '(saved results)' }
  : await boot();

async function boot(): Promise<{ runs: NvmfBenchRun[]; bootSeconds: number; guestSeconds: number; consoleLog: string }> {
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
    script: `exec node dist/bench/nvmf-guest.js --bdf ${bdf} --seconds ${opts.seconds} --reps ${opts.reps} --workloads ${opts.workloads.join(',')}${opts.standin ? ' --standin' : ''}${variants.length ? ` --variants ${variants.join(',')}` : ''} --out "$NVME_WASM_VM_SHARED/bench.json"`,
    timeoutMs: (180 + opts.reps * (90 + opts.workloads.length * (2 + variants.length) * (opts.seconds + 15))) * 1000,
    onStdout: (s) => process.stdout.write(s),
    onStderr: (s) => process.stderr.write(s),
  });
  const runs = guestRuns<NvmfBenchRun>(result, outFile, { opts, bootSeconds: result.bootSeconds, guestSeconds: result.seconds });
  keepProfiles(result.files, PROFILE_DIR, 'capsule');
  return { runs, bootSeconds: result.bootSeconds, guestSeconds: result.seconds, consoleLog: result.consoleLog };
}

interface Med {
  iops: number;
  meanUs: number;
  p99Us: number;
  /** Guest CPU outside fio per I/O, µs. */
  outsideUs: number;
  /** The project's target process per I/O, µs (NaN for nvmet-tcp: not separable). */
  processUs: number;
  n: number;
  error?: string;
}
function med(target: TargetId, w: WorkloadId): Med {
  const ok = runs.filter((r) => r.target === target && r.workload === w && r.error === undefined);
  const err = runs.find((r) => r.target === target && r.workload === w && r.error !== undefined)?.error;
  const m = (f: (r: NvmfBenchRun) => number): number => median(ok.map(f));
  return {
    ...medians(ok), outsideUs: m((r) => r.outsideFioUsPerIo!),
    processUs: !isKernelTarget(target) ? m((r) => r.targetProcessUsPerIo!) : NaN,
    ...(ok.length === 0 && err ? { error: err } : {}),
  };
}

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\nmedians over ${opts.reps} repetitions of ${opts.seconds} s (boot ${f(bootSeconds)} s, guest run ${f(guestSeconds, 0)} s):`);
const head = `${'workload'.padEnd(20)} ${'target'.padEnd(40)} ${'IOPS'.padStart(8)} ${'mean us'.padStart(9)} ${'p99 us'.padStart(9)} ${'CPU us/IO'.padStart(10)} ${'IOPS/CPU s'.padStart(11)} ${'tgt proc us/IO'.padStart(15)}  runs`;
console.log(head);
for (const w of opts.workloads) {
  for (const t of Object.keys(TARGETS) as TargetId[]) {
    const m = med(t, w);
    if (VARIANT_ARGS[t] && m.n === 0 && !m.error) continue; // not asked for (--adaptive-too, --node-sockets-too)
    const label = `${WORKLOADS[w].label.padEnd(20)} ${labels[t].padEnd(40)}`;
    if (m.n === 0) {
      console.log(`${label} ${'-'.padStart(8)} ${'-'.padStart(9)} ${'-'.padStart(9)} ${'-'.padStart(10)} ${'-'.padStart(11)} ${'-'.padStart(15)}  0  (${m.error ?? 'no runs'})`);
      continue;
    }
    console.log(`${label} ${f(m.iops, 0).padStart(8)} ${f(m.meanUs).padStart(9)} ${f(m.p99Us).padStart(9)} ${f(m.outsideUs).padStart(10)} ${f(1e6 / m.outsideUs, 0).padStart(11)} ${f(m.processUs).padStart(15)}  ${m.n}`);
  }
}
console.log('\n  CPU us/IO: guest CPU outside fio per I/O (the target, the initiator\'s work items, the loopback stack), the same measure for both targets;');
console.log('  IOPS/CPU s: I/Os per second of that CPU; tgt proc: the nvme-wasm target process alone (nvmet-tcp runs in kworkers shared with the initiator)');
if (opts.standin) console.log('\n  --standin: the first row of each workload is the stand-in (nvmet-tcp behind a node TCP forwarder), not nvme-wasm: its figures prove the bench only');
/** One workload's ratios of `p` (a project target) to `k` (an nvmet-tcp row), medians. */
function ratioLine(w: WorkloadId, p: Med, k: Med): string {
  const r = (a: number, b: number): string => f(a / b, 2);
  return `  ${WORKLOADS[w].label.padEnd(20)} IOPS ${r(p.iops, k.iops)}  mean latency ${r(p.meanUs, k.meanUs)}  p99 ${r(p.p99Us, k.p99Us)}  CPU/IO outside fio ${r(p.outsideUs, k.outsideUs)}  IOPS per CPU s ${r(k.outsideUs, p.outsideUs)}`;
}
console.log(`\nratios, ${opts.standin ? 'stand-in' : 'nvme-wasm'} / kernel nvmet-tcp (medians):`);
for (const w of opts.workloads) {
  const p = med('project', w);
  const k = med('kernel', w);
  if (p.n === 0 || k.n === 0) {
    console.log(`  ${WORKLOADS[w].label.padEnd(20)} no ratio: ${p.n === 0 ? `nvme-wasm not run (${p.error ?? 'no runs'})` : `nvmet-tcp not run (${k.error ?? 'no runs'})`}`);
    continue;
  }
  console.log(ratioLine(w, p, k));
}
if (runs.some((x) => x.target === 'projectRps') && runs.some((x) => x.target === 'kernelRps')) {
  console.log(`\nratios, ${labels.projectRps} / ${labels.kernelRps} (both with the loopback's receive work on CPU 0) (medians):`);
  for (const w of opts.workloads) {
    const p = med('projectRps', w);
    const k = med('kernelRps', w);
    if (p.n === 0 || k.n === 0) continue;
    console.log(ratioLine(w, p, k));
  }
}
for (const v of Object.keys(VARIANT_ARGS) as TargetId[]) {
  if (!runs.some((x) => x.target === v) || isKernelTarget(v)) continue;
  console.log(`\nratios, ${labels[v]} / ${labels.project} (the defaults) (medians):`);
  const r = (a: number, b: number): string => f(a / b, 2);
  for (const w of opts.workloads) {
    const a = med(v, w);
    const b = med('project', w);
    if (a.n === 0 || b.n === 0) continue;
    console.log(`  ${WORKLOADS[w].label.padEnd(20)} IOPS ${r(a.iops, b.iops)}  mean latency ${r(a.meanUs, b.meanUs)}  target process CPU/IO ${r(a.processUs, b.processUs)}`);
  }
}
console.log(`\nall runs: ${saved ? opts.from : path.relative(process.cwd(), outFile)}; guest console: ${consoleLog}`);
