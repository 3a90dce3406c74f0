// The TypeScript view of the Wasm core's exports (CoreExports in
// host/core.ts) matches what the build exports: asc writes the exports'
// declarations with the release build (asconfig.json "bindings": "raw",
// build/core.d.ts), and every function there must stand in CoreExports
// with the same parameters and result type, and the other way round.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** name -> "(a: number, b: number) => number" for each function a source declares (interface methods or exported functions). */
function signatures(file: string, pick: (n: ts.Node) => ts.NodeArray<ts.Node> | undefined): Map<string, string> {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, string>();
  const sig = (name: string, params: ts.NodeArray<ts.ParameterDeclaration>, type: ts.TypeNode | undefined) =>
    out.set(name, `(${params.map((p) => `${p.name.getText(src)}: ${p.type?.getText(src)}`).join(', ')}) => ${type?.getText(src)}`);
  const visit = (n: ts.Node): void => {
    const members = pick(n);
    if (members) {
      for (const m of members) {
        if (ts.isMethodSignature(m)) sig(m.name.getText(src), m.parameters, m.type);
        else if (ts.isFunctionDeclaration(m) && m.name) sig(m.name.text, m.parameters, m.type);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

/**
 * Parameter names may differ; types and arity may not. The host calls the
 * raw exports (through @assemblyscript/loader, not asc's adapted bindings),
 * where an AssemblyScript bool is a Wasm i32: a number both ways.
 */
const shape = (s: string) => s.replace(/\b\w+: /g, '').replace(/\bboolean\b/g, 'number');

test('CoreExports (host/core.ts) matches the exports of the built core (build/core.d.ts)', () => {
  const built = signatures(`${root}build/core.d.ts`, (n) => (ts.isModuleDeclaration(n) && n.name.getText() === '__AdaptedExports' && n.body && ts.isModuleBlock(n.body) ? n.body.statements : undefined));
  const host = signatures(`${root}host/core.ts`, (n) => (ts.isInterfaceDeclaration(n) && n.name.text === 'CoreExports' ? n.members : undefined));
  assert.ok(built.size > 40, `the build declares ${built.size} exports`);
  const missing = [...built.keys()].filter((k) => !host.has(k));
  const extra = [...host.keys()].filter((k) => !built.has(k));
  const differ = [...built.keys()].filter((k) => host.has(k) && shape(host.get(k)!) !== shape(built.get(k)!)).map((k) => `${k}: built ${built.get(k)}, host ${host.get(k)}`);
  assert.equal({ missing, extra, differ }, { missing: [], extra: [], differ: [] });
});

test('the comparison notices a difference', () => {
  assert.is.not(shape('(a: number) => number'), shape('(a: number, b: number) => number'));
  assert.is.not(shape('(a: number) => number'), shape('(a: number) => bigint'));
  assert.is(shape('(a: number) => void'), shape('(b: number) => void'));
  assert.is(shape('(a: boolean) => boolean'), shape('(a: number) => number'));
});

test('the core has no optional parameters: host/core.ts may call its raw exports', () => {
  // With optional parameters asc exports __argumentsLength (or __setArgumentsLength),
  // which a caller must set before each call; host/core.ts bypasses the loader's
  // wrappers that do it, so such an export must not appear.
  for (const file of ['core.wasm', 'core.debug.wasm']) {
    const names = WebAssembly.Module.exports(new WebAssembly.Module(fs.readFileSync(`${root}build/${file}`))).map((e) => e.name);
    assert.ok(names.includes('qpPoll'), `${file} exports qpPoll`);
    assert.equal(names.filter((n) => /argumentsLength|setargc/i.test(n)), [], file);
  }
});

test.run();
