// Multi-process benchmark (npm run bench:admin):
// 1. admin commands per second through the shared admin queue with 1 and
//    with 4 contending processes (each keeping 8 Get Features in flight),
//    interleaved in this one invocation, and printed as two ratios: the
//    4-process rate over the 1-process rate, and fairness, the smallest
//    member's share of a contended run over the largest's (ADMIN_ONLY=1
//    stops after this part), in two configurations (device, shared: see
//    CONFIGS below);
// 2. wall time of a management tool attaching, identifying and detaching
//    (`nvme-wasm identify -i N`) while perf runs in the group, against a bare
//    `node -e 0` measured in the same run, and their ratio (target: at most
//    2; ATTACH_ONLY=1 runs this part only, ATTACH_RUNS=N runs of each).
// The simulated controller runs as its own process. Medians of repeated runs.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import { CLI, benchPath, median, firstLine, startSim } from './common.js';

const CHILD = benchPath('./admin-child.js');
const tag = `bench${process.pid}`;
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 2);
const REPEAT = Number(process.env.REPEAT ?? 3);
/** ATTACH_ONLY=1: part 2 only (the management tool's attach), as ADMIN_ONLY=1 is part 1 only. */
const ATTACH_ONLY = process.env.ATTACH_ONLY === '1';
/** Runs of each in part 2 (interleaved). */
const ATTACH_RUNS = Number(process.env.ATTACH_RUNS ?? 10);


/**
 * Part 1 runs in two configurations, interleaved (ADMIN_CONFIGS=device or
 * shared for one):
 * - device: the simulated controller alone on CPU 0 and every driver process
 *   on the others, the group held by a primary that issues nothing (like a
 *   hardware controller, which takes no host CPU: on two cores an unpinned
 *   simulator competes with the processes it serves, the more of them the
 *   less CPU the "device" gets, and a spinning perf holder takes its share);
 * - shared: nothing pinned, a perf -q 1 process holds the group (the
 *   configuration of the figures before 2026-12-02).
 */
type Config = 'device' | 'shared';
const CONFIGS = (process.env.ADMIN_CONFIGS ?? 'device,shared').split(',') as Config[];
for (const c of CONFIGS) if (c !== 'device' && c !== 'shared') throw new Error(`ADMIN_CONFIGS: expected device and/or shared, got ${c}`);
const ALL_CPUS = `0-${os.availableParallelism() - 1}`;
const DRIVER_CPUS = os.availableParallelism() > 2 ? `1-${os.availableParallelism() - 1}` : '1';
let pinned = false;

/** Spawn node with `args`, on the driver CPUs in the device configuration. */
function spawnNode(args: string[], stdio: StdioOptions): ChildProcess {
  return pinned ? spawn('taskset', ['-c', DRIVER_CPUS, process.execPath, ...args], { stdio }) : spawn(process.execPath, args, { stdio });
}

/** Every thread of process `pid` on `cpus` (taskset). */
function pin(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-pc', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -pc ${cpus} ${pid}: ${r.stderr || r.error?.message}`);
}

/** Commands per second in all, and each member's count. */
async function adminRate(procs: number, g: number): Promise<{ rate: number; shares: number[] }> {
  const kids = Array.from({ length: procs }, () => spawnNode([CHILD, String(g), tag, String(SECONDS), '8'], ['pipe', 'pipe', 'inherit']));
  // Listen for the exits now: a child that exits before a later once('exit') would hang the run.
  const exits = kids.map((k) => new Promise((r) => k.once('exit', r)));
  // The first one becomes primary; let it finish initialising before the rest join.
  await Promise.all(kids.map((k) => firstLine(k, 'ready')));
  for (const k of kids) k.stdin!.write('go\n');
  const done = await Promise.all(kids.map((k) => firstLine(k, 'done ')));
  await Promise.all(exits);
  const shares = done.map((l) => Number(l.slice(5)));
  return { rate: shares.reduce((s, x) => s + x, 0) / SECONDS, shares };
}

function wall(cmd: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t0;
}

