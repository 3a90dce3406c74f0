// The command line as one CommonJS file (issue 17 point 6): esbuild bundles
// dist/host/cli/program.js and everything it imports, statically or
// lazily, into dist/host/cli/program.bundle.cjs, which host/cli/nvme-wasm.cts
// (the `nvme-wasm` command) runs with a V8 code cache. Node 20 has no
// compile cache for ES modules, and its loader resolves, reads and compiles
// each of the ~85 modules a management command needs one by one: the bundle
// is one read and one compile (or one deserialization).
//
// esbuild (a bundler, well kept and fast) rather than a loader of our own:
// it keeps the lazy `import()`s lazy (a module runs when first imported),
// renames what collides between modules, and keeps the code readable (no
// minifying: stack traces of an internal error stay legible).
//
// What the bundle changes, and how it is kept correct:
// - import.meta.url becomes the bundle's own URL. Only host/package-files.ts
//   (which walks up to the package root, so location does not matter) and
//   crc32c.ts's createRequire (which resolves from anywhere in the package)
//   may use it: the build fails on any other use.
// - `import x from 'node:fs'` (a default import of a CommonJS module) becomes
//   `const x = require('node:fs')`: the same object, without esbuild's
//   interop copy of every property per importing module (about 4 ms of a
//   16 ms start-up profile went to those copies).
// - koffi and @node-rs/crc32 (native addons) stay outside, required at run
//   time from the package's node_modules.
// - The first line names the build: "// nvme-wasm bundle <SHA-256 of the
//   rest>"; a code cache records it and is used only with the same bundle.
//
// Run: node dist/tools/bundle-cli.js (npm run build:ts does); its one line goes
// to stderr (npm pack --json, whose prepack builds, owns stdout).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = path.join(ROOT, 'dist/host/cli/program.js');
const OUT = path.join(ROOT, 'dist/host/cli/program.bundle.cjs');
/** The modules that may use import.meta.url in the bundle (see above). */
const IMPORT_META_OK = new Set(['dist/host/package-files.js', 'dist/host/nvmf/crc32c.js']);
const DEFAULT_IMPORT = /^import (\w+) from '(node:[\w/]+|koffi)';$/gm;

const defaultImportsAsRequire: esbuild.Plugin = {
  name: 'nvme-wasm-dist',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, (a) => {
      const rel = path.relative(ROOT, a.path).split(path.sep).join('/');
      const src = fs.readFileSync(a.path, 'utf8');
      if (src.includes('import.meta') && !IMPORT_META_OK.has(rel)) {
        return { errors: [{ text: `${rel} uses import.meta: in the bundle it would mean the bundle's location; find package files with host/package-files.ts` }] };
      }
      return { contents: src.replace(DEFAULT_IMPORT, "const $1 = require('$2');"), loader: 'js' };
    });
  },
};

const t0 = performance.now();
// Never leave a bundle of an older build beside a newer dist: remove it first.
fs.rmSync(OUT, { force: true });
const r = await esbuild.build({
  entryPoints: [ENTRY],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi', '@node-rs/crc32'],
  define: { 'import.meta.url': '__nvmeWasmBundleUrl' },
  banner: { js: 'const __nvmeWasmBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  plugins: [defaultImportsAsRequire],
  write: false,
  logLevel: 'warning',
  legalComments: 'none',
});
const code = r.outputFiles[0]!.contents;
const id = crypto.createHash('sha256').update(code).digest('hex');
fs.writeFileSync(OUT, Buffer.concat([Buffer.from(`// nvme-wasm bundle ${id}\n`), code]));
process.stderr.write(`bundle-cli: ${path.relative(ROOT, OUT)} (${(code.length / 1024).toFixed(0)} KiB, build ${id.slice(0, 12)}) in ${(performance.now() - t0).toFixed(0)} ms\n`);
