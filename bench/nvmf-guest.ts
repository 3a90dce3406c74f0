// Guest side of `npm run bench:nvmf` (bench/nvmf.ts boots the guest and
// runs this): the kernel's NVMe/TCP initiator with fio io_uring against two
// targets in front of the same QEMU NVMe controller, on the guest's
// loopback, repetitions interleaved so TCG drift hits both alike:
//
//   for each repetition:
//     kernel:  nvmet-tcp (configfs) exporting /dev/nvme0n1 (the kernel nvme
//              driver on the controller); connect; each workload; disconnect
//     project: the controller moved to vfio-pci, `nvme-wasm nvmf-tgt -r
//              trtype:PCIe traddr:BDF`; connect; each workload; disconnect;
//              SIGTERM; back to nvme
//
// CPU: /proc/stat busy time minus fio's own over each run (both targets),
// and the project's target process from /proc/PID/stat. Until the target is
// built its runs are recorded as not run, with the reason.
// Usage: node dist/bench/nvmf-guest.js --bdf 0000:00:04.0 --seconds 5 --reps 3 --out FILE
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { bindDriver, rebindDefault } from '../hal/pci-bind.js';
import { kernelReady } from '../test/vm/kernel.js';
import { setLoopbackRps } from './loopback-rps.js';
import {
  CLI_MAIN, NvmetTarget, NvmfTarget, nvmfTargetAvailable, NVMF_TGT_MODULE, DEFAULT_SUBNQN, connect, disconnect, perfArgs, perfFigures, parseFio,
  start, processCpuTicks, type Connection, type PerfJob,
} from '../test/vm/nvmf.js';
import { WORKLOADS, TARGETS, VARIANT_ARGS, VARIANT_ENV, VARIANT_NODE_ARGS, VARIANTS, BASELINE_CLI, VARIANT_LOOPBACK_RPS, isKernelTarget, type NvmfBenchRun, type TargetId, type WorkloadId } from './nvmf-common.js';

const o = new Command('nvmf-guest')
  .requiredOption('--bdf <addr>', 'controller')
  .option('--seconds <s>', 'run time per point', '5')
  .option('--reps <n>', 'repetitions', '3')
  .option('--workloads <list>', 'workloads', Object.keys(WORKLOADS).join(','))
  .option('--adaptive-too', 'run the project target a second time per repetition with --device-completion-mode adaptive (rows "adaptive")')
  .option('--node-sockets-too', 'run the project target once more per repetition with --no-poll-sockets (rows "Node sockets")')
  .option('--variants <list>', `more project target variants per repetition (${VARIANTS.join(',')})`, '')
  .option('--standin', 'run the (i) rows against test/vm/nvmf-standin.ts (a forwarder in front of nvmet-tcp) instead of nvme-wasm nvmf-tgt: proves the bench, measures nothing of the project')
  .requiredOption('--out <file>', 'results JSON')
  .parse()
  .opts<{ bdf: string; seconds: string; reps: string; workloads: string; out: string; standin?: boolean; adaptiveToo?: boolean; nodeSocketsToo?: boolean; variants: string }>();
const variants = [...new Set([...(o.adaptiveToo ? ['projectAdaptive'] : []), ...(o.nodeSocketsToo ? ['projectNodeSockets'] : []), ...o.variants.split(',').filter(Boolean)])] as TargetId[];
for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`--variants: ${v} is none of ${VARIANTS.join(', ')}`);
const STANDIN_MODULE = fileURLToPath(new URL('../test/vm/nvmf-standin.js', import.meta.url));
const seconds = Number(o.seconds);
const reps = Number(o.reps);
const workloads = o.workloads.split(',') as WorkloadId[];
const device = { bdf: o.bdf, namespaces: [{ nsid: 1 }] };
const KERNEL_NQN = 'nqn.2026-12.io.nvme-wasm:bench-nvmet';
const PORT = 4420;
/** USER_HZ: /proc tick counts are in 1/100 s on Linux. */
const TICK_US = 10_000;

