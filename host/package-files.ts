// Files of the nvme-wasm package itself (package.json, build/core.wasm, the
// simulator's entry points), found from the package's root directory: the
// nearest directory above this module whose package.json is nvme-wasm's.
// Found by walking up rather than by a fixed "../.." so that the same code
// works from dist/host/ and from the command line's one-file bundle in
// dist/host/cli/ (tools/bundle-cli.ts). Only the package's own tree is
// searched: these files are as trusted as the code that reads them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directories walked up at most (dist/host/cli/perf is four below the root). */
const MAX_UP = 6;

let root: string | undefined;

/** The package's root directory (where its package.json is). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start, i = 0; i <= MAX_UP; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'nvme-wasm') return (root = dir);
    } catch {
      // no package.json here, or not JSON: keep going up
    }
  }
  throw new Error(`nvme-wasm: cannot find its package.json above ${start}`);
}

/** A path inside the package, from its root: packageFile('build', 'core.wasm'). */
export function packageFile(...parts: string[]): string {
  return path.join(packageRoot(), ...parts);
}
