#!/usr/bin/env node
// The `nvme-wasm` command. It runs host/cli/program.ts from the one-file
// CommonJS bundle tools/bundle-cli.ts makes of it (program.bundle.cjs, beside
// this file) with a V8 code cache, so that a management tool attaching to a
// running group starts in about the time of a bare `node` (issue 17 point 6;
// docs/cli.md, "Start-up"): one file read instead of a hundred ES modules
// resolved, read and compiled, and the functions the command ran last time
// deserialized instead of compiled.
//
// The code cache: one file per command (the first argument when it looks
// like a command name, else "default") in .v8-cache/ beside the bundle,
// written when a run that found none (or a stale one) ends with exit code 0.
// Its header names the bundle's build (the SHA-256 the bundler wrote in the
// bundle's first line) and Node's version; V8 checks its own version and
// flags besides and rejects what does not match. The cache is trusted like
// the code beside it, and only if nobody else could have written it: the
// directory and the file must belong to this user (or to root, for reading)
// and be writable by nobody else; the file is opened without following a
// symbolic link, and written to a fresh file renamed into place. Anything
// that fails: the bundle runs without a cache. No bundle at all (a build
// without tools/bundle-cli.ts): the ES module entry, main.js.
//
// Only the short-lived commands run from the bundle: the management tools,
// whose start-up is most of their time (identify, id-ctrl, list, ...),
// `--help` and `--version`. The long-running ones (perf, nvmf-tgt, demo,
// sim, setup: see ES_MODULE_COMMANDS) run as ES modules, as main.js: their
// start-up matters little, and perf on a PCIe controller from the bundle
// was where V8 crashed on the stack of a WebAssembly trap (issue 16 G, 3 of
// 3 vm-driver-loop runs; the cause, V8's inlining of JS-to-Wasm calls, is
// turned off by host/core.ts since: docs/vm-tests.md).
//
// NVME_WASM_CODE_CACHE=0 turns the cache off; NVME_WASM_CODE_CACHE_DIR
// puts it elsewhere (tests); NVME_WASM_CLI_TRACE=1 prints what the cache
// step decided on stderr.
import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');
import nodeModule = require('node:module');
import { applyV8Flags } from '../v8-flags.cjs';

// The flags the driver runs under (host/v8-flags.cts), before the bundle is
// compiled: the code cache is made and read under the same flags.
applyV8Flags();

const BUNDLE = path.join(__dirname, 'program.bundle.cjs');
/** First line of a cache file: MAGIC, the bundle's build id, Node's version. */
const MAGIC = 'nvme-wasm-code-cache 1';
/** The bundle's first line: BUNDLE_TAG and its build id. */
const BUNDLE_TAG = '// nvme-wasm bundle ';
/** A command name that may name a cache file. */
const COMMAND_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const GROUP_OTHER_WRITE = 0o022;
/** Commands that run as ES modules, not from the bundle (see above). */
const ES_MODULE_COMMANDS = new Set(['perf', 'nvmf-tgt', 'demo', 'sim', 'setup']);

const trace = process.env.NVME_WASM_CLI_TRACE === '1' ? (s: string) => process.stderr.write(`nvme-wasm: code cache: ${s}\n`) : () => {};
const euid = process.geteuid?.() ?? -1;

/** Is this file or directory ours (or root's, when only read), and writable by nobody else? */
function trusted(st: fs.Stats, forWrite: boolean): boolean {
  return (st.uid === euid || (!forWrite && st.uid === 0)) && (st.mode & GROUP_OTHER_WRITE) === 0;
}

/** The cache directory if it may be used (made if missing and its parent is ours); why not otherwise. */
function cacheDir(): { dir: string; writable: boolean } | string {
  const dir = process.env.NVME_WASM_CODE_CACHE_DIR ?? path.join(__dirname, '.v8-cache');
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    try {
      if (!trusted(fs.lstatSync(path.dirname(dir)), true)) return `not made: ${path.dirname(dir)} is not this user's alone`;
      fs.mkdirSync(dir, { mode: 0o755 });
      st = fs.lstatSync(dir);
    } catch (e) {
      return `no directory (${(e as Error).message})`;
    }
  }
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (!trusted(st, false)) return `${dir} is not trusted (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)})`;
  return { dir, writable: trusted(st, true) };
}

/** The cache's V8 data, if the file is there, trusted and of this build. */
function readCache(file: string, header: string): Buffer | string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : `not opened (${(e as NodeJS.ErrnoException).code})`;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !trusted(st, false)) return `ignored: ${file} is not trusted (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)})`;
    const data = fs.readFileSync(fd);
    const nl = data.indexOf(10);
    if (nl < 0 || data.toString('latin1', 0, nl) !== header) return 'stale (another build or Node)';
    return data.subarray(nl + 1);
  } finally {
    fs.closeSync(fd);
  }
}

/** Write the cache for the next run: a fresh file, then renamed over the old one. */
function writeCache(file: string, header: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o644);
    try {
      fs.writeSync(fd, `${header}\n`);
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    trace(`written ${file} (${data.length} bytes)`);
  } catch (e) {
    trace(`not written (${(e as Error).message})`);
    fs.rmSync(tmp, { force: true });
  }
}

function run(source: string): void {
  const id = source.startsWith(BUNDLE_TAG) ? source.slice(BUNDLE_TAG.length, source.indexOf('\n')) : '';
  const command = process.argv[2] !== undefined && COMMAND_NAME.test(process.argv[2]) ? process.argv[2] : 'default';
  const header = `${MAGIC} ${id} ${process.version}`;
  let cached: Buffer | undefined;
  let file: string | undefined;
  let writable = false;
  if (process.env.NVME_WASM_CODE_CACHE !== '0' && id !== '') {
    const d = cacheDir();
    if (typeof d === 'string') trace(d);
    else {
      file = path.join(d.dir, `${command}.bin`);
      writable = d.writable;
      const c = readCache(file, header);
      if (typeof c === 'string') trace(c);
      else cached = c;
    }
  }
  const script = new vm.Script(nodeModule.wrap(source), { filename: BUNDLE, cachedData: cached });
  if (cached) trace(script.cachedDataRejected ? 'rejected by V8' : `accepted (${cached.length} bytes)`);
  if (file && writable && (!cached || script.cachedDataRejected)) {
    const target = file;
    process.once('exit', (code) => {
      if (code === 0) writeCache(target, header, script.createCachedData());
    });
  }
  const exports = {};
  const mod = { exports, id: BUNDLE, filename: BUNDLE, loaded: false };
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  fn.call(exports, exports, nodeModule.createRequire(BUNDLE), mod, BUNDLE, __dirname);
  const { main } = mod.exports as { main: (argv: string[]) => Promise<void> };
  void main(process.argv);
}

let source: string | undefined;
if (ES_MODULE_COMMANDS.has(process.argv[2] ?? '')) trace(`${process.argv[2]} runs as ES modules`);
else {
  try {
    source = fs.readFileSync(BUNDLE, 'utf8');
  } catch {
    trace(`no bundle at ${BUNDLE}: running the ES modules`);
  }
}
if (source !== undefined) run(source);
else void import('./main.js');
