// Shared by bench/vm.ts (host) and bench/vm-guest.ts (guest): one run's record.

export interface BenchRun {
  rep: number;
  qd: number;
  driver: string;
  iops?: number;
  meanUs?: number;
  p99Us?: number;
  /** Why the run gave no figures. */
  error?: string;
}

export const DRIVERS = {
  fio: 'kernel fio io_uring', fioPolled: 'kernel fio io_uring polled', native: 'C driver (vfio, polled)', wasm: 'nvme-wasm perf',
  /** --base DIR: another checkout's perf, interleaved with this one's in the same boot. */
  base: 'nvme-wasm perf (base)',
} as const;
