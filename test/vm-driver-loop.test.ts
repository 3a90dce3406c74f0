// Inside the VM, vfio route (issue 16 G): the loop in which perf once ended
// in "Segmentation fault" (V8 crashing on the stack of a WebAssembly trap
// that its inlining of JS-to-Wasm calls brought; host/core.ts turns that
// inlining off, docs/vm-tests.md). Each round binds the controller with
// `nvme-wasm setup --driver vfio-pci`, lets another user-space driver
// (bench/native/nvme-vfio.c: VFIO open, which resets the function, then
// I/O, then exit) use the device first, then runs `nvme-wasm perf -q 1 -o
// 4096 -w randread --json` through the installed command (the bundle
// launcher), the way the old build crashed about once in ten rounds. Every
// run must exit 0 with its JSON; a signal (SIGSEGV, SIGBUS) or a missing
// JSON fails the test with the round, the signal, perf's last lines and
// gdb's backtraces of the core.
//
// NVME_WASM_VM_LOOP_ROUNDS (default 20; at 1 in 10 the old crash is caught
// with probability 1 - 0.9^20 = 0.88) and NVME_WASM_VM_LOOP_SECONDS (perf -t,
// default 1); NVME_WASM_VM_LOOP_OTHER=alternate: the other driver on every
// other round only. For a closer look: NVME_WASM_VM_LOOP_ENTRY (the CLI file
// that runs, relative to dist/, default host/cli/nvme-wasm.cjs, the command;
// host/cli/main.js runs the ES modules directly) and
// NVME_WASM_VM_LOOP_NODE_ARGS (node's own flags before it, space-separated);
// NVME_WASM_VM_LOOP_NODE_ARGS_B (flags for every even round's perf instead:
// an A/B in one boot, counted apart at the end);
// NVME_WASM_VM_LOOP_GDB=1 runs each perf under gdb, which stops at the first
// SIGSEGV (the one V8's trap handler would take for a Wasm out-of-bounds
// access, before V8 turns it into a trap) and prints its faulting address,
// registers, code and the mappings, then lets V8 go on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { vmConfig, cliSync, tridOf, MAIN, resetToKernel } from './helpers/pcie-vm.js';

const vm = vmConfig();
const t = vm && vm.route === 'vfio' ? test : test.skip;
if (vm && vm.route !== 'vfio') console.log('  (vm-driver-loop: vfio route only: the other driver is a VFIO one)');
const dev = vm?.devices[1] ?? vm?.devices[0];
const ROUNDS = Number(process.env.NVME_WASM_VM_LOOP_ROUNDS ?? 20);
const SECONDS = Number(process.env.NVME_WASM_VM_LOOP_SECONDS ?? 1);
/** The other driver before every perf run (NVME_WASM_VM_LOOP_OTHER=alternate: every other one). */
const OTHER_EVERY_ROUND = process.env.NVME_WASM_VM_LOOP_OTHER !== 'alternate';
const DIST = fileURLToPath(new URL('../', import.meta.url));
const ENTRY = process.env.NVME_WASM_VM_LOOP_ENTRY ? `${DIST}${process.env.NVME_WASM_VM_LOOP_ENTRY}` : MAIN;
const NODE_ARGS = (process.env.NVME_WASM_VM_LOOP_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** An A/B in one boot: with NVME_WASM_VM_LOOP_NODE_ARGS_B set, every even round's perf runs under these flags instead. */
const NODE_ARGS_B = process.env.NVME_WASM_VM_LOOP_NODE_ARGS_B === undefined ? undefined : process.env.NVME_WASM_VM_LOOP_NODE_ARGS_B.split(' ').filter(Boolean);
const GDB = process.env.NVME_WASM_VM_LOOP_GDB === '1';
/** gdb's commands around perf: stop at the first SIGSEGV, say where it fell, then let V8 handle it. */
const GDB_CMDS = [
  'set pagination off', 'handle SIGSEGV stop print nopass', 'handle SIGBUS stop print nopass', 'handle SIGPIPE nostop noprint pass', 'handle SIGUSR1 nostop noprint pass',
  'run', 'print $_siginfo.si_signo', 'print $_siginfo._sifields._sigfault.si_addr', 'info registers', 'x/12i $pc-32', 'x/4i $pc', 'bt 16', 'info proc mappings',
  'handle SIGSEGV stop print pass', 'continue', 'bt 24', 'kill',
];
const C_SOURCE = fileURLToPath(new URL('../../bench/native/nvme-vfio.c', import.meta.url));
const C_BIN = '/tmp/nvme-vfio';

test.after(async () => {
  if (vm && vm.route === 'vfio') await resetToKernel(vm.devices);
});

const tail = (s: string | null, n = 6) => (s ?? '').trim().split('\n').slice(-n).join(' | ');
const t0 = Date.now();
/** A progress line on the guest's serial console (build/vm/<name>-console.log, live on the host). */
function progress(line: string): void {
  try {
    fs.appendFileSync('/dev/console', `vm-driver-loop +${((Date.now() - t0) / 1000).toFixed(1)}s: ${line}\n`);
  } catch {
    // no console: the summary at the end says it all
  }
}
/** The CLI, bounded in time (a hang is a failure too), with core dumps on (ulimit -c unlimited). */
function cliBounded(args: string[], timeoutMs: number, underGdb = false, nodeArgs = NODE_ARGS) {
  if (underGdb) {
    return spawnSync('gdb', ['-q', '-batch', ...GDB_CMDS.flatMap((c) => ['-ex', c]), '--args', process.execPath, ...nodeArgs, ENTRY, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: timeoutMs, killSignal: 'SIGKILL' });
  }
  return spawnSync('sh', ['-c', 'ulimit -c unlimited && exec "$0" "$@"', process.execPath, ...nodeArgs, ENTRY, ...args], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: timeoutMs, killSignal: 'SIGKILL' });
}

