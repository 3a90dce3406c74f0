// The workload of `npm run bench:irq` (simulator, host) and `npm run
// bench:vm-irq` (QEMU's controller through VFIO, in a guest): for each
// completion mode, interleaved over the repetitions,
//   - QD1 with a think time: a 4 KiB random read, then `thinkMs` of nothing
//     (setTimeout), again and again: CPU ns per I/O (process.cpuUsage, user +
//     system, of this process only: the device is another process or QEMU),
//     mean read latency, and the poller's polls and sleeps per I/O;
//   - QD32: 32 Promise-path reads always in flight: IOPS and CPU ns per I/O.
// Each mode has a queue pair of its own, created once.
import { Controller, type CompletionMode, type IoQueuePair, type Namespace, type DmaBuffer } from '../host/index.js';

export interface IrqRun {
  rep: number;
  mode: CompletionMode;
  test: 'qd1-think' | 'qd32';
  ios: number;
  seconds: number;
  iops: number;
  cpuNsPerIo: number;
  meanUs: number;
  pollsPerIo: number;
  sleepsPerIo: number;
  wakeupsPerIo: number;
}

export interface IrqBenchOptions {
  transport: string;
  seconds: number;
  reps: number;
  thinkMs: number;
  modes: CompletionMode[];
  /** Called per run (progress). */
  onRun?: (r: IrqRun) => void;
}

const BLOCK = 4096;
const QD = 32;
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

async function measure(rep: number, mode: CompletionMode, test: IrqRun['test'], qp: IoQueuePair, seconds: number, body: (until: number) => Promise<{ ios: number; latUs: number }>): Promise<IrqRun> {
  const w0 = qp.completionWaits;
  const c0 = cpuNs();
  const t0 = performance.now();
  const { ios, latUs } = await body(t0 + seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuNs() - c0;
  const w = qp.completionWaits;
  return {
    rep, mode, test, ios, seconds: elapsed, iops: ios / elapsed, cpuNsPerIo: cpu / ios, meanUs: latUs / ios,
    pollsPerIo: (w.polls - w0.polls) / ios, sleepsPerIo: (w.sleeps - w0.sleeps) / ios, wakeupsPerIo: (w.wakeups - w0.wakeups) / ios,
  };
}

export async function runIrqBench(o: IrqBenchOptions): Promise<{ runs: IrqRun[]; transport: string }> {
  const ctrl = await Controller.open({ transport: o.transport, regionSize: 32 << 20, stats: true });
  const runs: IrqRun[] = [];
  try {
    const ns: Namespace = [...ctrl.namespaces.values()][0]!;
    const span = Math.max(1, Math.floor((ns.blocks * ns.blockSize) / BLOCK) - 1);
    const qps = new Map<CompletionMode, IoQueuePair>();
    for (const m of o.modes) qps.set(m, await ctrl.createQueuePair({ completionMode: m, depth: 64 }));
    const bufs: DmaBuffer[] = Array.from({ length: QD }, () => ctrl.allocDma(BLOCK));
    let seed = 12345;
    const lba = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed % span) * (BLOCK / ns.blockSize);
    };
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const mode of o.modes) {
        const qp = qps.get(mode)!;
        for (let i = 0; i < 100; i++) await qp.read(ns, lba(), bufs[0]!); // warm-up
        const qd1 = await measure(rep, mode, 'qd1-think', qp, o.seconds, async (until) => {
          let ios = 0;
          let lat = 0;
          while (performance.now() < until) {
            await wait(o.thinkMs);
            const s = performance.now();
            await qp.read(ns, lba(), bufs[0]!);
            lat += performance.now() - s;
            ios++;
          }
          return { ios, latUs: lat * 1000 };
        });
        runs.push(qd1);
        o.onRun?.(qd1);
        const qd32 = await measure(rep, mode, 'qd32', qp, o.seconds, async (until) => {
          let ios = 0;
          await Promise.all(bufs.map(async (b) => {
            while (performance.now() < until) {
              await qp.read(ns, lba(), b);
              ios++;
            }
          }));
          return { ios, latUs: NaN };
        });
        runs.push(qd32);
        o.onRun?.(qd32);
      }
    }
  } finally {
    await ctrl.close();
  }
  return { runs, transport: o.transport };
}

export function formatRun(r: IrqRun): string {
  const lat = Number.isFinite(r.meanUs) ? `mean ${r.meanUs.toFixed(1).padStart(7)} us` : ''.padEnd(15);
  return `rep ${r.rep}  ${r.test.padEnd(9)} ${r.mode.padEnd(9)} ${r.iops.toFixed(0).padStart(7)} IOPS  ${(r.cpuNsPerIo / 1000).toFixed(1).padStart(7)} us CPU/IO  ${lat}  polls/IO ${r.pollsPerIo.toFixed(1).padStart(7)}  sleeps/IO ${r.sleepsPerIo.toFixed(2)}`;
}

/** Medians per test and mode, and the ratios against 'poll'. */
export function summary(runs: IrqRun[], median: (xs: number[]) => number): string[] {
  const out: string[] = [];
  const tests = ['qd1-think', 'qd32'] as const;
  const modes = [...new Set(runs.map((r) => r.mode))];
  out.push(`${'test'.padEnd(10)} ${'mode'.padEnd(9)} ${'IOPS'.padStart(8)} ${'CPU us/IO'.padStart(10)} ${'mean us'.padStart(8)} ${'polls/IO'.padStart(9)} ${'sleeps/IO'.padStart(9)}  vs poll: CPU/IO, IOPS`);
  for (const t of tests) {
    const base = runs.filter((r) => r.test === t && r.mode === 'poll');
    const bCpu = median(base.map((r) => r.cpuNsPerIo));
    const bIops = median(base.map((r) => r.iops));
    for (const m of modes) {
      const rs = runs.filter((r) => r.test === t && r.mode === m);
      if (rs.length === 0) continue;
      const cpu = median(rs.map((r) => r.cpuNsPerIo));
      const iops = median(rs.map((r) => r.iops));
      const lat = median(rs.map((r) => r.meanUs));
      out.push(`${t.padEnd(10)} ${m.padEnd(9)} ${iops.toFixed(0).padStart(8)} ${(cpu / 1000).toFixed(1).padStart(10)} ${(Number.isFinite(lat) ? lat.toFixed(1) : '-').padStart(8)} ${median(rs.map((r) => r.pollsPerIo)).toFixed(1).padStart(9)} ${median(rs.map((r) => r.sleepsPerIo)).toFixed(2).padStart(9)}  ${(cpu / bCpu).toFixed(3)}, ${(iops / bIops).toFixed(3)}`);
    }
  }
  return out;
}
