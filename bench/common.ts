// Small pieces the benchmarks share: paths of the built files, the median,
// a child's first line of a kind, and a simulated controller started as its
// own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';

/** A commander option parser: a number above 0 (run times, repetitions, vCPUs), else a clear error naming the value. */
export function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  return n;
}

/** A commander option parser: a number of 0 or more (a think time), else a clear error naming the value. */
export function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number of 0 or more, got "${v}"`);
  return n;
}

/** A path relative to the built benchmarks' directory (dist/bench), e.g. '../host/cli/main.js'. */
export function benchPath(p: string): string {
  return fileURLToPath(new URL(p, import.meta.url));
}

const SIM = benchPath('../host/sim/main.js');
/** The nvme-wasm command line, built. */
export const CLI = benchPath('../host/cli/nvme-wasm.cjs');

/** The median of `xs` (for an even count, the mean of the two middle values); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Resolves with the first stdout line of `c` starting with `prefix`; rejects if `c` exits first. */
export function firstLine(c: ChildProcess, prefix: string): Promise<string> {
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

/**
 * Start a simulated controller (host/sim/main.js) with `config` as its own
 * process and wait for its ready line (returned). It never outlives the
 * benchmark: it is stopped when this process exits, is interrupted or loses
 * its output pipe (`bench ... | head`), so no poller is left spinning to
 * skew the next measurement.
 */
export async function startSim(config: { name: string } & Record<string, unknown>): Promise<{ sim: ChildProcess; ready: string; stop: () => Promise<void> }> {
  const sim = spawn(process.execPath, [SIM, '--config', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const kill = (): void => {
    if (sim.exitCode === null && sim.signalCode === null) sim.kill('SIGTERM');
  };
  process.on('exit', kill);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      kill();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    kill();
    process.exit(0);
  });
  const ready = await firstLine(sim, `ready ${config.name}`);
  const stop = async (): Promise<void> => {
    if (sim.exitCode !== null || sim.signalCode !== null) return;
    const gone = new Promise((r) => sim.once('exit', r));
    kill();
    await gone;
  };
  return { sim, ready, stop };
}
