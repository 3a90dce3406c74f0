// Shared by bench/nvmf.ts (host) and bench/nvmf-guest.ts (guest): the
// workloads of `npm run bench:nvmf`, the two targets, one run's record.

/** The fio workloads, kernel initiator, io_uring, O_DIRECT. */
import { RPS_MASK, POLLER_CORE_MASK } from './loopback-rps.js';

export const WORKLOADS = {
  rr4kQd1: { label: '4k randread QD1', rw: 'randread', bs: '4k', iodepth: 1 },
  rr4kQd32: { label: '4k randread QD32', rw: 'randread', bs: '4k', iodepth: 32 },
  sw128k: { label: '128k seq write QD32', rw: 'write', bs: '128k', iodepth: 32 },
} as const;
export type WorkloadId = keyof typeof WORKLOADS;

/** The targets in front of QEMU's controller. */
export const TARGETS = {
  project: 'nvme-wasm nvmf-tgt (vfio)',
  /** The same target with --device-completion-mode adaptive (bench:nvmf --adaptive-too): asleep on the device's MSI-X interrupt. */
  projectAdaptive: 'nvme-wasm nvmf-tgt (vfio, adaptive)',
  /** The same target with --no-poll-sockets (bench:nvmf --node-sockets-too): Node reads and writes every socket. */
  projectNodeSockets: 'nvme-wasm nvmf-tgt (vfio, Node sockets)',
  /** --poll-wait (bench:nvmf --variants projectPollWait): wait in poll(2) on the hot sockets instead of spinning. */
  projectPollWait: 'nvme-wasm nvmf-tgt (vfio, poll wait)',
  /** --device-completion-mode adaptive --poll-wait: wait in poll(2) on the sockets and the device's MSI-X eventfds. */
  projectAdaptiveWait: 'nvme-wasm nvmf-tgt (vfio, adaptive, poll wait)',
  /** NVME_WASM_NVMF_GATHER=0 (--variants projectNoGather): one send per PDU, no gathered sendmsg. */
  projectNoGather: 'nvme-wasm nvmf-tgt (vfio, no gather)',
  /** The nvmf-tgt of another build, copied to BASELINE_CLI's tree (--variants projectBaseline): an A/B in one boot. */
  projectBaseline: 'nvme-wasm nvmf-tgt (vfio, baseline build)',
  /** --spin-yield (--variants projectYield): sched_yield after each empty poll while spinning. */
  projectYield: 'nvme-wasm nvmf-tgt (vfio, --spin-yield)',
  /** NVME_WASM_NVMF_POLLS_PER_TURN=32 (--variants projectTurn32): 32 polls per event-loop turn while spinning. */
  projectTurn32: 'nvme-wasm nvmf-tgt (vfio, 32 polls per turn)',
  /** The defaults under V8's sampling profiler (--variants projectProfile): a .cpuprofile per run in bench/build/nvmf-prof/; its figures carry the profiler's cost. */
  projectProfile: 'nvme-wasm nvmf-tgt (vfio, --cpu-prof)',
  /** -c 0x2 (--variants projectCore1): the poll group bound to CPU 1, off CPU 0 where the kernel initiator's I/O queue works (nvme-tcp's io_cpu of queue 1). */
  projectCore1: 'nvme-wasm nvmf-tgt (vfio, -c 0x2)',
  /** -c 0x1 (--variants projectCore0): bound to CPU 0, the kernel initiator's io_cpu: the contrast to projectCore1. */
  projectCore0: 'nvme-wasm nvmf-tgt (vfio, -c 0x1)',
  /** -c 0x2 with the loopback's receive work steered to CPU 0 (--variants projectRps,kernelRps; bench/loopback-rps.ts). */
  projectRps: 'nvme-wasm nvmf-tgt (vfio, -c 0x2, lo RPS 0x1)',
  kernel: 'kernel nvmet-tcp (nvme driver)',
  /** nvmet-tcp with the same loopback steering as projectRps: its comparison. */
  kernelRps: 'kernel nvmet-tcp (nvme driver, lo RPS 0x1)',
} as const;
export type TargetId = keyof typeof TARGETS;

