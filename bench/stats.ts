// The cost of live statistics on the I/O path (npm run bench:stats), with the
// machine's own noise measured beside it: every comparison of statistics on
// against off comes with a control, off against off, run the same way at the
// same time. A cost is measurable only if the on/off figures fall outside
// what off/off shows.
//
// Part 1, perf: the same perf workload (4 KiB random reads, callback path)
// against the simulated controller in null-I/O mode, running as its own
// process, three runs per round: statistics on (the default), off
// (NVME_WASM_STATS=0), and off again, in an order that rotates each round so
// drift on a shared machine hits all alike. IOPS is perf's own figure.
// Printed per queue depth: the median IOPS of each, the medians of the
// per-round ratios on/off and off/off (the control), and every round's.
//
// Part 2, side by side: three queue pairs in one process and one polling
// loop (statistics on one), each at QD 32; the loop polls them in rotating
// order and times only polls that reaped, so the three see the same machine
// at the same moment. Printed: busy ns per I/O of each, and per round the
// difference on - off against the control off2 - off.
//
// Part 3, sampling accuracy: the latency figures with every command timed
// (statsLatencySampling 1), one in 64, and the default ('auto'), for the same
// callback-path reads at QD 1 and QD 32, in rotating order: mean, p50 and p99
// bucket bounds, how many commands were timed and how many the histogram
// stands for. Timing every command slows the driver (two clock reads per
// I/O), so its figures are of a slightly different run, not ground truth.
//
// With two CPUs or more, the simulator is pinned to the last CPU and perf to
// the first, so the scheduler does not put both pollers on one CPU for part
// of a run (that alone halves a run's IOPS).
//   SECONDS_PER_RUN (default 2), REPEAT (default 7), QDS (default '1,32')
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { Controller, type IoQueuePair, type DmaBuffer } from '../host/index.js';
import { CLI, median, startSim } from './common.js';

const tag = `bstats${process.pid}`;
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 2);
const REPEAT = Number(process.env.REPEAT ?? 7);
const QDS = (process.env.QDS ?? '1,32').split(',').map(Number);
const PIN = os.availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;

/** Bind every thread of process `pid` to CPU `cpu` (taskset from util-linux). */
function pin(pid: number, cpu: number): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset: ${r.stderr}`);
}


/** One perf run; resolves with its total IOPS. */
function perf(stats: boolean, qd: number, trid: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'perf', '-r', trid, '-q', String(qd), '-o', '4096', '-w', 'randread', '-t', String(SECONDS), '--json', ...(PIN ? ['-c', '0x1'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NVME_WASM_STATS: stats ? '1' : '0' },
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => {
      if (code !== 0) return reject(new Error(`perf exited ${code}: ${err}`));
      const doc = JSON.parse(out) as { total: { iops: number } };
      resolve(doc.total.iops);
    });
  });
}

interface Lane {
  name: 'on' | 'off' | 'off2';
  qp: IoQueuePair;
  done: number;
  busyMs: number;
}

const fmtSigned = (x: number, d = 0) => (x >= 0 ? ' ' : '') + x.toFixed(d);
/** The spread of the control without its highest and lowest round (one outlier either way is common here). */
const trimmed = (xs: number[]): [number, number] => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length >= 5 ? [s[1]!, s[s.length - 2]!] : [s[0]!, s[s.length - 1]!];
};
/** Where the median cost lies against the control's trimmed spread. */
function verdict(cost: number, control: number[], d: number, unit: string): string {
  const [lo, hi] = trimmed(control);
  const where = cost >= lo && cost <= hi ? 'inside' : 'outside';
  return `${where} the control's spread (${lo.toFixed(d)} to ${hi.toFixed(d)}${unit}, its extreme rounds left out)`;
}