// A crash leaves a core in the guest's tmpfs, and gdb (a provisioned package)
// prints where each thread was: the crash of issue 16 G was never seen again,
// so if it comes back it must come back with its backtrace.
const CORES = '/tmp/nvme-wasm-cores';
function enableCores(): void {
  fs.mkdirSync(CORES, { recursive: true, mode: 0o700 });
  fs.writeFileSync('/proc/sys/kernel/core_pattern', `${CORES}/core.%p`);
  fs.writeFileSync('/proc/self/coredump_filter', '0x13'); // inherited; no hugetlb pages (the DMA region) in the core
}
/** gdb's backtraces of every core left since the last call, then the cores removed (`keep`: brought back first if asked). */
function backtraces(keep = true): string {
  const out: string[] = [];
  for (const f of fs.readdirSync(CORES)) {
    const core = `${CORES}/${f}`;
    // The faulting thread's registers and code, the mappings (which one the address falls in), then every thread.
    const cmds = ['info registers', 'x/24i $pc-64', 'x/8i $pc', 'info proc mappings', 'thread apply all bt 24'];
    const g = spawnSync('gdb', ['-q', '-batch', ...cmds.flatMap((c) => ['-ex', c]), process.execPath, core], { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 });
    out.push(`${f}: ${g.error ? `gdb: ${g.error.message}` : `${g.stdout}\n${g.stderr}`}`);
    // NVME_WASM_VM_KEEP_CORES=1: the core comes back to the host (test/vm: the shared folder) for a closer look.
    const shared = process.env.NVME_WASM_VM_SHARED;
    if (keep && process.env.NVME_WASM_VM_KEEP_CORES === '1' && shared) spawnSync('cp', ['--sparse=always', core, `${shared}/${f}`]);
    fs.rmSync(core, { force: true });
  }
  return out.join('\n');
}

