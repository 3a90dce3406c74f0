// The shipped declarations in plain TypeScript (issue 15).
//
// assembly/nvme and assembly/abi are written in the common subset of
// AssemblyScript and TypeScript, and the host imports them. tsc reads their
// AssemblyScript types (u32, bool, ...) through the global aliases of
// assembly/nvme/portable.d.ts, a shim of this build, and copies those names
// as written into the .d.ts files it emits. A consumer's compiler has no such
// shim, and shipping it would put u32 and bool in the consumer's global
// scope. So, after tsc, each reference to one of the shim's aliases in an
// emitted .d.ts is replaced by the TypeScript type the shim gives it (number,
// boolean): the declarations say what a consumer gets, and declare nothing
// global. The shim stays the one list of those aliases.
//
// Run: node dist/tools/plain-declarations.js [dir...] (default: dist/assembly,
// dist/hal, dist/host).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The shim that tsc reads the shared AssemblyScript files with. */
export const SHIM = path.join(ROOT, 'assembly/nvme/portable.d.ts');

/** The product's emitted declarations, rewritten by default. */
export const DEFAULT_DIRS = ['dist/assembly', 'dist/hal', 'dist/host'].map((d) => path.join(ROOT, d));

/** Alias name -> the TypeScript type it stands for, from the shim's `declare type X = T;` lines. */
export function shimAliases(text: string): Map<string, string> {
  const src = ts.createSourceFile('portable.d.ts', text, ts.ScriptTarget.ES2022, true);
  const out = new Map<string, string>();
  for (const s of src.statements) {
    if (ts.isTypeAliasDeclaration(s) && !s.typeParameters) out.set(s.name.text, s.type.getText(src));
  }
  return out;
}

/** Names a declaration file declares or imports itself at top level: references to those are its own, not the shim's. */
function ownNames(src: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const s of src.statements) {
    if ((ts.isTypeAliasDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isClassDeclaration(s) || ts.isEnumDeclaration(s)) && s.name) names.add(s.name.text);
    if (ts.isImportDeclaration(s) && s.importClause) {
      const c = s.importClause;
      if (c.name) names.add(c.name.text);
      if (c.namedBindings && ts.isNamedImports(c.namedBindings)) for (const e of c.namedBindings.elements) names.add(e.name.text);
      if (c.namedBindings && ts.isNamespaceImport(c.namedBindings)) names.add(c.namedBindings.name.text);
    }
  }
  return names;
}

/**
 * The declaration text with every reference to an alias replaced by the
 * type it stands for, and how many were replaced. Only type references are
 * touched: a property or parameter named u8 stays u8.
 */
export function plainDeclarations(text: string, aliases: Map<string, string>, fileName = 'x.d.ts'): { text: string; replaced: number } {
  const src = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const own = ownNames(src);
  const edits: { start: number; end: number; type: string }[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isTypeReferenceNode(n) && ts.isIdentifier(n.typeName) && !n.typeArguments) {
      const type = aliases.get(n.typeName.text);
      if (type !== undefined && !own.has(n.typeName.text)) edits.push({ start: n.getStart(src), end: n.end, type });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.type + out.slice(e.end);
  return { text: out, replaced: edits.length };
}

/** Every .d.ts file under dir. */
function declarationFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts')).map((f) => path.join(dir, f));
}

/** Rewrites the declaration files under dirs in place; returns the number of references and files changed. */
export function rewriteDeclarations(dirs: string[], aliases = shimAliases(fs.readFileSync(SHIM, 'utf8'))): { replaced: number; files: number } {
  let replaced = 0;
  let files = 0;
  for (const file of dirs.flatMap(declarationFiles)) {
    const text = fs.readFileSync(file, 'utf8');
    const r = plainDeclarations(text, aliases, file);
    if (r.replaced === 0) continue;
    fs.writeFileSync(file, r.text);
    replaced += r.replaced;
    files++;
  }
  return { replaced, files };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dirs = process.argv.length > 2 ? process.argv.slice(2).map((d) => path.resolve(d)) : DEFAULT_DIRS;
  rewriteDeclarations(dirs);
}
