// npm run fuzz -- [--target ring|pdu] [--jobs N] [--seed N] [--ops N | --seconds N] [--mode honest|hostile|all]
//                 [--length N] [--min-laps N] [--replay FCSEED:PATH] [--case N]
// ring (the default): drives the Wasm queue core with random op sequences
// against the reference model (see run.ts). Prints the seed first; on a
// divergence prints the seed, the shrunk minimal failing sequence and exits
// 1; otherwise prints counts.
// pdu: the NVMe/TCP framer mutation fuzzer (pdu.ts); --ops counts its cases.
// --jobs N forks N workers with seeds S, S+1, ... S+N-1 (each its own
// process: a core each), sums their counts, and reports any failure with the
// worker's seed and its replay command.
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fuzz, replay, emptyStats, type Stats } from './run.js';
import { fuzzPdu, emptyPduStats, runPduCase, type PduStats } from './pdu.js';
import type { Mode } from './ops.js';

const USAGE = `usage: npm run fuzz -- [--target ring|pdu] [--jobs N] [--seed N] [--ops N | --seconds N] [--mode honest|hostile|all] [--length N] [--min-laps N] [--replay FCSEED:PATH] [--case N]

  --target T        ring: the queue core against the model (default);
                    pdu: the NVMe/TCP PDU framer, mutated streams (--ops: cases)
  --jobs N          N worker processes with seeds S .. S+N-1, counts summed
                    (--ops is split between them; --seconds applies to each)
  --seed N          the run's seed (default: from the clock and pid; printed first)
  --ops N           stop after about N operations (default 200000)
  --seconds N       stop after N seconds instead
  --mode M          honest (a well-behaved device), hostile (a device posting
                    malformed completions) or all (default)
  --length N        operations per sequence at most (default 400)
  --min-laps N      fail if the rings wrapped fewer than N times (default 10)
  --replay S:PATH   replay fast-check seed S with its shrink path (needs --mode)
  --case N          pdu: run only case N of --seed (a failure's replay)
  --progress N      print a progress line every N seconds
  -h, --help        this text`;

/** The options, parsed by Node's util.parseArgs (strict: an unknown flag is an error). */
function parse(argv: string[]): Record<string, string> {
  const opts = ['target', 'jobs', 'seed', 'ops', 'seconds', 'mode', 'length', 'min-laps', 'replay', 'case', 'progress'] as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { ...Object.fromEntries(opts.map((o) => [o, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' }, worker: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return values as unknown as Record<string, string>;
}

function usage(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
}

function int(a: Record<string, string>, k: string): number | undefined {
  if (a[k] === undefined) return undefined;
  const n = Number(a[k]);
  if (!Number.isInteger(n)) usage(`--${k} must be an integer`);
  return n;
}

function summary(s: Stats): string {
  return [
    `sequences ${s.sequences}`,
    `ops ${s.ops}`,
    `core calls ${s.coreCalls}`,
    `laps ${s.laps} (max ${s.maxLaps} in one sequence)`,
    `submitted ${s.submitted}`,
    `completions ${s.completions}`,
    `SQ-full hits ${s.sqFull}`,
    `NoSlot hits ${s.noSlot}`,
    `CQ filled ${s.cqFilled}`,
    `CQ-full waits ${s.cqFull}`,
    `bogus completions ${s.bogus}`,
  ].join(', ');
}

/** The last line of a worker (--worker): its counts and failure, for the parent to sum. */
interface WorkerResult {
  target: 'ring' | 'pdu';
  seed: number;
  ms: number;
  stats: Stats | PduStats;
  failure?: string;
  laps?: number;
}

function pduSummary(s: PduStats): string {
  const fes = Object.entries(s.byFes).map(([k, v]) => `${k} ${v}`).join(', ');
  return `cases ${s.cases} (${s.mutated} mutated or random), bytes ${s.bytes}, chunks ${s.chunks}, PDUs ${s.pdus}, fatal ${s.fatals} (${fes}), data digest errors ${s.ddgstErrors}, most held ${s.maxPartial} bytes`;
}

function addStats<T extends object>(a: T, b: T): T {
  const r = { ...a } as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === 'number') r[k] = k.startsWith('max') ? Math.max(Number(r[k] ?? 0), v) : Number(r[k] ?? 0) + v;
    else if (v && typeof v === 'object') r[k] = addStats((r[k] ?? {}) as Record<string, number>, v as Record<string, number>);
  }
  return r as T;
}

/** --jobs N: fork the workers, relay their progress, sum their counts. */
async function parallel(a: Record<string, string>, jobs: number, seed: number, target: 'ring' | 'pdu'): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const ops = int(a, 'ops');
  const passOn = Object.entries(a).filter(([k]) => !['jobs', 'seed', 'ops', 'worker'].includes(k));
  console.log(`fuzz: ${jobs} workers, target ${target}, seeds ${seed} .. ${seed + jobs - 1}, ${ops !== undefined ? `${ops} ops in all` : `${a.seconds} s each`}`);
  const t0 = Date.now();
  const results = await Promise.all(
    Array.from({ length: jobs }, (_, i) => {
      const args = [...passOn.flatMap(([k, v]) => [`--${k}`, v]), '--seed', String(seed + i), '--worker'];
      if (ops !== undefined) args.push('--ops', String(Math.ceil(ops / jobs)));
      const child = fork(self, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        let nl: number;
        while ((nl = out.indexOf('\n')) >= 0) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          if (!line.startsWith('result ')) console.log(`[worker ${i} seed ${seed + i}] ${line}`);
          else (child as unknown as { result: WorkerResult }).result = JSON.parse(line.slice(7)) as WorkerResult;
        }
      });
      return new Promise<WorkerResult>((resolve) =>
        child.on('exit', (code, sig) => {
          const r = (child as unknown as { result?: WorkerResult }).result;
          resolve(r ?? { target, seed: seed + i, ms: Date.now() - t0, stats: target === 'ring' ? emptyStats() : emptyPduStats(), failure: `worker ${i} (seed ${seed + i}) died: exit ${code ?? sig}` });
        }),
      );
    }),
  );
  const ms = Date.now() - t0;
  const failed = results.filter((r) => r.failure);
  const total = results.map((r) => r.stats as object).reduce((x, y) => addStats(x, y)) as Stats & PduStats;
  const count = target === 'ring' ? (total as Stats).ops : (total as PduStats).cases;
  for (const r of results) {
    const n = target === 'ring' ? (r.stats as Stats).ops : (r.stats as PduStats).cases;
    console.log(`  seed ${r.seed}: ${r.failure ? 'FAILED' : 'ok'}, ${n} ${target === 'ring' ? 'ops' : 'cases'} in ${(r.ms / 1000).toFixed(1)} s (${Math.round(n / (r.ms / 1000))}/s)`);
  }
  console.log(`total: ${count} ${target === 'ring' ? 'ops' : 'cases'} in ${(ms / 1000).toFixed(1)} s wall, ${Math.round(count / (ms / 1000))}/s`);
  console.log(target === 'ring' ? summary(total) : pduSummary(total));
  for (const r of failed) console.log(`FAILED seed ${r.seed}:\n${r.failure}`);
  process.exitCode = failed.length ? 1 : 0;
}

