// The cost of live statistics on the I/O path (npm run bench:stats): the
// same perf workload (4 KiB random reads, callback path) against the
// simulated controller in null-I/O mode, running as its own process, with
// statistics on (the default) and off (NVME_WASM_STATS=0), in interleaved
// repetitions (on/off, then off/on, ...) so drift on a shared machine hits
// both alike. Each run is its own `nvme-wasm perf` process; IOPS is perf's
// own figure (completions / measured time). Printed per queue depth: the
// median IOPS of each, the ratio on/off of the medians, and each round's
// ratio (their spread is the noise floor of this machine).
//   SECONDS_PER_RUN (default 3), REPEAT (default 5), QDS (default '1,32')
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller, type IoQueuePair, type DmaBuffer } from '../host/index.js';
import { median, firstLine } from './common.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const SIM = here('../host/sim/main.js');
const CLI = here('../host/cli/main.js');
const tag = `bstats${process.pid}`;
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 2);
const REPEAT = Number(process.env.REPEAT ?? 7);
const QDS = (process.env.QDS ?? '1,32').split(',').map(Number);


/** One perf run; resolves with its total IOPS. */
function perf(stats: boolean, qd: number, trid: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'perf', '-r', trid, '-q', String(qd), '-o', '4096', '-w', 'randread', '-t', String(SECONDS), '--json'], {
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
  qp: IoQueuePair;
  stats: boolean;
  done: number;
  busyMs: number;
}

/** Part 2: two queue pairs, statistics on one, in one loop. */
async function sideBySide(trid: string): Promise<void> {
  const QD = 32;
  const ctrl = await Controller.open({ transport: trid });
  try {
    const ns = ctrl.namespace(1);
    const units = Math.floor(ns.blocks / 8);
    const rows: Array<{ on: Lane; off: Lane; s: number }> = [];
    for (let round = 0; round < REPEAT; round++) {
      // Fresh queue pairs each round, created in alternating order (no qid favoured).
      const order = round % 2 === 0 ? [true, false] : [false, true];
      const lanes: Lane[] = [];
      for (const stats of order) lanes.push({ qp: await ctrl.createQueuePair({ depth: QD + 1, stats }), stats, done: 0, busyMs: 0 });
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
        // Alternate which lane polls first.
        for (let j = 0; j < 2; j++) {
          const lane = lanes[(it + j) & 1]!;
          const a = performance.now();
          const n = lane.qp.processCompletions();
          now = performance.now();
          if (n > 0) lane.busyMs += now - a; // polls that reaped: empty ones cost both lanes alike
        }
        if ((it & 4095) === 0) await new Promise((r) => setImmediate(r));
      }
      const s = (now - t0) / 1000;
      stopping = true;
      for (const lane of lanes) await lane.qp.delete();
      for (const b of bufs) b.free();
      rows.push({ on: lanes.find((l) => l.stats)!, off: lanes.find((l) => !l.stats)!, s });
    }
    const busyNs = (l: Lane) => (l.busyMs * 1e6) / l.done;
    const iopsOn = median(rows.map((r) => r.on.done / r.s));
    const iopsOff = median(rows.map((r) => r.off.done / r.s));
    const nsOn = median(rows.map((r) => busyNs(r.on)));
    const nsOff = median(rows.map((r) => busyNs(r.off)));
    const diffs = rows.map((r) => busyNs(r.on) - busyNs(r.off));
    console.log(`side by side, one process, two queue pairs x QD ${QD} in one polling loop, ${REPEAT} rounds of ${SECONDS} s (medians):`);
    console.log(`  stats on : ${iopsOn.toFixed(0).padStart(8)} IOPS, busy ${nsOn.toFixed(0)} ns/IO`);
    console.log(`  stats off: ${iopsOff.toFixed(0).padStart(8)} IOPS, busy ${nsOff.toFixed(0)} ns/IO`);
    console.log(`  ratio on/off: IOPS ${(iopsOn / iopsOff).toFixed(3)}, busy ns/IO ${(nsOn / nsOff).toFixed(3)}; cost of statistics ${median(diffs).toFixed(0)} ns/IO (rounds: ${diffs.map((d) => d.toFixed(0)).join(' ')})`);
  } finally {
    await ctrl.close();
  }
}

const sim = spawn(process.execPath, [SIM, '--config', JSON.stringify({ name: tag, nullIo: true, namespaces: [{ lbaSize: 512, blocks: 1 << 21 }] })], { stdio: ['ignore', 'pipe', 'inherit'] });
await firstLine(sim, `ready ${tag}`);
try {
  const trid = `trtype:sim name:${tag}`;
  console.log(`statistics on vs off: perf randread 4 KiB, ${SECONDS} s per run, ${REPEAT} interleaved rounds, simulator (nullIo) in its own process`);
  for (const qd of QDS) {
    const on: number[] = [];
    const off: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      // Alternate which goes first, so a trend over time favours neither.
      let a: number;
      let b: number;
      if (i % 2 === 0) {
        a = await perf(true, qd, trid);
        b = await perf(false, qd, trid);
      } else {
        b = await perf(false, qd, trid);
        a = await perf(true, qd, trid);
      }
      on.push(a);
      off.push(b);
      ratios.push(a / b);
    }
    const mOn = median(on);
    const mOff = median(off);
    console.log(
      `QD ${String(qd).padStart(3)}: stats on ${mOn.toFixed(0).padStart(8)} IOPS, off ${mOff.toFixed(0).padStart(8)} IOPS, ratio on/off ${(mOn / mOff).toFixed(3)}` +
        `, median of paired rounds ${median(ratios).toFixed(3)}  (rounds: ${ratios.map((r) => r.toFixed(3)).join(' ')})`,
    );
  }
  await sideBySide(trid);
} finally {
  sim.kill('SIGTERM');
  await new Promise((r) => sim.once('exit', r));
}
