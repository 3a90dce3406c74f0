// The module graph of host/ and hal/ has no cycles, type-only imports
// included (issue 12: each piece takes the narrow state it needs, so no
// file needs the one that needs it). The imports are read with the
// TypeScript compiler's own pre-processor, from the sources.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Edges file -> imported file (relative imports, .js mapped back to .ts), re-exports included. */
export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const info = ts.preProcessFile(fs.readFileSync(path.join(root, f), 'utf8'), true, true);
    const deps = info.importedFiles
      .map((i) => i.fileName)
      .filter((n) => n.startsWith('.'))
      .map((n) => path.normalize(path.join(path.dirname(f), n.replace(/\.js$/, '.ts'))));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

test('the checker finds a cycle, type-only or not', () => {
  const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
  assert.equal(cycles(g), [['a.ts', 'b.ts', 'c.ts']]);
  const src = "import type { X } from './b.js';\nexport { Y } from './c.js';\n";
  const info = ts.preProcessFile(src, true, true);
  assert.equal(info.importedFiles.map((i) => i.fileName), ['./b.js', './c.js']);
});

test('host/ and hal/ have no import cycles', () => {
  const graph = importGraph([...sources('host'), ...sources('hal'), ...sources('assembly/nvme'), ...sources('assembly/abi')]);
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  const found = cycles(graph);
  assert.equal(found, [], `cycles:\n${found.map((c) => c.join(' <-> ')).join('\n')}`);
});

test.run();
