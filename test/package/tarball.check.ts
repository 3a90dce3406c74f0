// The package as a user gets it (issue 15): `npm pack` (whose prepack runs
// build:package), the tarball's file list, publint and arethetypeswrong on
// the tarball, then a scratch project in a private temporary directory that
// installs the tarball, compiles a strict TypeScript consumer against it
// (skipLibCheck off), runs it and a CommonJS one, and runs the installed
// `nvme-wasm` command. Not part of `npm test` (it packs and installs from the
// registry): `npm run check:package`, and .ci/run after the tests. Set
// NVME_WASM_KEEP_PACKAGE_CHECK=1 to keep the scratch directory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CONSUMER_CJS, CONSUMER_OK, CONSUMER_PACKAGE, CONSUMER_TSCONFIG, consumerSource } from './consumer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const typesNode = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-package-'));
fs.chmodSync(scratch, 0o700);
const project = path.join(scratch, 'consumer');
let tarball = '';

/** Run a command; its stdout, or an AssertionError-friendly Error with its output. */
function run(cmd: string, args: string[], cwd: string, timeout = 300_000): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${x.status}:\n${x.stdout ?? ''}${x.stderr ?? ''}`);
  }
}

interface PackResult { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }

const kB = (n: number) => `${(n / 1000).toFixed(1)} kB`;

// Each step's time, so a slow one shows in the CI log.
let started = 0;
test.before.each(() => {
  started = Date.now();
});
test.after.each((ctx) => {
  console.log(`  ${((Date.now() - started) / 1000).toFixed(1)} s: ${(ctx as { __test__?: string }).__test__ ?? ''}`);
});

test('npm pack: the tarball holds the product only', () => {
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], ROOT)) as PackResult[];
  assert.ok(packed, 'npm pack printed its result');
  tarball = path.join(scratch, packed!.filename);
  console.log(`  npm pack: package size ${kB(packed!.size)}, unpacked size ${kB(packed!.unpackedSize)}, total files ${packed!.entryCount}`);
  const files = packed!.files.map((f) => f.path);
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'build/core.wasm', 'dist/host/index.js', 'dist/host/index.d.ts', 'dist/host/sim/index.d.ts', 'dist/host/nvmf/index.d.ts', 'dist/host/cli/main.js', 'dist/host/cli/nvme-wasm.cjs', 'dist/host/cli/program.bundle.cjs', 'dist/host/sim/worker.js']) {
    assert.ok(files.includes(needed), `${needed} is in the tarball`);
  }
  const unwanted = files.filter((f) => /^dist\/(test|bench|tools)\/|\.map$|\.debug\.|\.v8-cache\/|^(assembly|host|hal|test|bench|tools)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
  assert.equal(unwanted, [], 'no tests, benches, build tools, source maps, debug builds, code caches or sources');
});

test('publint (strict) and arethetypeswrong (ESM-only profile) find nothing', () => {
  run('npx', ['--no', 'publint', 'run', tarball, '--strict'], ROOT);
  run('npx', ['--no', 'attw', tarball, '--profile', 'esm-only'], ROOT);
});

test('the tarball installs into a scratch project', () => {
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(CONSUMER_PACKAGE, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', tarball, `@types/node@${typesNode}`], project);
  const installed = JSON.parse(fs.readFileSync(path.join(project, 'node_modules/nvme-wasm/package.json'), 'utf8')) as { version: string };
  assert.is(installed.version, version);
  const dir = path.join(project, 'node_modules/nvme-wasm');
  const scripts = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  const mapped = scripts.filter((f) => /^\/\/# sourceMappingURL=/m.test(fs.readFileSync(path.join(dir, f), 'utf8')));
  assert.equal(mapped, [], 'no installed script points at a source map');
});

test('a strict TypeScript consumer compiles against the installed package (skipLibCheck off) and runs', () => {
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
  fs.writeFileSync(path.join(project, 'consumer.ts'), consumerSource(`nvme-wasm-pkg-${process.pid}`));
  run(process.execPath, [TSC, '-p', project], project);
  const out = run(process.execPath, [path.join(project, 'out/consumer.js')], project, 60_000);
  process.stdout.write(out.replace(/^/gm, '  '));
  assert.ok(out.trimEnd().endsWith(CONSUMER_OK), out);
});

test('a CommonJS consumer require()s the three entry points', () => {
  fs.writeFileSync(path.join(project, 'consumer.cjs'), CONSUMER_CJS);
  assert.is(run(process.execPath, [path.join(project, 'consumer.cjs')], project, 60_000), 'require: ok\n');
});

test('the installed command runs: nvme-wasm --version, nvme-wasm demo', () => {
  assert.is(run('npx', ['--no', '--', 'nvme-wasm', '--version'], project), `${version}\n`);
  const demo = run('npx', ['--no', '--', 'nvme-wasm', 'demo', '-n', '5'], project, 120_000);
  assert.match(demo, /nvme-wasm simulated controller/);
});

test.after(() => {
  if (process.env.NVME_WASM_KEEP_PACKAGE_CHECK) console.log(`  kept ${scratch}`);
  else fs.rmSync(scratch, { recursive: true, force: true });
});

test.run();
