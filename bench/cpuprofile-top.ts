// A V8 .cpuprofile (node --cpu-prof) summed up: self and inclusive time by
// function, self time by file, the largest first. Used by bench:nvmf's
// projectProfile variant, and on its own:
//   node dist/bench/cpuprofile-top.js FILE.cpuprofile [N] [--from FUNCTION]
// --from: only the samples from 1 s after the first whose leaf is FUNCTION
// to 0.5 s before the last (the steady state of a run, without start-up).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_DIR } from '../test/vm/guest.js';

/** The parts of V8's profile format this reads. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The top `n` functions and files by time, as a printable table; `from`: the window of that function's samples only. */
export function profileTop(p: CpuProfile, n: number, from?: string): string {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const name = (id: number): string => {
    const cf = byId.get(id)!.callFrame;
    return `${cf.functionName || '(anonymous)'}${cf.url ? ` ${path.basename(cf.url)}:${cf.lineNumber + 1}` : ''}`;
  };
  let t = p.startTime;
  const at = p.timeDeltas.map((d) => (t += d));
  let lo = -Infinity;
  let hi = Infinity;
  if (from !== undefined) {
    const hits = p.samples.flatMap((id, i) => (byId.get(id)!.callFrame.functionName === from ? [at[i]!] : []));
    if (hits.length === 0) return `no sample in ${from}: nothing to show`;
    lo = hits[0]! + 1e6;
    hi = hits[hits.length - 1]! - 0.5e6;
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const file = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number): void => void m.set(k, (m.get(k) ?? 0) + us);
  let total = 0;
  // A sample's time is the delta to the next one (DevTools' convention).
  for (let i = 0; i + 1 < p.samples.length; i++) {
    if (at[i]! < lo || at[i]! > hi) continue;
    const us = at[i + 1]! - at[i]!;
    total += us;
    let id: number | undefined = p.samples[i]!;
    add(self, name(id), us);
    const cf = byId.get(id)!.callFrame;
    add(file, cf.url ? path.basename(cf.url) : cf.functionName, us);
    const seen = new Set<string>();
    for (; id !== undefined; id = parent.get(id)) {
      const k = name(id);
      if (!seen.has(k)) add(incl, k, us), seen.add(k);
    }
  }
  const rows = (m: Map<string, number>, k: number): string[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([x, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${x}`);
  return [
    `${(total / 1e6).toFixed(1)} s of samples${from !== undefined ? ` (the steady state of ${from})` : ''}; self time by function:`,
    ...rows(self, n),
    'inclusive time by function:',
    ...rows(incl, n),
    'self time by file:',
    ...rows(file, Math.min(n, 12)),
  ].join('\n');
}

/**
 * A guest bench's profiles (the files under `dir`/ of its shared folder)
 * copied to bench/build/`dir`/, each summed up on stdout over the steady
 * state of `from`.
 */
export function keepProfiles(files: Map<string, Buffer>, dir: string, from: string): void {
  const to = path.join(PROJECT_DIR, 'bench/build', dir);
  for (const [rel, data] of files) {
    if (!rel.startsWith(`${dir}/`)) continue;
    fs.mkdirSync(to, { recursive: true });
    const file = path.join(to, path.basename(rel));
    fs.writeFileSync(file, data);
    console.log(`\nprofile: ${path.relative(process.cwd(), file)}`);
    console.log(profileTop(JSON.parse(data.toString()) as CpuProfile, 25, from));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const f = args.indexOf('--from');
  const from = f >= 0 ? args.splice(f, 2)[1] : undefined;
  const [file, n] = args;
  if (!file) {
    console.error('usage: node dist/bench/cpuprofile-top.js FILE.cpuprofile [N] [--from FUNCTION]');
    process.exit(2);
  }
  console.log(profileTop(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, Number(n ?? 30), from));
}