/** Part 2: three queue pairs (statistics on one) in one polling loop. */
async function sideBySide(trid: string): Promise<void> {
  const QD = 32;
  const ctrl = await Controller.open({ transport: trid });
  try {
    const ns = ctrl.namespace(1);
    const units = Math.floor(ns.blocks / 8);
    const rows: Array<{ lanes: Record<Lane['name'], Lane>; s: number }> = [];
    for (let round = 0; round < REPEAT; round++) {
      // Fresh queue pairs each round, created in rotating order (no qid favoured).
      const names: Array<Lane['name']> = ['on', 'off', 'off2'];
      const order = [...names.slice(round % 3), ...names.slice(0, round % 3)];
      const lanes: Lane[] = [];
      for (const name of order) lanes.push({ name, qp: await ctrl.createQueuePair({ depth: QD + 1, stats: name === 'on' }), done: 0, busyMs: 0 });
      const bufs: DmaBuffer[] = [];
      let rng = 0x9e3779b9;
      const lba = () => {
        rng ^= rng << 13;
        rng ^= rng >>> 17;
        rng ^= rng << 5;
        return ((rng >>> 0) % units) * 8;
      };
      let stopping = false;
      for (const lane of lanes) {
        for (let i = 0; i < QD; i++) {
          const buf = ctrl.allocDma(4096);
          bufs.push(buf);
          const cb = (err: Error | null): void => {
            if (err) throw err;
            lane.done++;
            if (!stopping) lane.qp.submitRead(ns, lba(), buf, cb);
          };
          lane.qp.submitRead(ns, lba(), buf, cb);
        }
        lane.qp.ring();
      }
      const t0 = performance.now();
      const end = t0 + SECONDS * 1000;
      let now = t0;
      for (let it = 0; now < end; it++) {
        // Rotate which lane polls first.
        for (let j = 0; j < 3; j++) {
          const lane = lanes[(it + j) % 3]!;
          const a = performance.now();
          const n = lane.qp.processCompletions();
          now = performance.now();
          if (n > 0) lane.busyMs += now - a; // polls that reaped: empty ones cost every lane alike
        }
        if ((it & 4095) === 0) await new Promise((r) => setImmediate(r));
      }
      const s = (now - t0) / 1000;
      stopping = true;
      for (const lane of lanes) await lane.qp.delete();
      for (const b of bufs) b.free();
      rows.push({ lanes: Object.fromEntries(lanes.map((l) => [l.name, l])) as Record<Lane['name'], Lane>, s });
    }
    const busyNs = (l: Lane) => (l.busyMs * 1e6) / l.done;
    console.log(`side by side, one process, three queue pairs x QD ${QD} in one polling loop, ${REPEAT} rounds of ${SECONDS} s (medians):`);
    for (const name of ['on', 'off', 'off2'] as const) {
      const label = { on: 'stats on  ', off: 'stats off ', off2: 'off again ' }[name];
      console.log(`  ${label}: ${median(rows.map((r) => r.lanes[name].done / r.s)).toFixed(0).padStart(8)} IOPS, busy ${median(rows.map((r) => busyNs(r.lanes[name]))).toFixed(0)} ns/IO`);
    }
    const cost = rows.map((r) => busyNs(r.lanes.on) - busyNs(r.lanes.off));
    const control = rows.map((r) => busyNs(r.lanes.off2) - busyNs(r.lanes.off));
    console.log(`  on  - off : ${fmtSigned(median(cost))} ns/IO median, rounds ${cost.map((d) => d.toFixed(0)).join(' ')}`);
    console.log(`  off2 - off: ${fmtSigned(median(control))} ns/IO median, rounds ${control.map((d) => d.toFixed(0)).join(' ')}  (control: the noise)`);
    console.log(`  statistics cost ${median(cost).toFixed(0)} ns/IO: ${verdict(median(cost), control, 0, ' ns/IO')}`);
  } finally {
    await ctrl.close();
  }
}

