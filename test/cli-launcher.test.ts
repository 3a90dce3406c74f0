// The `nvme-wasm` command (host/cli/nvme-wasm.cts): it runs the command line
// from the one-file bundle (tools/bundle-cli.ts) with a V8 code cache per
// command, and the cache is used only when it is this build's and nobody
// else could have written it (issue 17 point 6; docs/cli.md, "Start-up").
// Each case runs the real command with its cache in a private directory of
// its own (NVME_WASM_CODE_CACHE_DIR) and NVME_WASM_CLI_TRACE=1, which makes
// the launcher say on stderr what it decided.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI_MAIN } from './helpers/cli.js';

const BUNDLE = fileURLToPath(new URL('../host/cli/program.bundle.cjs', import.meta.url));
const ESM_MAIN = fileURLToPath(new URL('../host/cli/main.js', import.meta.url));
const { version } = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-launcher-'));
let n = 0;
/** A fresh private cache directory. */
function cacheDir(): string {
  const d = path.join(scratch, `c${n++}`);
  fs.mkdirSync(d, { mode: 0o700 });
  return d;
}

interface Run { code: number | null; out: string; err: string; trace: string[] }
function run(dir: string | undefined, ...args: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, NVME_WASM_CLI_TRACE: '1' };
  if (dir !== undefined) env.NVME_WASM_CODE_CACHE_DIR = dir;
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  const lines = r.stderr.split('\n');
  const trace = lines.filter((l) => l.startsWith('nvme-wasm: code cache: ')).map((l) => l.slice('nvme-wasm: code cache: '.length));
  return { code: r.status, out: r.stdout, err: lines.filter((l) => !l.startsWith('nvme-wasm: code cache: ')).join('\n'), trace };
}
const has = (r: Run, re: RegExp) => assert.ok(r.trace.some((t) => re.test(t)), `trace ${JSON.stringify(r.trace)} has ${re}`);

test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));

test("the bundle's first line names the SHA-256 of the rest", () => {
  const b = fs.readFileSync(BUNDLE);
  const nl = b.indexOf(10);
  const m = /^\/\/ nvme-wasm bundle ([0-9a-f]{64})$/.exec(b.toString('latin1', 0, nl));
  assert.ok(m, 'first line');
  assert.is(m![1], crypto.createHash('sha256').update(b.subarray(nl + 1)).digest('hex'));
});

test('a first run writes the cache, the next one uses it; both print the same', () => {
  const d = cacheDir();
  const a = run(d, '--version');
  assert.is(a.code, 0);
  assert.is(a.out, `${version}\n`);
  has(a, /^none$/);
  has(a, /^written .*default\.bin/);
  const b = run(d, '--version');
  assert.is(b.out, `${version}\n`);
  has(b, /^accepted \(\d+ bytes\)$/);
  assert.not.ok(b.trace.some((t) => t.startsWith('written')), 'an accepted cache is not written again');
  // One cache file per command, named for it.
  const c = run(d, 'identify', '--help');
  assert.is(c.code, 0);
  assert.ok(fs.existsSync(path.join(d, 'identify.bin')), 'identify.bin written');
  assert.equal(fs.readdirSync(d).sort(), ['default.bin', 'identify.bin'], 'no temporary file left');
});

test('a command that loads the Wasm core (list) accepts its own cache: the V8 flags the core sets are set before the bundle compiles', () => {
  // host/core.ts sets --no-turbo-inline-js-wasm-calls (issue 16 G); a cache
  // made under it and read before it would be rejected by V8 on every run.
  const d = cacheDir();
  const a = run(d, 'list');
  assert.is(a.code, 0, a.err);
  has(a, /^written .*list\.bin/);
  const b = run(d, 'list');
  assert.is(b.code, 0, b.err);
  has(b, /^accepted \(\d+ bytes\)$/);
  assert.not.ok(b.trace.some((t) => t.startsWith('written')), `trace ${JSON.stringify(b.trace)}: the cache was not taken`);
  const norm = (s: string) => s.replace(/emb-\d+-\d+/g, 'emb-PID-N'); // the embedded simulator is named for its process
  assert.is(norm(b.out), norm(a.out));
});

test('the long-running commands run as ES modules, not from the bundle', () => {
  const d = cacheDir();
  for (const c of ['perf', 'nvmf-tgt', 'demo']) {
    const r = run(d, c, '--help');
    assert.is(r.code, 0);
    assert.equal(r.trace, [`${c} runs as ES modules`]);
  }
  assert.equal(fs.readdirSync(d), [], 'no cache for them');
});

