// A local user is an attacker (issue 16 C), against the messaging layer:
// run directories that are links, another user's or writable by others are
// refused (UnsafePathError, nothing created in them); sockets are 0600; the
// sender of a frame is who the kernel says (SO_PEERCRED), not what the frame
// claims, so a process that is not a member cannot forge a member's (or
// the primary's) notification.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Controller, UnsafePathError, type GroupNotification } from '../host/index.js';
import { groupSocketDir, socketName } from '../host/mp/socket-dir.js';

const tag = `mpsec${process.pid}`;
const isRoot = process.getuid?.() === 0;
const open = (g: number) => Controller.open({ shmId: g, filePrefix: tag, regionSize: 32 << 20 });

/** Run `fn` with NVME_WASM_RUN_DIR set to `dir`. */
async function withRunDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const was = process.env.NVME_WASM_RUN_DIR;
  process.env.NVME_WASM_RUN_DIR = dir;
  try {
    return await fn();
  } finally {
    if (was === undefined) delete process.env.NVME_WASM_RUN_DIR;
    else process.env.NVME_WASM_RUN_DIR = was;
  }
}

test('a run directory others may write is refused, and nothing is created in it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-open-'));
  fs.chmodSync(dir, 0o777);
  try {
    const e = await withRunDir(dir, () => open(1).then(() => undefined, (x: unknown) => x));
    assert.instance(e, UnsafePathError);
    assert.is((e as UnsafePathError).path, dir);
    assert.match((e as Error).message, /group or others may write it \(mode 777\)/);
    assert.equal(fs.readdirSync(dir), [], 'nothing created inside');
    assert.not.ok(fs.existsSync(`/dev/shm/${tag}_1.region`), 'the group was not left behind');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a run directory that is a symbolic link is refused', async () => {
  const real = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-real-'));
  const link = `${real}-link`;
  fs.symlinkSync(real, link);
  try {
    const e = await withRunDir(link, () => open(2).then(() => undefined, (x: unknown) => x));
    assert.instance(e, UnsafePathError);
    assert.match((e as Error).message, /symbolic link/);
  } finally {
    fs.rmSync(link, { force: true });
    fs.rmSync(real, { recursive: true, force: true });
  }
});

test('a run directory of another user is refused (root: chowned to nobody)', async () => {
  if (!isRoot) {
    console.log('  (skipped: needs root to give a directory to another user)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-other-'));
  fs.chownSync(dir, 65534, 65534);
  try {
    const e = await withRunDir(dir, () => open(3).then(() => undefined, (x: unknown) => x));
    assert.instance(e, UnsafePathError);
    assert.is((e as UnsafePathError).owner, 65534);
    assert.match((e as Error).message, /belongs to another user/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sockets are 0600; a non-member cannot forge a notification, whatever the frame says', async () => {
  const ctrl = await open(4);
  try {
    const sock = path.join(groupSocketDir(`${tag}_4`), socketName(ctrl.group.self, process.pid));
    await new Promise((r) => setTimeout(r, 50)); // listening
    assert.is(fs.statSync(sock).mode & 0o777, 0o600);
    const got: GroupNotification[] = [];
    ctrl.on('notification', (n) => got.push(n));
    // A process of this user that is no member of the group writes a frame
    // claiming to be the primary (slot, pid, pri) with a deviceRemoved notification.
    const frame = { t: 'm', n: 'nvme-wasm:notify', s: ctrl.group.self, pid: process.pid, pri: true, p: JSON.stringify({ kind: 'deviceRemoved', detail: { reason: 'removed' } }) };
    const body = Buffer.from(JSON.stringify(frame));
    const script = `const net = require('node:net'); const b = Buffer.alloc(4); b.writeUInt32BE(${body.length}); const s = net.createConnection(${JSON.stringify(sock)}, () => { s.write(Buffer.concat([b, Buffer.from(${JSON.stringify(body.toString())})]), () => setTimeout(() => s.end(), 100)); });`;
    // Not spawnSync: this process must keep serving its socket meanwhile.
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    assert.is(await new Promise((res) => child.once('exit', res)), 0, err);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(got, [], 'the forged notification was dropped');
  } finally {
    await ctrl.close();
  }
});

test.run();
