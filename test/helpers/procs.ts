// Spawning group members and simulators as real OS processes for the tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./mp-child.js', import.meta.url));
const SIM = fileURLToPath(new URL('../../host/sim/main.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line starting with `prefix`. */
  waitLine(prefix: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Call `fn` with each complete line `stream` writes (a child's stdout). */
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      fn(line);
    }
  });
}

function wrap(child: ChildProcess): Proc {
  const lines: string[] = [];
  const waiters: Array<{ prefix: string; resolve: (l: string) => void }> = [];
  let stderr = '';
  onLines(child.stdout!, (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (line.startsWith(w.prefix)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  return {
    child,
    lines,
    exited,
    waitLine(prefix, timeoutMs = 20000) {
      const have = lines.find((l) => l.startsWith(prefix));
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no '${prefix}' line within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        waiters.push({ prefix, resolve: (l) => (clearTimeout(t), resolve(l)) });
        void exited.then((c) => {
          clearTimeout(t);
          reject(new Error(`exited (${c}) before '${prefix}'; stdout: ${lines.join(' | ')}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
}

export function member(args: Record<string, unknown>): Proc {
  return wrap(spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

export async function startSim(config: Record<string, unknown>): Promise<Proc> {
  const p = wrap(spawn(process.execPath, [SIM, '--config', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await p.waitLine(`ready ${config.name as string}`);
  return p;
}

export async function stop(p: Proc): Promise<number | string> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  return p.exited;
}

/** The JSON of a member's 'done' line. */
export async function summary(p: Proc): Promise<Record<string, number>> {
  const l = await p.waitLine('done ', 60000);
  return JSON.parse(l.slice(5)) as Record<string, number>;
}
