// A damaged region is never taken for a stale one (issue 16 B): every
// member holds a shared flock on its region file (the kernel drops it when
// the member dies), and a joiner removes a file only when an exclusive one
// succeeds. A live group whose header magic, state word or process table
// is overwritten gets a typed error in the joiner, naming the file; nothing
// is removed or re-initialised, and the live member's I/O goes on. A file
// nobody holds is still cleaned up as before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Controller } from '../host/index.js';
import { HDR_MAGIC, HDR_STATE, PROC_TABLE_OFF, PROC_ENTRY_SIZE, PROC_STATE, PROC_SLOTS } from '../assembly/abi/region.js';
import { startSim, stop, member, type Proc } from './helpers/procs.js';

const tag = `dmg${process.pid}`;
const trid = `trtype:sim name:${tag}`;
const region = (g: number) => `/dev/shm/${tag}_${g}.region`;
let sim: Proc;

test.before(async () => {
  sim = await startSim({ name: tag, maxIoQueuePairs: 8, namespaces: [{ lbaSize: 512, blocks: 8192 }] });
});
test.after(async () => {
  await stop(sim);
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

/** A joiner in its own process: resolves with its exit code and output. */
function join(g: number): Promise<{ code: number | null; out: string; ms: number }> {
  const script = `import { Controller } from ${JSON.stringify(new URL('../host/index.js', import.meta.url).href)};
    try { const c = await Controller.open({ shmId: ${g}, filePrefix: ${JSON.stringify(tag)}, transport: ${JSON.stringify(trid)}, regionSize: 32 << 20 });
      console.log('joined', c.isPrimary ? 'primary' : 'secondary'); await c.close(); }
    catch (e) { console.log(e.name + ': ' + e.message); process.exitCode = 3; }`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((r) => child.once('exit', (code) => r({ code, out, ms: performance.now() - t0 })));
}

/** Overwrite 4 bytes of the live group's region file, and make it look old (as a stale group would). */
function damage(g: number, off: number, value: number): Buffer {
  const fd = fs.openSync(region(g), 'r+');
  const was = Buffer.alloc(4);
  fs.readSync(fd, was, 0, 4, off);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  fs.writeSync(fd, b, 0, 4, off);
  fs.closeSync(fd);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(region(g), old, old);
  return was;
}

async function liveGroupDamaged(g: number, what: string, breakIt: () => () => void): Promise<void> {
  const live = await Controller.open({ shmId: g, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  const qp = await live.createQueuePair({ depth: 8 });
  const ino = fs.statSync(region(g)).ino;
  const restore = breakIt();
  try {
    const r = await join(g);
    assert.is(r.code, 3, r.out);
    assert.match(r.out, /^ControllerError: group \d+ .*region file \/dev\/shm\/.*\.region .*live processes use it: left alone/m);
    assert.match(r.out, new RegExp(what));
    assert.ok(r.ms < 20_000, `answered in ${r.ms.toFixed(0)} ms`);
    assert.is(fs.statSync(region(g)).ino, ino, 'the file was neither removed nor replaced');
    const ns = live.namespace(1);
    const data = Buffer.alloc(512, g);
    await ns.write(7, data, { qpair: qp });
    assert.equal(await ns.readBlocks(7, 1, { qpair: qp }), data, 'the live member is undisturbed');
  } finally {
    restore();
    await qp.delete();
    await live.close();
  }
}

test('header magic overwritten in a live group: the joiner gets a typed error, nothing is removed', async () => {
  await liveGroupDamaged(1, 'has no nvme-wasm header', () => {
    const was = damage(1, HDR_MAGIC, 0xdeadbeef);
    return () => damage(1, HDR_MAGIC, was.readUInt32LE(0));
  });
});

test('state word overwritten in a live group: a typed error, nothing removed', async () => {
  await liveGroupDamaged(2, 'unknown state word', () => {
    const was = damage(2, HDR_STATE, 77);
    return () => damage(2, HDR_STATE, was.readUInt32LE(0));
  });
});

test('process table overwritten in a live group (every slot Free): a typed error, nothing removed', async () => {
  await liveGroupDamaged(3, 'process table is damaged', () => {
    const saved: Buffer[] = [];
    for (let s = 0; s < PROC_SLOTS; s++) saved.push(damage(3, PROC_TABLE_OFF + s * PROC_ENTRY_SIZE + PROC_STATE, 0));
    return () => saved.forEach((b, s) => damage(3, PROC_TABLE_OFF + s * PROC_ENTRY_SIZE + PROC_STATE, b.readUInt32LE(0)));
  });
});

test('a damaged file nobody holds is stale: removed, and the joiner starts the group afresh', async () => {
  fs.writeFileSync(region(4), Buffer.alloc(0x4000, 0x55), { mode: 0o600 });
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(region(4), old, old);
  const r = await join(4);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /joined primary/);
});

test('a region truncated below its size: damaged while held, stale (started afresh) once nobody holds it', async () => {
  const live = await Controller.open({ shmId: 5, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  try {
    fs.truncateSync(region(5), 8 << 20); // the mapping's pages past 8 MiB are gone: the live member does not touch them here
    const r = await join(5);
    assert.is(r.code, 3, r.out);
    assert.match(r.out, /does not match its header .*left alone/);
    assert.ok(fs.existsSync(region(5)));
  } finally {
    await live.close().catch(() => {});
  }
});

test('a truncated region nobody holds (its member was killed) is stale: the joiner starts the group afresh', async () => {
  const m = member({ shmId: 6, prefix: tag, trid, role: 'hold' });
  await m.waitLine('ready ');
  m.child.kill('SIGKILL');
  await new Promise((r) => m.child.once('exit', r));
  assert.ok(fs.existsSync(region(6)), 'a killed member leaves its file');
  fs.truncateSync(region(6), 8 << 20);
  const r = await join(6);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /joined primary/);
});

test.run();