const { sim, stop } = await startSim({ name: tag, nullIo: true });
try {
  const trid = `trtype:sim name:${tag}`;
  // Create each group with its device recorded: a primary that holds on while the children run.
  let g = 1;
  const rates = Object.fromEntries(CONFIGS.map((c) => [c, { 1: [] as number[], 4: [] as number[] }])) as Record<Config, Record<1 | 4, number[]>>;
  const fairness = Object.fromEntries(CONFIGS.map((c) => [c, [] as number[]])) as Record<Config, number[]>;
  const shareText = Object.fromEntries(CONFIGS.map((c) => [c, [] as string[]])) as Record<Config, string[]>;
  for (let i = 0; i < (ATTACH_ONLY ? 0 : REPEAT); i++) {
    for (const config of CONFIGS) {
      pinned = config === 'device';
      pin(sim.pid!, pinned ? '0' : ALL_CPUS);
      for (const n of [1, 4] as const) {
        const holder = config === 'device'
          ? spawnNode([CHILD, String(g), tag, '0', '0', trid], ['ignore', 'pipe', 'inherit'])
          : spawnNode([CLI, 'perf', '-i', String(g), '--file-prefix', tag, '-r', trid, '-q', '1', '-t', String(SECONDS + 30)], ['ignore', 'pipe', 'pipe']);
        const holderExit = new Promise((r) => holder.once('exit', r));
        await firstLine(holder, '');
        await new Promise((r) => setTimeout(r, 500));
        const { rate, shares } = await adminRate(n, g);
        rates[config][n].push(rate);
        if (n > 1) {
          fairness[config].push(Math.min(...shares) / Math.max(...shares));
          shareText[config].push(shares.join('/'));
        }
        holder.kill('SIGINT');
        await holderExit;
        g++;
      }
    }
  }
  pinned = false;
  pin(sim.pid!, ALL_CPUS);
  if (!ATTACH_ONLY) {
    process.stdout.write('admin commands/s through the shared admin queue (Get Features, 8 in flight per process):\n');
    for (const config of CONFIGS) {
      const r = rates[config];
      process.stdout.write(config === 'device'
        ? `device: the simulator alone on CPU 0, the processes on CPU ${DRIVER_CPUS}, an idle primary holds the group\n`
        : 'shared: nothing pinned, a perf -q 1 process holds the group\n');
      for (const n of [1, 4] as const) process.stdout.write(`  ${n} process${n > 1 ? 'es' : ''}: ${median(r[n]).toFixed(0)} commands/s in all (runs: ${r[n].map((x) => x.toFixed(0)).join(', ')})\n`);
      process.stdout.write(`  ratio 4 / 1: ${(median(r[4]) / median(r[1])).toFixed(2)} (target at least 0.8; per run: ${r[4].map((x, i) => (x / r[1][i]!).toFixed(2)).join(', ')})\n`);
      process.stdout.write(`  fairness, min share / max share in a ${SECONDS} s 4-process run: ${median(fairness[config]).toFixed(2)} (target at least 0.5; per run: ${fairness[config].map((x) => x.toFixed(2)).join(', ')}; commands per member: ${shareText[config].join(', ')})\n`);
    }
  }
  if (process.env.ADMIN_ONLY !== '1') {
    // Attach + identify + detach during perf.
    const perf = spawn(process.execPath, [CLI, 'perf', '-i', String(g), '--file-prefix', tag, '-r', trid, '-q', '32', '-w', 'randread', '-t', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const perfExit = new Promise((r) => perf.once('exit', r));
    let perfOut = '';
    perf.stdout!.on('data', (d: Buffer) => (perfOut += d.toString()));
    await firstLine(perf, '');
    await new Promise((r) => setTimeout(r, 1500));
    const tool: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < ATTACH_RUNS; i++) {
      bare.push(wall([process.execPath, '-e', '0']));
      tool.push(wall([process.execPath, CLI, 'identify', '-i', String(g), '--file-prefix', tag]));
    }
    perf.kill('SIGINT');
    const code = await perfExit;
    process.stdout.write(`attach + identify + detach while perf -q 32 runs in the group (${ATTACH_RUNS} runs each, interleaved):\n`);
    process.stdout.write(`  nvme-wasm identify -i ${g}: median ${median(tool).toFixed(0)} ms (min ${Math.min(...tool).toFixed(0)}, max ${Math.max(...tool).toFixed(0)})\n`);
    process.stdout.write(`  node -e 0:               median ${median(bare).toFixed(0)} ms (min ${Math.min(...bare).toFixed(0)}, max ${Math.max(...bare).toFixed(0)})\n`);
    process.stdout.write(`  the tool's own work: ${(median(tool) - median(bare)).toFixed(0)} ms over a bare node start\n`);
    process.stdout.write(`  ratio attach+identify+detach / node -e 0 (medians): ${(median(tool) / median(bare)).toFixed(2)} (target at most 2; per pair: ${tool.map((x, i) => (x / bare[i]!).toFixed(2)).join(', ')})\n`);
    process.stdout.write(`  perf exit code ${code}${code === 130 ? ' (stopped by SIGINT, as meant)' : ''}; errors in its output: ${/error|mismatch/i.test(perfOut) ? 'YES' : 'none'}\n`);
  }
} finally {
  await stop();
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
}