/** Part 3: the latency statistics with every command timed against 'auto', same workload. */
async function samplingAccuracy(trid: string): Promise<void> {
  const N = 200_000;
  const settings: Array<number | 'auto'> = [1, 64, 'auto'];
  console.log(`latency sampling, every command timed vs one in 64 vs 'auto': ${N} reads of 4 KiB per run, callback path, ${Math.min(REPEAT, 3)} rounds:`);
  for (const qd of [1, 32]) {
    for (let round = 0; round < Math.min(REPEAT, 3); round++) {
      for (const sampling of [...settings.slice(round % 3), ...settings.slice(0, round % 3)]) {
        const ctrl = await Controller.open({ transport: trid, statsLatencySampling: sampling });
        try {
          const ns = ctrl.namespace(1);
          const units = Math.floor(ns.blocks / 8);
          const qp = await ctrl.createQueuePair({ depth: qd + 1 });
          const bufs = Array.from({ length: qd }, () => ctrl.allocDma(4096));
          let submitted = 0;
          let done = 0;
          const go = (buf: DmaBuffer): void => {
            const cb = (err: Error | null): void => {
              if (err) throw err;
              done++;
              if (submitted < N) go(buf);
            };
            submitted++;
            qp.submitRead(ns, (submitted % units) * 8, buf, cb);
          };
          for (const b of bufs) go(b);
          const t0 = performance.now();
          while (done < N) qp.processCompletions();
          const iops = (N / (performance.now() - t0)) * 1000;
          const q = ctrl.groupStats().processes[0]!.qpairs.find((x) => x.qid === qp.qid)!;
          const l = q.latency;
          console.log(
            `  QD ${String(qd).padStart(2)} ${String(sampling).padEnd(4)}: timed ${String(l.samples).padStart(6)}, stands for ${String(l.count).padStart(6)} commands; ` +
              `mean ${l.meanUs.toFixed(1).padStart(5)} us, p50 <= ${l.p50Us} us, p99 <= ${l.p99Us} us (${iops.toFixed(0)} IOPS, share now 1/${qp.latencySamplingNow})`,
          );
          for (const b of bufs) b.free();
          await qp.delete();
        } finally {
          await ctrl.close();
        }
      }
    }
  }
}

const { sim, stop } = await startSim({ name: tag, nullIo: true, namespaces: [{ lbaSize: 512, blocks: 1 << 21 }] });
const SIM_CPU = os.availableParallelism() - 1;
if (PIN) pin(sim.pid!, SIM_CPU); // every thread of the simulator on the last CPU; perf binds itself to the first (-c)
try {
  const trid = `trtype:sim name:${tag}`;
  console.log(`statistics on vs off, with off vs off as the control: perf randread 4 KiB, ${SECONDS} s per run, ${REPEAT} rounds of three runs, simulator (nullIo) in its own process${PIN ? `, perf on CPU 0 and simulator on CPU ${SIM_CPU}` : ''}`);
  for (const qd of QDS) {
    const runs = { on: [] as number[], off: [] as number[], off2: [] as number[] };
    const cost: number[] = [];
    const control: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      // Rotate the order, so a trend over time favours none of the three.
      const names = ['on', 'off', 'off2'] as const;
      const got: Partial<Record<(typeof names)[number], number>> = {};
      for (let j = 0; j < 3; j++) {
        const name = names[(i + j) % 3]!;
        got[name] = await perf(name === 'on', qd, trid);
      }
      runs.on.push(got.on!);
      runs.off.push(got.off!);
      runs.off2.push(got.off2!);
      cost.push(got.on! / got.off!);
      control.push(got.off2! / got.off!);
    }
    const show = (xs: number[]) => xs.map((r) => r.toFixed(3)).join(' ');
    console.log(`QD ${String(qd).padStart(3)}: median IOPS stats on ${median(runs.on).toFixed(0)}, off ${median(runs.off).toFixed(0)}, off again ${median(runs.off2).toFixed(0)}`);
    console.log(`        on/off   ratio median ${median(cost).toFixed(3)}, rounds ${show(cost)}`);
    console.log(`        off2/off ratio median ${median(control).toFixed(3)}, rounds ${show(control)}  (control: the noise)`);
    console.log(`        statistics: on/off ${median(cost).toFixed(3)}: ${verdict(median(cost), control, 3, '')}`);
  }
  await sideBySide(trid);
  await samplingAccuracy(trid);
} finally {
  await stop();
}