const runs: NvmfBenchRun[] = [];
function record(r: NvmfBenchRun): void {
  runs.push(r);
  const fig = r.error
    ? `not run: ${r.error}`
    : `${r.iops!.toFixed(0).padStart(8)} IOPS  mean ${r.meanUs!.toFixed(1).padStart(8)} us  p99 ${r.p99Us!.toFixed(1).padStart(8)} us  outside-fio CPU ${r.outsideFioUsPerIo!.toFixed(1)} us/IO${r.targetProcessUsPerIo !== undefined ? `  target process ${r.targetProcessUsPerIo.toFixed(1)} us/IO` : ''}`;
  const label = r.target === 'project' && o.standin ? 'STAND-IN forwarder+nvmet-tcp' : TARGETS[r.target];
  console.log(`rep ${r.rep}  ${WORKLOADS[r.workload].label.padEnd(20)} ${label.padEnd(31)} ${fig}`);
  fs.writeFileSync(o.out, JSON.stringify({ seconds, reps, workloads, standIn: o.standin === true, busySource: BUSY_SOURCE, runs }, null, 2));
}

/**
 * Busy time of all CPUs in µs. From /proc/schedstat when the kernel has it:
 * each CPU's rq_cpu_time (ns during which a task other than idle ran,
 * interrupts inside included; the scheduler's clock, exact). /proc/stat's
 * tick-sampled busy time is the fallback: under TCG the guest loses ticks
 * and it came out below a single process's utime+stime (first bench run).
 */
function busyUs(): number {
  try {
    let ns = 0;
    for (const l of fs.readFileSync('/proc/schedstat', 'latin1').split('\n')) {
      const m = /^cpu\d+ (.*)$/.exec(l);
      if (m) ns += Number(m[1]!.trim().split(/\s+/)[6]);
    }
    if (ns > 0) return ns / 1000;
  } catch {
    /* no schedstat: ticks */
  }
  const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return (user + nice + system + irq + softirq + steal) * TICK_US;
}
const BUSY_SOURCE = fs.existsSync('/proc/schedstat') ? '/proc/schedstat rq_cpu_time' : '/proc/stat ticks';

interface FioCpu {
  jobs: Array<{ usr_cpu: number; sys_cpu: number; job_runtime: number }>;
}

/** One workload on a connection; CPU around it. */
async function measure(c: Connection, w: WorkloadId, target: TargetId, rep: number, tgtPid?: number): Promise<void> {
  const wl = WORKLOADS[w];
  const job: PerfJob = { filename: `/dev/${c.blockDevice}`, rw: wl.rw, bs: wl.bs, iodepth: wl.iodepth, seconds };
  const tgt0 = tgtPid !== undefined ? processCpuTicks(tgtPid) : 0;
  const busy0 = busyUs();
  const r = await start('fio', perfArgs(job)).done;
  const busy1 = busyUs();
  const tgt1 = tgtPid !== undefined ? processCpuTicks(tgtPid) : 0;
  try {
    const f = perfFigures(job, r);
    const cpu = (parseFio(r.stdout) as unknown as FioCpu).jobs[0]!;
    const fioUs = ((cpu.usr_cpu + cpu.sys_cpu) / 100) * cpu.job_runtime * 1000;
    record({
      rep, workload: w, target, iops: f.iops, meanUs: f.meanUs, p99Us: f.p99Us, ios: f.ios,
      outsideFioUsPerIo: (busy1 - busy0 - fioUs) / f.ios,
      ...(tgtPid !== undefined ? { targetProcessUsPerIo: ((tgt1 - tgt0) * TICK_US) / f.ios } : {}),
    });
  } catch (e) {
    record({ rep, workload: w, target, error: (e as Error).message.split('\n')[0]! });
  }
}

async function kernelRound(rep: number, target: TargetId = 'kernel'): Promise<void> {
  const { ns } = await kernelReady(device);
  setLoopbackRps(VARIANT_LOOPBACK_RPS[target] ?? '0');
  const nvmet = NvmetTarget.create({ port: { id: 1, trsvcid: PORT }, subsystems: [{ nqn: KERNEL_NQN, namespaces: [{ nsid: 1, devicePath: `/dev/${ns.get(1)!}` }] }] });
  try {
    const c = await connect({ nqn: KERNEL_NQN, port: PORT });
    if (rep === 1) console.log(`${target}: nvmet-tcp exports /dev/${ns.get(1)!} as ${KERNEL_NQN}; the initiator sees /dev/${c.blockDevice} (${c.ctrl})`);
    try {
      for (const w of workloads) await measure(c, w, target, rep);
    } finally {
      await disconnect(c.ctrl);
    }
  } finally {
    nvmet.teardown();
    setLoopbackRps('0');
  }
}

