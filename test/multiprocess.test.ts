// Groups with real OS processes on a simulated controller that runs as its
// own process (as hardware outlives its drivers): verified I/O from several
// processes, concurrent admin commands with per-process completions, kill -9
// at random points with the survivors checking nothing leaked, primary
// takeover, QID exhaustion, version mismatch, no primary, two groups.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller, ControllerError, ResourceError } from '../host/index.js';
import { GROUP_OWNER, ProcState, REGION_MAGIC, REGION_LAYOUT_VERSION, HDR_CORE_HASH, HDR_STATE, RegionState } from '../assembly/abi/region.js';
import { AdminOpc } from '../assembly/nvme/cmd.js';
import { member, startSim, stop, summary, type Proc } from './helpers/procs.js';
import { xorshift, pattern } from './helpers/rand.js';
import { until } from './helpers/wait.js';

const tag = `mp${process.pid}`;
let sim: Proc;
let sim2: Proc;
const trid = `trtype:sim name:${tag}`;
let gid = 100;

test.before(async () => {
  sim = await startSim({ name: tag, mdts: 5, maxIoQueuePairs: 16, namespaces: [{ lbaSize: 512, blocks: 65536 }, { lbaSize: 512, blocks: 4000 }, { lbaSize: 4096, blocks: 3000 }] });
});
test.after(async () => {
  await stop(sim);
  if (sim2) await stop(sim2);
  // Groups whose last member was killed leave their file for the next joiner; no one will join these.
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

const base = (shmId: number) => ({ shmId, prefix: tag, trid });

test('four processes: verified I/O at once on their own queue pairs over disjoint LBA ranges', async () => {
  const g = gid++;
  // Each waits for all four before its I/O: on a loaded machine a late starter
  // could otherwise find the group already over and start a new one.
  const procs = [0, 1, 2, 3].map((i) => member({ ...base(g), role: 'io', lba: i * 8192, blocks: 8192, rounds: 300, members: 4 }));
  const ready = await Promise.all(procs.map((p) => p.waitLine('ready ')));
  assert.is(ready.filter((l) => l.endsWith('primary')).length, 1, 'exactly one primary');
  assert.is(new Set(ready.map((l) => l.split(' ')[1])).size, 4, 'four distinct slots');
  for (const p of procs) {
    const s = await summary(p);
    assert.is(s.rounds, 300);
    assert.is(s.mismatches, 0);
    assert.is(await p.exited, 0);
  }
});

test('four processes send admin commands at once: each gets exactly its own completions', async () => {
  const g = gid++;
  const procs = [0, 1, 2, 3].map(() => member({ ...base(g), role: 'admin', rounds: 2000, depth: 16, nsCount: 3 }));
  for (const p of procs) {
    const s = await summary(p);
    assert.equal(s, { sent: 2000, ok: 2000, wrong: 0, foreign: 0 });
    assert.is(await p.exited, 0);
  }
});

/** Join as an observer (a member too) to look at the group's tables. */
async function observe(g: number): Promise<Controller> {
  return Controller.open({ shmId: g, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
}

const ROUNDS = Number(process.env.NVME_WASM_KILL_ROUNDS ?? 50);

test(`kill -9 of a secondary at random points, ${ROUNDS} rounds: no leaked QID, lock or buffer; survivors' I/O intact`, async () => {
  const g = gid++;
  const survivor = member({ ...base(g), role: 'io', lba: 0, blocks: 16384, rounds: 0 });
  await survivor.waitLine('ready 0 primary');
  const obs = await observe(g);
  try {
    await until(() => obs.group.liveSlots().length === 2, 5000, 'two members');
    await until(() => obs.group.qidsInUse() === 1, 5000, 'the survivor\'s queue pair');
    const rand = xorshift(4242);
    for (let round = 0; round < ROUNDS; round++) {
      const role = ['io', 'admin', 'hold'][round % 3]!;
      const victim = member({ ...base(g), role, lba: 20000, blocks: 4096, rounds: 0, nsCount: 3 });
      // Kill at a random point: sometimes before it finished joining, sometimes mid-work.
      const delay = rand(250);
      if (rand(2) === 0) await victim.waitLine('ready ').catch(() => {});
      await new Promise((r) => setTimeout(r, delay));
      victim.child.kill('SIGKILL');
      await victim.exited;
      await obs.reapDead();
      await until(() => {
        void obs.reapDead();
        return obs.group.liveSlots().length === 2 && [...Array(63).keys()].every((s) => s === obs.group.self || s === 0 || obs.group.procState(s) === ProcState.Free);
      }, 5000, `round ${round}: the dead member's slot recycled`);
      assert.is(obs.group.qidsInUse(), 1, `round ${round}: only the survivor's QID in use`);
      const lock = obs.region.hdr.adminLockWord;
      assert.ok(lock === 0 || obs.group.slotAlive(lock - 1), `round ${round}: admin lock free or held by a live member (${lock})`);
      const alock = obs.region.hdr.allocLockWord;
      assert.ok(alock === 0 || obs.group.slotAlive(alock - 1), `round ${round}: allocator lock free or held by a live member`);
      // Every page belongs to the group or to a live member: none to the dead one.
      for (const [owner, pages] of obs.region.pagesByOwner()) {
        assert.ok(owner === GROUP_OWNER || obs.group.slotAlive(owner), `round ${round}: ${pages} pages still owned by slot ${owner}, which is not alive`);
      }
      assert.ok(obs.region.allocatorOp(() => obs.core.dmaCheck(obs.group.self)) >= 0, `round ${round}: page map consistent`);
    }
    // The observer's own admin commands still work after all that.
    await obs.identifyController();
  } finally {
    await obs.close();
  }
  survivor.child.kill('SIGTERM');
  const s = await summary(survivor);
  assert.ok(s.rounds! > 0);
  assert.is(s.mismatches, 0, 'the survivor verified every round');
  assert.is(await survivor.exited, 0);
});

test('kill -9 of the primary: a survivor takes the role (and re-arms the event request); a newcomer joins and works', async () => {
  const g = gid++;
  const primary = member({ ...base(g), role: 'hold' });
  await primary.waitLine('holding');
  const obs = await observe(g);
  try {
    assert.not.ok(obs.isPrimary);
    const took = new Promise<number>((r) => obs.on('primary', r));
    primary.child.kill('SIGKILL');
    await primary.exited;
    await took;
    assert.ok(obs.isPrimary, 'the surviving member is primary');
    await until(() => obs.group.qidsInUse() === 0, 5000, 'the dead primary\'s queue reclaimed');
    await until(() => obs.group.withLock(() => obs.core.qpCountOpcode(obs.admin.desc, AdminOpc.AsyncEventRequest)) >= 1, 3000, 'an armed AER');
    const newcomer = member({ ...base(g), role: 'io', lba: 0, blocks: 2048, rounds: 100 });
    assert.match(await newcomer.waitLine('ready '), /secondary$/);
    assert.is((await summary(newcomer)).mismatches, 0);
  } finally {
    await obs.close();
  }
});

test('the primary exits cleanly: secondaries keep running, one becomes primary', async () => {
  const g = gid++;
  const first = member({ ...base(g), role: 'hold' });
  await first.waitLine('holding');
  const second = member({ ...base(g), role: 'io', lba: 0, blocks: 4096, rounds: 0 });
  await second.waitLine('progress');
  await stop(first);
  const obs = await observe(g);
  try {
    await until(() => { const p = obs.group.primarySlot(); return p >= 0 && obs.group.slotAlive(p); }, 3000, 'a new primary');
    await second.waitLine('progress 200', 30000);
  } finally {
    second.child.kill('SIGTERM');
    assert.is((await summary(second)).mismatches, 0);
    await obs.close();
  }
});

test('a member dies holding the group lock: the next one recovers it and the admin queue works', async () => {
  const g = gid++;
  const obs = await observe(g);
  try {
    const victim = member({ ...base(g), role: 'die-in-lock' });
    await victim.waitLine('locked');
    const t0 = performance.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await obs.identifyController();
    assert.ok(performance.now() - t0 < 3000, 'recovered promptly');
    await until(() => obs.group.liveSlots().length === 1, 3000, 'the dead member reclaimed');
  } finally {
    await obs.close();
  }
});

test('a member dies between posting an admin command and ringing: the command still runs, its completion is discarded, the slot comes back', async () => {
  const g = gid++;
  const obs = await observe(g);
  try {
    const armed = () => obs.group.withLock(() => obs.core.qpCountOpcode(obs.admin.desc, AdminOpc.AsyncEventRequest));
    await until(() => armed() >= 1, 3000, 'the primary armed its AER');
    const victim = member({ ...base(g), role: 'die-mid-post' });
    await victim.waitLine('posted');
    victim.child.kill('SIGKILL');
    await victim.exited;
    for (let i = 0; i < 5; i++) await obs.identifyController();
    await until(() => obs.core.qpOutstanding(obs.admin.desc) === armed(), 3000, 'only the AER outstanding');
    assert.is(obs.admin.foreignCompletions, 0, 'the dead member\'s completion went nowhere');
  } finally {
    await obs.close();
  }
});

test('asynchronous events reach every attached process', async () => {
  const g = gid++;
  const obs = await observe(g);
  try {
    const others = [member({ ...base(g), role: 'hold' }), member({ ...base(g), role: 'hold' })];
    await Promise.all(others.map((p) => p.waitLine('holding')));
    const mine = new Promise<number>((r) => obs.on('asyncEvent', r));
    const { SimClient } = await import('../host/sim/index.js');
    const client = SimClient.open(tag);
    const dw0 = 0x00020102; // notice, info 01h, log page 02h
    await client.postAsyncEvent(dw0);
    client.close();
    assert.is(await mine, dw0);
    for (const p of others) assert.is(await p.waitLine('event '), `event ${dw0}`);
    for (const p of others) await stop(p);
  } finally {
    await obs.close();
  }
});

test('management tools attach during perf, do their work, and leave no trace; perf sees no errors', async () => {
  const g = gid++;
  const cli = fileURLToPath(new URL('../host/cli/nvme-wasm.cjs', import.meta.url));
  const perf = spawn(process.execPath, [cli, 'perf', '-i', String(g), '--file-prefix', tag, '-r', trid, '-q', '16', '-o', '4096', '-w', 'randread', '-t', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // perf runs until the tools are done (SIGINT: it stops and prints its summary), however slow the machine.
  let perfOut = '';
  perf.stdout!.on('data', (d: Buffer) => (perfOut += d.toString()));
  perf.stderr!.on('data', (d: Buffer) => (perfOut += d.toString()));
  const perfExit = new Promise<number | null>((r) => perf.once('exit', r));
  await until(() => perfOut.includes('IOPS'), 10000, 'perf running');
  const obs = await observe(g);
  try {
    const baseline = obs.group.liveSlots().length;
    const perfQids = obs.group.qidsInUse(); // perf: one queue pair per namespace
    for (const args of [['identify'], ['list'], ['smart-log'], ['error-log'], ['get-feature', '-f', '7'], ['identify', '--json']]) {
      const r = spawnSync(process.execPath, [cli, ...args, '-i', String(g), '--file-prefix', tag], { encoding: 'utf8', timeout: 20000 });
      assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0);
      // No trace: no slot, no queue, no buffer.
      assert.is(obs.group.liveSlots().length, baseline, `${args[0]}: no slot left`);
      assert.is(obs.group.qidsInUse(), perfQids, `${args[0]}: only perf's queue pairs`);
      for (const [owner] of obs.region.pagesByOwner()) assert.ok(owner === GROUP_OWNER || obs.group.slotAlive(owner), `${args[0]}: no pages of a departed process (owner ${owner})`);
    }
  } finally {
    await obs.close();
    perf.kill('SIGINT');
  }
  // Stopped by SIGINT: the summary of the time run, marked interrupted, exit 130 (128 + SIGINT).
  assert.is(await perfExit, 130, perfOut);
  assert.not.match(perfOut, /error|mismatch/i);
  assert.match(perfOut, /Total\s+:/);
  assert.match(perfOut, /perf interrupted/);
});

test('QID exhaustion: asking for more queue pairs than the group has left is a clear error', async () => {
  const g = gid++;
  const a = await observe(g);
  try {
    const qps = [];
    for (let i = 0; i < a.maxQueuePairs; i++) qps.push(await a.createQueuePair({ depth: 4 }));
    const b = await observe(g);
    try {
      const e = await b.createQueuePair({ depth: 4 }).catch((x: unknown) => x);
      assert.instance(e, ResourceError);
      assert.match((e as Error).message, /no I\/O queue pair left.*granted 16/);
      await qps.pop()!.delete();
      const q = await b.createQueuePair({ depth: 4 });
      await q.delete();
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
});

test('a secondary with no primary gets a clear error', async () => {
  const e = await Controller.open({ shmId: 4242, filePrefix: tag, procType: 'secondary' }).catch((x: unknown) => x);
  assert.instance(e, ControllerError);
  assert.match((e as Error).message, /no primary process for group 4242/);
});

test('version mismatch: a region from another build is refused, naming both versions', async () => {
  const path = `/dev/shm/${tag}_4343.region`;
  const b = Buffer.alloc(32 << 20);
  b.writeUInt32LE(REGION_MAGIC, 0);
  b.writeUInt32LE(REGION_LAYOUT_VERSION, 4);
  b.writeUInt32LE(0x12345678, HDR_CORE_HASH);
  b.writeUInt32LE(RegionState.Ready, HDR_STATE);
  fs.writeFileSync(path, b, { mode: 0o600 });
  try {
    const e = await Controller.open({ shmId: 4343, filePrefix: tag, transport: trid }).catch((x: unknown) => x);
    assert.instance(e, ControllerError);
    assert.match((e as Error).message, /version mismatch: group 4343 runs layout \d+ core 12345678, this process is layout \d+ core [0-9a-f]{8}/);
  } finally {
    fs.rmSync(path, { force: true });
  }
});

test('two groups side by side on two devices: separate regions, no interference', async () => {
  sim2 = await startSim({ name: `${tag}b`, mdts: 5 });
  const g1 = gid++;
  const g2 = gid++;
  const procs = [
    member({ ...base(g1), role: 'io', lba: 0, blocks: 4096, rounds: 200 }),
    member({ shmId: g2, prefix: tag, trid: `trtype:sim name:${tag}b`, role: 'io', lba: 0, blocks: 4096, rounds: 200 }),
  ];
  const ready = await Promise.all(procs.map((p) => p.waitLine('ready ')));
  assert.ok(ready.every((l) => l.endsWith('primary')), 'each is its own group\'s primary');
  procs.push(member({ ...base(g1), role: 'io', lba: 8192, blocks: 4096, rounds: 200 }));
  procs.push(member({ shmId: g2, prefix: tag, role: 'io', lba: 8192, blocks: 4096, rounds: 200 }));
  for (const p of procs) assert.is((await summary(p)).mismatches, 0);
});

test('region files are mode 0600', async () => {
  const g = gid++;
  const a = await observe(g);
  try {
    assert.is(fs.statSync(a.region.file.path).mode & 0o777, 0o600);
  } finally {
    await a.close();
  }
  void pattern;
});

test.run();