function mainPdu(a: Record<string, string>, seed: number, worker: boolean): void {
  const only = int(a, 'case');
  if (only !== undefined) {
    const st = emptyPduStats();
    try {
      runPduCase(seed, only, st);
      console.log(`pdu fuzz: seed ${seed} case ${only}: passes`);
    } catch (e) {
      console.log((e as Error).message);
      process.exitCode = 1;
    }
    return;
  }
  let ops = int(a, 'ops');
  const seconds = int(a, 'seconds');
  if (ops === undefined && seconds === undefined) ops = 200_000;
  console.log(`fuzz: target pdu, seed ${seed}, ${ops !== undefined ? `${ops} cases` : `${seconds} s`}`);
  const res = fuzzPdu({ seed, cases: ops, seconds });
  const st = res.stats;
  if (worker) console.log(`result ${JSON.stringify({ target: 'pdu', seed, ms: res.ms, stats: st, failure: res.failure } satisfies WorkerResult)}`);
  if (res.failure) {
    console.log(res.failure);
    process.exitCode = 1;
    return;
  }
  console.log(`seed ${seed}: ok, ${st.cases} cases in ${(res.ms / 1000).toFixed(1)} s (${Math.round(st.cases / (res.ms / 1000))}/s), heap growth at most ${res.heapMiB.toFixed(1)} MiB`);
  console.log(pduSummary(st));
}

async function main(): Promise<void> {
  let a: Record<string, string>;
  try {
    a = parse(process.argv.slice(2));
  } catch (e) {
    usage((e as Error).message);
  }
  const worker = (a.worker as unknown) === true;
  const target = (a.target ?? 'ring') as 'ring' | 'pdu';
  if (!['ring', 'pdu'].includes(target)) usage('--target must be ring or pdu');
  const jobs = int(a, 'jobs') ?? 1;
  if (jobs < 1) usage('--jobs must be at least 1');
  const seed = int(a, 'seed') ?? (Date.now() ^ (process.pid << 16)) >>> 0;
  if (jobs > 1) return parallel(a, jobs, seed, target);
  if (target === 'pdu') return mainPdu(a, seed, worker);
  const mode = (a.mode ?? 'all') as Mode | 'all';
  if (!['honest', 'hostile', 'all'].includes(mode)) usage(`--mode must be honest, hostile or all`);
  const length = int(a, 'length') ?? 400;

  if (a.replay) {
    const [s, path] = a.replay.split(':');
    if (mode === 'all') usage('--replay needs --mode honest or hostile');
    const r = replay(Number(s), path ?? '', mode, length);
    console.log(r ?? 'replay: passes');
    process.exitCode = r ? 1 : 0;
    return;
  }

  let ops = int(a, 'ops');
  const seconds = int(a, 'seconds');
  if (ops === undefined && seconds === undefined) ops = 200_000;
  const minLaps = int(a, 'min-laps') ?? 10;
  const progress = int(a, 'progress');
  console.log(`fuzz: seed ${seed}, mode ${mode}, ${ops !== undefined ? `${ops} ops` : `${seconds} s`}, up to ${length} ops per sequence`);

  const res = fuzz({ seed, mode, ops, seconds, maxLength: length, log: (l) => console.log(l), progressSeconds: progress });
  const st = res.stats;
  if (worker) console.log(`result ${JSON.stringify({ target: 'ring', seed, ms: res.ms, stats: st, failure: res.failure?.report } satisfies WorkerResult)}`);
  if (res.failure) {
    console.log(`seed ${seed}: FAILED after ${res.ms} ms (${summary(st)})`);
    process.exitCode = 1;
    return;
  }
  console.log(`seed ${seed}: ok, ${res.rounds} rounds in ${(res.ms / 1000).toFixed(1)} s (${Math.round(st.ops / (res.ms / 1000))} ops/s)`);
  console.log(summary(st));
  if (st.laps < minLaps) {
    console.log(`seed ${seed}: only ${st.laps} laps, fewer than --min-laps ${minLaps}`);
    process.exitCode = 1;
  }
}

await main();