/** `v` with `$SHARED` made the guest's shared folder (VARIANT_ENV, VARIANT_NODE_ARGS). */
function withShared(v: string): string {
  const shared = process.env.NVME_WASM_VM_SHARED;
  if (!shared) throw new Error('NVME_WASM_VM_SHARED is not set: not run by test/vm/guest.ts');
  return v.replaceAll('$SHARED', shared);
}
const variantEnv = (env: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, withShared(v)]));

async function projectRound(rep: number, target: TargetId = 'project'): Promise<void> {
  if (!nvmfTargetAvailable() && !o.standin) {
    for (const w of workloads) record({ rep, workload: w, target, error: `${NVMF_TGT_MODULE} is not built (issue 13)` });
    return;
  }
  if (target === 'projectBaseline' && !fs.existsSync(BASELINE_CLI)) {
    for (const w of workloads) record({ rep, workload: w, target, error: `no baseline build: ${BASELINE_CLI} is missing (bench/nvmf-common.ts says how to make one)` });
    return;
  }
  bindDriver(o.bdf, 'vfio-pci');
  setLoopbackRps(VARIANT_LOOPBACK_RPS[target] ?? '0');
  try {
    const tgt = await NvmfTarget.start({
      trid: `trtype:PCIe traddr:${o.bdf}`, listen: [`127.0.0.1:${PORT}`], allowAnyHost: true,
      ...(o.standin ? { command: [process.execPath, STANDIN_MODULE] } : {}),
      ...(target === 'projectBaseline' ? { command: [process.execPath, BASELINE_CLI, 'nvmf-tgt'] } : {}),
      ...(VARIANT_ARGS[target] ? { extraArgs: VARIANT_ARGS[target] } : {}),
      ...(VARIANT_ENV[target] ? { env: variantEnv(VARIANT_ENV[target]) } : {}),
      ...(VARIANT_NODE_ARGS[target] ? { command: [process.execPath, ...VARIANT_NODE_ARGS[target].map(withShared), CLI_MAIN, 'nvmf-tgt'] } : {}),
    });
    try {
      const c = await connect({ nqn: DEFAULT_SUBNQN, port: PORT });
      if (rep === 1) console.log(`${target}: ${o.standin ? 'STAND-IN (forwarder + nvmet-tcp)' : 'nvmf-tgt'} (pid ${tgt.pid}) exports ${o.bdf} as ${DEFAULT_SUBNQN}; the initiator sees /dev/${c.blockDevice} (${c.ctrl})`);
      try {
        for (const w of workloads) await measure(c, w, target, rep, tgt.pid);
      } finally {
        await disconnect(c.ctrl);
      }
    } catch (e) {
      for (const w of workloads) if (!runs.some((r) => r.rep === rep && r.workload === w && r.target === target)) record({ rep, workload: w, target, error: (e as Error).message.split('\n')[0]! });
    } finally {
      await tgt.stop('SIGTERM');
    }
  } catch (e) {
    console.error(`${target}, rep ${rep}: ${(e as Error).message}`); // the whole message: a target's output follows its first line
    for (const w of workloads) if (!runs.some((r) => r.rep === rep && r.workload === w && r.target === target)) record({ rep, workload: w, target, error: (e as Error).message.split('\n')[0]! });
  } finally {
    setLoopbackRps('0');
    rebindDefault(o.bdf);
  }
}

const round = (rep: number, v: TargetId): Promise<void> => (isKernelTarget(v) ? kernelRound(rep, v) : projectRound(rep, v));

console.log(`CPU: busy time from ${BUSY_SOURCE}; the target process from /proc/PID/stat`);
for (let rep = 1; rep <= reps; rep++) {
  // Alternate which target goes first, so neither always runs on a warmer guest.
  if (rep % 2) {
    await kernelRound(rep);
    await projectRound(rep);
    for (const v of variants) await round(rep, v);
  } else {
    for (const v of [...variants].reverse()) await round(rep, v);
    await projectRound(rep);
    await kernelRound(rep);
  }
}
await kernelReady(device);
