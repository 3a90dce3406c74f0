// The shipped declarations are plain TypeScript (issue 15): the package's
// three entry points type-check in a strict program with skipLibCheck off
// and without assembly/nvme/portable.d.ts, the shim that lets tsc read the
// AssemblyScript types (tools/plain-declarations.ts rewrites them after tsc).
// test/package/main.ts checks the same from the packed and installed tarball.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { plainDeclarations, shimAliases, SHIM } from '../tools/plain-declarations.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRIES = ['dist/host/index.d.ts', 'dist/host/sim/index.d.ts', 'dist/host/nvmf/index.d.ts'];

test('the shim aliases are read from portable.d.ts', () => {
  const aliases = shimAliases(fs.readFileSync(SHIM, 'utf8'));
  assert.is(aliases.get('u32'), 'number');
  assert.is(aliases.get('bool'), 'boolean');
  assert.ok(aliases.size >= 8, `${aliases.size} aliases`);
});

test('only type references to an alias are rewritten, not names nor a file\'s own types', () => {
  const aliases = new Map([['u32', 'number'], ['bool', 'boolean'], ['u8', 'number']]);
  const src = 'export declare function f(u8: u32, b: bool): Array<u32>;\nexport declare const u32v: { u8: u8 };\n';
  const r = plainDeclarations(src, aliases);
  assert.is(r.text, 'export declare function f(u8: number, b: boolean): Array<number>;\nexport declare const u32v: { u8: number };\n');
  assert.is(r.replaced, 4);
  const own = 'type u32 = bigint;\nexport declare const x: u32;\n';
  assert.equal(plainDeclarations(own, aliases), { text: own, replaced: 0 });
});

test('the entry points type-check strictly without the shim (skipLibCheck off)', () => {
  for (const e of ENTRIES) assert.ok(fs.existsSync(path.join(ROOT, e)), `${e} is built`);
  const options: ts.CompilerOptions = {
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules/@types')],
  };
  const program = ts.createProgram(ENTRIES.map((e) => path.join(ROOT, e)), options);
  const files = program.getSourceFiles().map((f) => path.relative(ROOT, f.fileName));
  assert.not.ok(files.includes('assembly/nvme/portable.d.ts'), 'the shim is not part of the program');
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n') + (d.file ? ` (${path.relative(ROOT, d.file.fileName)})` : ''));
  assert.equal(diagnostics.slice(0, 10), [], `${diagnostics.length} errors`);
});

test.run();
