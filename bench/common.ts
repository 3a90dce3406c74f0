// Small pieces the benchmarks share.
import type { ChildProcess } from 'node:child_process';

/** The median of `xs` (the upper one for an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
