// npm run fuzz -- [--seed N] [--ops N | --seconds N] [--mode honest|hostile|all] [--length N]
//                 [--min-laps N] [--replay FCSEED:PATH]
// Drives the Wasm queue core with random op sequences against the reference
// model (see run.ts). Prints the seed first; on a divergence prints the seed,
// the shrunk minimal failing sequence and exits 1; otherwise prints counts.
import { parseArgs } from 'node:util';
import { fuzz, replay, type Stats } from './run.js';
import type { Mode } from './ops.js';

const USAGE = `usage: npm run fuzz -- [--seed N] [--ops N | --seconds N] [--mode honest|hostile|all] [--length N] [--min-laps N] [--replay FCSEED:PATH]

  --seed N          the run's seed (default: from the clock and pid; printed first)
  --ops N           stop after about N operations (default 200000)
  --seconds N       stop after N seconds instead
  --mode M          honest (a well-behaved device), hostile (a device posting
                    malformed completions) or all (default)
  --length N        operations per sequence at most (default 400)
  --min-laps N      fail if the rings wrapped fewer than N times (default 10)
  --replay S:PATH   replay fast-check seed S with its shrink path (needs --mode)
  -h, --help        this text`;

/** The options, parsed by Node's util.parseArgs (strict: an unknown flag is an error). */
function parse(argv: string[]): Record<string, string> {
  const opts = ['seed', 'ops', 'seconds', 'mode', 'length', 'min-laps', 'replay'] as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { ...Object.fromEntries(opts.map((o) => [o, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return values as Record<string, string>;
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

function main(): void {
  let a: Record<string, string>;
  try {
    a = parse(process.argv.slice(2));
  } catch (e) {
    usage((e as Error).message);
  }
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

  const seed = int(a, 'seed') ?? (Date.now() ^ (process.pid << 16)) >>> 0;
  let ops = int(a, 'ops');
  const seconds = int(a, 'seconds');
  if (ops === undefined && seconds === undefined) ops = 200_000;
  const minLaps = int(a, 'min-laps') ?? 10;
  console.log(`fuzz: seed ${seed}, mode ${mode}, ${ops !== undefined ? `${ops} ops` : `${seconds} s`}, up to ${length} ops per sequence`);

  const res = fuzz({ seed, mode, ops, seconds, maxLength: length, log: (l) => console.log(l) });
  const st = res.stats;
  if (res.failure) {
    console.log(`seed ${seed}: FAILED after ${res.ms} ms (${summary(st)})`);
    process.exitCode = 1;
    return;
  }
  console.log(`seed ${seed}: ok, ${res.rounds} rounds in ${(res.ms / 1000).toFixed(1)} s`);
  console.log(summary(st));
  if (st.laps < minLaps) {
    console.log(`seed ${seed}: only ${st.laps} laps, fewer than --min-laps ${minLaps}`);
    process.exitCode = 1;
  }
}

main();
