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
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const SIM = here('../host/sim/main.js');
const CLI = here('../host/cli/main.js');
const tag = `bstats${process.pid}`;
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 3);
const REPEAT = Number(process.env.REPEAT ?? 5);
const QDS = (process.env.QDS ?? '1,32').split(',').map(Number);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function firstLine(c: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const l = buf.split('\n').find((x) => x.startsWith(prefix));
      if (l) resolve(l);
    });
    c.once('exit', (code) => reject(new Error(`exited ${code} before '${prefix}': ${buf}`)));
  });
}

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
        `  (rounds: ${ratios.map((r) => r.toFixed(3)).join(' ')})`,
    );
  }
} finally {
  sim.kill('SIGTERM');
  await new Promise((r) => sim.once('exit', r));
}
