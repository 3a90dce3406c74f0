// Errors that are true and say what to do (issue 15.5), as the command line
// prints them: a new group is announced, never started silently; a
// secondary never starts one; another user's group is a permission error
// naming its owner, never "no such group"; a PCI address out of range names
// the part; a device that is not NVMe gets no setup advice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Controller, GroupAccessError } from '../host/index.js';
import { cli, CLI_MAIN, type CliResult } from './helpers/cli.js';

const tag = `ce${process.pid}`;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const regionOf = (g: number) => `/dev/shm/${tag}_${g}.region`;

test.after(() => {
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

/** The CLI run as uid/gid `uid`. */
function cliAs(uid: number, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], uid, gid: uid, env: { PATH: process.env.PATH ?? '', TMPDIR: '/tmp' } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test('-i N with no group running says it starts one, as its primary, on an embedded simulated controller', async () => {
  const r = await cli('identify', '-i', '1', '--file-prefix', tag);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, `nvme-wasm: no group 1 (file prefix ${tag}) is running: starting it, this process its primary, on an embedded simulated controller`);
  assert.match(r.out, 'NVMe Controller');
  assert.not.ok(fs.existsSync(regionOf(1)), 'the group ended with the command');
});

test('--proc-type secondary never starts a group: a clear error, nothing created', async () => {
  const r = await cli('identify', '-i', '2', '--file-prefix', tag, '--proc-type', 'secondary');
  assert.is(r.code, 1);
  assert.match(r.err, `nvme-wasm: error: no group 2 (file prefix ${tag}) is running, and --proc-type secondary joins one, never starts it`);
  assert.not.ok(fs.existsSync(regionOf(2)));
  const bad = await cli('identify', '-i', '2', '--proc-type', 'tertiary');
  assert.is(bad.code, 1);
  assert.match(bad.err, 'Allowed choices are primary, secondary, auto');
});

test("another user's group: a permission error naming the file and its owner, for members and monitors alike", async () => {
  if (!isRoot) {
    console.log('  (skipped: needs root to run as another user)');
    return;
  }
  const ctrl = await Controller.open({ shmId: 3, filePrefix: tag, regionSize: 32 << 20 });
  try {
    assert.is(fs.statSync(regionOf(3)).mode & 0o777, 0o600);
    for (const cmd of [['identify'], ['stats'], ['top', '--iterations', '1']]) {
      const r = await cliAs(NOBODY, ...cmd, '-i', '3', '--file-prefix', tag);
      assert.is(r.code, 1, `${cmd[0]}: ${r.err}`);
      assert.match(r.err, `nvme-wasm: error: permission denied opening ${regionOf(3)} (EACCES; owner uid 0, mode 0600, this user uid ${NOBODY}): run as uid 0`);
      assert.not.match(r.err, /no group|no primary|start one|starting it|Error:/);
    }
    assert.ok(ctrl.group.liveSlots().length === 1, 'the group is untouched');
    await ctrl.namespace(1).write(0, Buffer.alloc(512, 7));
  } finally {
    await ctrl.close();
  }
  const e = GroupAccessError.of('/etc/shadow', 'EACCES');
  assert.is(e.owner, 0);
  assert.is(e.name, 'GroupAccessError');
});

test('-r naming another device than the running group\'s: refused, never joined silently', async () => {
  const ctrl = await Controller.open({ shmId: 4, filePrefix: tag, regionSize: 32 << 20 });
  try {
    const r = await cli('identify', '-i', '4', '--file-prefix', tag, '-r', 'trtype:sim name:other');
    assert.is(r.code, 1);
    assert.match(r.err, /^nvme-wasm: error: group 4 \(file prefix [^)]+\) runs on trtype:sim name:emb-\d+-\d+, not on the device asked for: give -r trtype:sim name:emb-/);
    // Without -r it joins whatever the group runs on, as before.
    const ok = await cli('identify', '-i', '4', '--file-prefix', tag);
    assert.is(ok.code, 0, ok.err);
    assert.not.match(ok.err, 'starting it');
    assert.is(ctrl.group.liveSlots().length, 1, 'the group is untouched');
  } finally {
    await ctrl.close();
  }
});

test('-r given twice to a one-controller command is refused, never the last one silently', async () => {
  for (const cmd of ['identify', 'smart-log', 'demo', 'nvmf-tgt']) {
    const r = await cli(cmd, '-r', 'trtype:sim name:a', '-r', 'trtype:sim name:b');
    assert.is(r.code, 1, cmd);
    assert.match(r.err, 'Given twice ("trtype:sim name:a" and "trtype:sim name:b"): this command opens one controller', cmd);
  }
});

test('a reader that stops early (| head -1) ends the command quietly, exit 0, no stack trace', async () => {
  const r = await new Promise<{ code: number; err: string }>((resolve) => {
    const c = spawn(process.execPath, [CLI_MAIN, 'demo', '-n', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.stdout.once('data', () => c.stdout.destroy()); // the first line read, then the pipe closed
    c.on('close', (code) => resolve({ code: code ?? -1, err }));
  });
  assert.is(r.code, 0, r.err);
  assert.not.match(r.err, /EPIPE|Error|at /);
});

test('a PCI address that is well formed but out of range says which part is wrong', async () => {
  const dev = await cli('identify', '-r', 'trtype:PCIe traddr:0000:00:20.0');
  assert.is(dev.code, 1);
  assert.match(dev.err, 'nvme-wasm: error: invalid transport id traddr: expected a PCI address DDDD:BB:DD.F (device 20 is out of range, 00 to 1f), got "0000:00:20.0"');
  const fn = await cli('identify', '-r', 'trtype:PCIe traddr:0000:00:05.9');
  assert.is(fn.code, 1);
  assert.match(fn.err, '(function 9 is out of range, 0 to 7)');
  const junk = await cli('identify', '-r', 'trtype:PCIe traddr:0000:00:zz.0');
  assert.match(junk.err, 'expected a PCI address DDDD:BB:DD.F, got "0000:00:zz.0"');
  assert.not.match(junk.err, 'out of range');
});

test('a PCI device that is not an NVMe controller is named so, with no setup advice', async () => {
  const devs = fs.existsSync('/sys/bus/pci/devices') ? fs.readdirSync('/sys/bus/pci/devices') : [];
  const other = devs.find((d) => fs.readFileSync(`/sys/bus/pci/devices/${d}/class`, 'latin1').trim() !== '0x010802');
  if (!other) {
    console.log('  (skipped: no non-NVMe PCI device on this machine)');
    return;
  }
  const r = await cli('identify', '-r', `trtype:PCIe traddr:${other}`);
  assert.is(r.code, 1);
  assert.match(r.err, `nvme-wasm: error: ${other} is not an NVMe controller (class `);
  assert.not.match(r.err, /setup|PcieError/);
});

test.run();