/** The project target's variants a bench run may add, and the nvmf-tgt flags each runs with. */
export const VARIANT_ARGS: Partial<Record<TargetId, string[]>> = {
  projectAdaptive: ['--device-completion-mode', 'adaptive'],
  projectNodeSockets: ['--no-poll-sockets'],
  projectPollWait: ['--poll-wait'],
  projectAdaptiveWait: ['--device-completion-mode', 'adaptive', '--poll-wait'],
  projectNoGather: [],
  projectBaseline: [],
  projectYield: ['--spin-yield'],
  projectTurn32: [],
  projectProfile: [],
  projectCore1: ['-c', '0x2'],
  projectCore0: ['-c', '0x1'],
  projectRps: ['-c', POLLER_CORE_MASK],
  kernelRps: [],
};

/** The loopback's RPS mask while a variant runs (bench/loopback-rps.ts); the others run with it off. */
export const VARIANT_LOOPBACK_RPS: Partial<Record<TargetId, string>> = { projectRps: RPS_MASK, kernelRps: RPS_MASK };

/** nvmet-tcp rows (kernel, kernelRps): run by the kernel round, no target process of ours. */
export const isKernelTarget = (t: TargetId): boolean => t === 'kernel' || t === 'kernelRps';

/**
 * projectBaseline's program, relative to the project: another build's
 * dist/ copied to bench/build/baseline/dist (its packages resolve from this
 * project's node_modules), e.g. `git worktree add ../base REF && (cd ../base
 * && npm ci && npm run build) && cp -r ../base/dist bench/build/baseline/`.
 */
export const BASELINE_CLI = 'bench/build/baseline/dist/host/cli/main.js';

/** The guest folder (under NVME_WASM_VM_SHARED) projectProfile's target writes its profiles to; bench:nvmf copies them to bench/build/nvmf-prof/. */
export const PROFILE_DIR = 'nvmf-prof';

/** Environment of a variant's target process, beside its flags; `$SHARED` stands for the guest's NVME_WASM_VM_SHARED. */
export const VARIANT_ENV: Partial<Record<TargetId, Record<string, string>>> = {
  projectNoGather: { NVME_WASM_NVMF_GATHER: '0' },
  projectTurn32: { NVME_WASM_NVMF_POLLS_PER_TURN: '32' },
};

/** Node's own flags for a variant's target process (Node 20 refuses --cpu-prof in NODE_OPTIONS); `$SHARED` as in VARIANT_ENV. */
export const VARIANT_NODE_ARGS: Partial<Record<TargetId, string[]>> = {
  // 100 us sampling: under TCG the default 1 ms would give a few hundred samples per run.
  projectProfile: ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=$SHARED/${PROFILE_DIR}`],
};

/** The variants' ids (bench:nvmf --variants). */
export const VARIANTS = Object.keys(VARIANT_ARGS) as TargetId[];

export interface NvmfBenchRun {
  rep: number;
  workload: WorkloadId;
  target: TargetId;
  iops?: number;
  meanUs?: number;
  p99Us?: number;
  /** I/Os fio completed. */
  ios?: number;
  /**
   * Guest CPU outside fio per I/O, µs: busy time of /proc/stat (all CPUs:
   * user+nice+system+irq+softirq+steal) over the run minus fio's own
   * (usr_cpu+sys_cpu of its job), divided by the I/Os. Holds the target,
   * the initiator's work items and the loopback network stack.
   */
  outsideFioUsPerIo?: number;
  /** The project's target process, µs per I/O: utime+stime of /proc/PID/stat over the run. */
  targetProcessUsPerIo?: number;
  /** Why the run gave no figures. */
  error?: string;
}