test('the bundle and the ES modules print the same help, errors and exit codes', () => {
  for (const args of [['--help'], ['identify', '--help'], ['perf', '-q', '0'], ['no-such-command'], ['id-ns', '-r', 'trtype:bogus']]) {
    const viaBin = run(cacheDir(), ...args);
    const esm = spawnSync(process.execPath, [ESM_MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.is(viaBin.code, esm.status, `exit code of ${args.join(' ')}`);
    assert.is(viaBin.out, esm.stdout, `stdout of ${args.join(' ')}`);
    assert.is(viaBin.err, esm.stderr, `stderr of ${args.join(' ')}`);
  }
});

test('a failing command leaves no cache', () => {
  const d = cacheDir();
  const r = run(d, 'id-ns', '-r', 'trtype:bogus');
  assert.is(r.code, 1);
  assert.match(r.err, /nvme-wasm: error: |error: option/);
  assert.equal(fs.readdirSync(d), []);
});

test("another build's cache is stale: not used, written again", () => {
  const d = cacheDir();
  run(d, '--version');
  const f = path.join(d, 'default.bin');
  const data = fs.readFileSync(f);
  const nl = data.indexOf(10);
  const header = data.toString('latin1', 0, nl).replace(/ [0-9a-f]{64} /, ` ${'0'.repeat(64)} `);
  fs.writeFileSync(f, Buffer.concat([Buffer.from(`${header}\n`), data.subarray(nl + 1)]), { mode: 0o644 });
  const r = run(d, '--version');
  assert.is(r.out, `${version}\n`);
  has(r, /^stale/);
  has(r, /^written/);
  has(run(d, '--version'), /^accepted/);
});

test('a damaged cache is rejected by V8 and the command still runs', () => {
  const d = cacheDir();
  run(d, '--version');
  const f = path.join(d, 'default.bin');
  const data = fs.readFileSync(f);
  const nl = data.indexOf(10);
  const body = Buffer.from(data.subarray(nl + 1));
  for (let i = 0; i < body.length; i += 7) body[i] ^= 0x5a;
  fs.writeFileSync(f, Buffer.concat([data.subarray(0, nl + 1), body]));
  const r = run(d, '--version');
  assert.is(r.code, 0);
  assert.is(r.out, `${version}\n`);
  has(r, /^rejected by V8$/);
  has(r, /^written/);
});

test('a cache file others could write, or a symbolic link, is not trusted', () => {
  const d = cacheDir();
  run(d, '--version');
  const f = path.join(d, 'default.bin');
  fs.chmodSync(f, 0o666);
  const r = run(d, '--version');
  assert.is(r.out, `${version}\n`);
  has(r, /^ignored: .* is not trusted \(owner \d+, mode 666\)$/);
  // Replaced by this user's own (a fresh file renamed over it).
  has(r, /^written/);
  assert.is(fs.statSync(f).mode & 0o777, 0o644);

  const elsewhere = path.join(scratch, `real${n++}.bin`);
  fs.renameSync(f, elsewhere);
  fs.symlinkSync(elsewhere, f);
  const s = run(d, '--version');
  assert.is(s.out, `${version}\n`);
  has(s, /^not opened \(ELOOP\)$/);
});

test('a cache directory others could write is neither read nor written', () => {
  const d = cacheDir();
  run(d, '--version');
  fs.chmodSync(d, 0o777);
  const r = run(d, '--version');
  assert.is(r.out, `${version}\n`);
  has(r, /is not trusted \(owner \d+, mode 777\)$/);
  assert.not.ok(r.trace.some((t) => /^(accepted|written)/.test(t)), 'not used');
  fs.chmodSync(d, 0o700);
});

test("a cache file of another user is not trusted (as root: the file given to 'nobody')", () => {
  if (process.geteuid?.() !== 0) return; // only root can give a file away
  const d = cacheDir();
  run(d, '--version');
  const f = path.join(d, 'default.bin');
  fs.chownSync(f, 65534, 65534);
  const r = run(d, '--version');
  assert.is(r.out, `${version}\n`);
  has(r, /^ignored: .* is not trusted \(owner 65534, mode 644\)$/);
});

test('NVME_WASM_CODE_CACHE=0: no cache read or written', () => {
  const d = cacheDir();
  const r = spawnSync(process.execPath, [CLI_MAIN, '--version'], { encoding: 'utf8', env: { ...process.env, NVME_WASM_CODE_CACHE: '0', NVME_WASM_CODE_CACHE_DIR: d, NVME_WASM_CLI_TRACE: '1' } });
  assert.is(r.stdout, `${version}\n`);
  assert.is(r.stderr, '');
  assert.equal(fs.readdirSync(d), []);
});

test.run();