t('a crashed node leaves a core that gdb reads (the capture the loop relies on)', () => {
  enableCores();
  const r = spawnSync('sh', ['-c', 'ulimit -c unlimited && exec "$0" "$@"', process.execPath, '-e', "process.kill(process.pid, 'SIGSEGV')"], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.signal, 'SIGSEGV');
  const bt = backtraces(false);
  assert.match(bt, /#0 /, bt);
  progress(`core capture works: ${bt.split('\n').find((l) => l.startsWith('#0 ')) ?? ''}`);
});

t('the C baseline driver builds and runs on the controller through VFIO', () => {
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', C_BIN, C_SOURCE], { encoding: 'utf8' });
  assert.is(cc.status, 0, `cc: ${cc.stderr}`);
  const setup = cliSync('setup', '--driver', 'vfio-pci', '--allow', dev!.bdf);
  assert.is(setup.code, 0, setup.err);
  progress('setup done, the C driver runs');
  const r = spawnSync(C_BIN, [dev!.bdf, '8', '1'], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  progress(`the C driver: ${r.status ?? r.signal} ${r.stdout.trim()}`);
  assert.is(r.status, 0, `nvme-vfio: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { ios: number; errors: number; iops: number };
  assert.ok(j.ios > 0 && j.errors === 0, r.stdout);
});

t(`bind, another VFIO driver (${OTHER_EVERY_ROUND ? 'every round' : 'every other round'}), then perf: ${ROUNDS} rounds, every perf exits 0 with its JSON`, () => {
  const problems: string[] = [];
  let ios = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const s0 = Date.now();
    const setup = cliBounded(['setup', '--driver', 'vfio-pci', '--allow', dev!.bdf], 300_000);
    progress(`round ${round}: setup ${setup.status === 0 ? 'ok' : `ended by ${setup.signal ?? setup.status}`} in ${((Date.now() - s0) / 1000).toFixed(1)} s`);
    if (setup.status !== 0) {
      problems.push(`round ${round}: setup ended by ${setup.signal ?? `exit ${setup.status}`}: ${tail(setup.stderr)}`);
      continue;
    }
    if (round % 2 === 0 || OTHER_EVERY_ROUND) {
      const other = spawnSync(C_BIN, [dev!.bdf, '4', '0.5'], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
      if (other.status !== 0) problems.push(`round ${round}: the other driver ended by ${other.signal ?? `exit ${other.status}`}: ${tail(other.stderr)}`);
      progress(`round ${round}: other driver ${other.status === 0 ? 'ok' : `failed (${other.signal ?? other.status})`}`);
    }
    const p = cliBounded(['perf', '-r', tridOf(dev!), '-q', '1', '-o', '4096', '-w', 'randread', '-t', String(SECONDS), '--json'], 300_000, GDB, NODE_ARGS_B && round % 2 === 0 ? NODE_ARGS_B : NODE_ARGS);
    const variant = NODE_ARGS_B ? (round % 2 === 0 ? ' [B]' : ' [A]') : '';
    if (GDB) {
      // Under gdb: a signal is told by gdb's own lines; the JSON is somewhere in its output.
      const out = `${p.stdout}\n${p.stderr}`;
      const sig = /Program received signal (SIG[A-Z]+)/.exec(out);
      if (sig) {
        problems.push(`round ${round}${variant}: perf under gdb got ${sig[1]}:\n${out.slice(out.indexOf('Program received signal') - 2000)}`);
        progress(`round ${round}: perf got ${sig[1]} under gdb:\n${out.slice(out.indexOf('Program received signal'), out.indexOf('Program received signal') + 6000)}`);
      } else {
        const m = /"iops":\s*([0-9.]+)/.exec(out);
        if (!m) problems.push(`round ${round}${variant}: perf under gdb printed no IOPS: ${tail(out, 6)}`);
        ios += m ? Number(m[1]) : 0;
        progress(`round ${round}: perf under gdb ok, ${m ? m[1] : '?'} IOPS`);
      }
      continue;
    }
    if (p.signal !== null || p.status !== 0) {
      const bt = backtraces();
      problems.push(`round ${round}${variant}${round % 2 === 0 || OTHER_EVERY_ROUND ? ' (after the other driver)' : ''}: perf ended by ${p.signal ?? `exit ${p.status}`}: ${tail(p.stderr, 24)} ${tail(p.stdout, 2)}${bt ? `\n${bt}` : ''}`);
      progress(`round ${round}${variant}: perf ended by ${p.signal ?? `exit ${p.status}`}${bt ? `\n${bt}` : ''}`);
      continue;
    }
    try {
      const doc = JSON.parse(p.stdout) as { total: { iops: number } };
      ios += doc.total.iops;
      progress(`round ${round}${variant}: perf ok, ${doc.total.iops.toFixed(0)} IOPS`);
    } catch (e) {
      problems.push(`round ${round}${variant}: perf exited 0 without JSON (${(e as Error).message}): ${tail(p.stdout, 3)}`);
    }
  }
  if (NODE_ARGS_B) console.log(`  A/B: [A] ${problems.filter((x) => x.includes(' [A]')).length} problems in ${Math.ceil(ROUNDS / 2)} rounds (${NODE_ARGS.join(' ') || 'no flags'}), [B] ${problems.filter((x) => x.includes(' [B]')).length} in ${Math.floor(ROUNDS / 2)} (${NODE_ARGS_B.join(' ') || 'no flags'})`);
  console.log(`  ${ROUNDS} rounds, ${problems.length} problems, mean ${(ios / ROUNDS).toFixed(0)} IOPS`);
  assert.equal(problems, []);
});

test.run();
