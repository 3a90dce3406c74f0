// A V8 .cpuprofile (node --cpu-prof) summed up: self time by function and by
// file, the largest first. Used by bench:nvmf's projectProfile variant, and
// on its own: node dist/bench/cpuprofile-top.js FILE.cpuprofile [N]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of V8's profile format this reads. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The top `n` functions and files by self time, as a printable table. */
export function profileTop(p: CpuProfile, n: number): string {
  const byNode = new Map(p.nodes.map((x) => [x.id, x]));
  const selfUs = new Map<number, number>();
  // A sample's time is the delta to the next one (V8's own convention in DevTools).
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt);
  }
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const cf = byNode.get(id)!.callFrame;
    const where = cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const f = cf.url ? path.basename(cf.url) : cf.functionName;
    file.set(f, (file.get(f) ?? 0) + us);
    total += us;
  }
  const rows = (m: Map<string, number>, k: number): string[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  return [
    `${p.samples.length} samples over ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s; self time by function:`,
    ...rows(fn, n),
    'self time by file:',
    ...rows(file, Math.min(n, 12)),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/cpuprofile-top.js FILE.cpuprofile [N]');
    process.exit(2);
  }
  console.log(profileTop(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, Number(n ?? 30)));
}
