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
import net from 'node:net';
import { member, startSim, stop, type Proc } from './helpers/procs.js';

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
    const script = `const net = require('node:net'); const b = Buffer.alloc(4); b.writeUInt32BE(${body.length}); const s = net.createConnection(${JSON.stringify(sock)}, () => { s.write(Buffer.concat([b, Buffer.from(${JSON.stringify(body.toString())})]), () => setTimeout(() => s.end(), 100)); }); s.on('error', () => {}); s.on('close', () => process.exit(0));`;
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

test('connections are bounded: a non-member\'s are dropped at once, whatever they hold; memory stays flat', async () => {
  const ctrl = await open(5);
  try {
    const sock = path.join(groupSocketDir(`${tag}_5`), socketName(ctrl.group.self, process.pid));
    await new Promise((r) => setTimeout(r, 50));
    const rss0 = process.memoryUsage().rss;
    // 500 connections, each sending a 64 KiB partial frame (a length that announces more).
    const script = `const net = require('node:net'); let open = 0, closed = 0; const N = 500;
      const part = Buffer.alloc(65536, 0x20); part.writeUInt32BE(65000, 0);
      for (let i = 0; i < N; i++) { const s = net.createConnection(${JSON.stringify(sock)}, () => { open++; s.write(part); });
        s.on('error', () => {}); s.on('close', () => { if (++closed === N) { console.log(JSON.stringify({ open, closed })); process.exit(0); } }); }
      setTimeout(() => { console.log(JSON.stringify({ open, closed })); process.exit(0); }, 15000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let peak = 0;
    const t = setInterval(() => (peak = Math.max(peak, ctrl.mp.incomingConnections)), 5);
    await new Promise((res) => child.once('exit', res));
    clearInterval(t);
    const r = JSON.parse(out) as { open: number; closed: number };
    assert.is(r.closed, 500, 'every connection was closed by the member');
    assert.ok(peak <= 2, `connections held at once: ${peak}`);
    assert.is(ctrl.mp.incomingConnections, 0);
    const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
    console.log(`  500 hostile connections with 64 KiB partial frames: member RSS grew ${grew.toFixed(1)} MiB, at most ${peak} held at once`);
    assert.ok(grew < 32, `RSS grew ${grew.toFixed(1)} MiB`);
  } finally {
    await ctrl.close();
  }
});

test('a member that stalls mid-frame loses its connection within the partial-frame limit (5 s)', async () => {
  const simTag = `${tag}s`;
  const sim: Proc = await startSim({ name: simTag, maxIoQueuePairs: 4, namespaces: [{ lbaSize: 512, blocks: 4096 }] });
  const g = 6;
  const ctrl = await Controller.open({ shmId: g, filePrefix: tag, transport: `trtype:sim name:${simTag}`, regionSize: 32 << 20 });
  const peer = member({ shmId: g, prefix: tag, trid: `trtype:sim name:${simTag}`, role: 'mp-peer' });
  try {
    const slot = Number((await peer.waitLine('ready ')).split(' ')[1]);
    await peer.waitLine('listening');
    const sock = path.join(groupSocketDir(`${tag}_${g}`), socketName(slot, peer.child.pid!));
    // This process is a member: its connection is accepted. It announces a 1000-byte frame and sends 10.
    const s = net.createConnection(sock);
    await new Promise((r) => s.once('connect', r));
    const head = Buffer.alloc(14);
    head.writeUInt32BE(1000, 0);
    s.write(head);
    const t0 = performance.now();
    const closed = await new Promise<boolean>((r) => {
      s.once('close', () => r(true));
      s.on('error', () => {});
      setTimeout(() => r(false), 9000);
    });
    const ms = performance.now() - t0;
    assert.ok(closed, 'the member dropped the stalled connection');
    assert.ok(ms >= 4000, `not before the limit (${ms.toFixed(0)} ms)`);
  } finally {
    await stop(peer);
    await ctrl.close();
    await stop(sim);
  }
});

test.run();
