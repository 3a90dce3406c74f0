// Controller resets racing the rest of a group's life (the bugs the kill -9
// stress found, docs/fuzzing.md): back-to-back resets while a member still
// recreates its queues after the last one (bug 1), createQueuePair() and
// deleteQueuePair() racing resets (bug 3), Controller.open() racing resets
// (bug 4), a member joining while its simulator dies (bug 2), and the last
// member closing while a process joins (bug 6). Members are real processes
// (test/helpers/stress-member.ts); the test process is a member too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller, ControllerError, AdminOpc } from '../host/index.js';
import { SimClient } from '../host/sim/index.js';
import { pattern, xorshift } from './helpers/rand.js';
import { startSim, stop, onLines } from './helpers/procs.js';

const tag = `rr${process.pid}`;
const trid = `trtype:sim name:${tag}`;
const SIM = { name: tag, mdts: 5, maxIoQueuePairs: 16, namespaces: [{ lbaSize: 512, blocks: 65536 }] };
const MEMBER = fileURLToPath(new URL('./helpers/stress-member.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settle = <T>(p: Promise<T>) => p.then(() => undefined, (e: unknown) => e);
const rand = xorshift(20261201);

/** A stress member (io: verified I/O, 'ok N' lines; reset: resets in a loop with gapMs) as its own process. */
class Member {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  oks = 0;
  stderr = '';
  exit: number | string | undefined;
  readonly exited: Promise<number | string>;

  constructor(args: Record<string, unknown>) {
    this.child = spawn(process.execPath, [MEMBER, JSON.stringify({ prefix: tag, trid, blocks: 8192, ...args })], { stdio: ['ignore', 'pipe', 'pipe'] });
    onLines(this.child.stdout!, (l) => {
      this.lines.push(l);
      if (l.startsWith('ok ')) this.oks++;
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-3000)));
    this.exited = new Promise((r) => this.child.once('exit', (code, sig) => r((this.exit = code ?? sig ?? -1))));
  }

  /** Waits (bounded: a hang detector, not a speed target) until cond() holds. */
  async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const end = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > end || this.exit !== undefined) {
        throw new Error(`${what}: ${this.exit !== undefined ? `exited ${this.exit}` : `not within ${ms} ms`}; stdout: ${this.lines.slice(-6).join(' | ')}; stderr: ${this.stderr}`);
      }
      await sleep(20);
    }
  }

  /** SIGTERM: it finishes its round, closes, prints 'done <json>' and exits 0. */
  async end(): Promise<Record<string, number>> {
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 20000);
    const code = await this.exited;
    clearTimeout(t);
    const done = this.lines.find((l) => l.startsWith('done '));
    assert.ok(code === 0 && done, `exits 0 with a summary on SIGTERM (got ${code}): ${this.lines.slice(-6).join(' | ')} ${this.stderr}`);
    return JSON.parse(done!.slice(5)) as Record<string, number>;
  }
}

async function verified(ctrl: Controller, lba: number, qpair: Awaited<ReturnType<Controller['createQueuePair']>>): Promise<void> {
  const ns = ctrl.namespace(1);
  const d = pattern(lba, 4, 512, lba);
  await ns.write(lba, d, { qpair });
  assert.ok((await ns.readBlocks(lba, 4, { qpair })).equals(d), `verified I/O at lba ${lba}`);
}

let sim: Awaited<ReturnType<typeof startSim>>;
test.before(async () => {
  sim = await startSim(SIM);
});
test.after(async () => {
  await stop(sim);
  for (const f of fs.readdirSync('/dev/shm')) if (f.includes(tag)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

test('back-to-back resets (bug 1): a member recreating its queues after one reset follows the next; its I/O completes or fails typed, and goes on after the last', async () => {
  const io = new Member({ shmId: 11, role: 'io', lba: 0 });
  await io.until(() => io.oks > 0, 30000, 'the I/O member works');
  const me = await Controller.open({ shmId: 11, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  try {
    // Resets a few milliseconds apart: the next one starts while the I/O member is still
    // following the last (waiting for it, or recreating its queue pair with Create I/O CQ/SQ).
    for (let i = 0; i < 120; i++) {
      await me.reset();
      await sleep(rand(6));
    }
    assert.is(me.resetCount >= 120, true);
    const n = io.oks;
    await io.until(() => io.oks > n + 2, 15000, 'the I/O member goes on after the last reset');
    const s = await io.end();
    assert.is(s.mismatches, 0);
    assert.ok(s.resetErrors! > 0, 'its I/O met the resets (ControllerResetError, retried)');
  } finally {
    io.child.kill('SIGKILL');
    await me.close();
  }
});

test('createQueuePair() and deleteQueuePair() racing resets (bug 3): creation waits for the reset and succeeds, never a status error', async () => {
  const resetter = new Member({ shmId: 12, role: 'reset', gapMs: 0 });
  await resetter.until(() => resetter.lines.some((l) => l.startsWith('reset-done')), 30000, 'the resetter resets');
  const me = await Controller.open({ shmId: 12, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  try {
    const start = me.resetCount;
    // Creations until 10 resets ran meanwhile (they come 0 to 150 ms apart).
    for (let i = 0; me.resetCount - start < 10 && i < 1000; i++) {
      const qp = await me.createQueuePair({ depth: 8 });
      for (;;) {
        const e = await settle(verified(me, 1000 + (i % 1000) * 8, qp));
        if (e === undefined) break;
        assert.is((e as Error).name, 'ControllerResetError', `I/O fails only with ControllerResetError (${String(e)})`);
      }
      await me.deleteQueuePair(qp);
      await sleep(rand(10));
    }
    assert.ok(me.resetCount - start >= 10, `resets ran meanwhile (${me.resetCount - start})`);
    assert.is(me.group.qidsOf(me.group.self).length, 0, 'no queue id left to us');
    await me.close();
    await resetter.end();
  } finally {
    resetter.child.kill('SIGKILL');
    await me.close().catch(() => {});
  }
});

test('Controller.open() racing resets (bug 4): the join waits for each reset and succeeds', async () => {
  const resetter = new Member({ shmId: 13, role: 'reset', gapMs: 0 });
  await resetter.until(() => resetter.lines.some((l) => l.startsWith('reset-done')), 30000, 'the resetter resets');
  try {
    const done = () => resetter.lines.filter((l) => l.startsWith('reset-done')).length;
    const first = done();
    // Joins until 10 resets ran meanwhile (they come 0 to 150 ms apart).
    for (let i = 0; done() - first < 10 && i < 1000; i++) {
      const c = await Controller.open({ shmId: 13, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
      assert.ok(c.namespaces.size >= 1);
      await c.close();
    }
    assert.ok(done() - first >= 10, `resets ran meanwhile: ${resetter.lines.slice(-5).join(' | ')} ${resetter.stderr}`);
    await resetter.end();
  } finally {
    resetter.child.kill('SIGKILL');
  }
});

test("a member joining while its simulator dies (bug 2): open() fails with ControllerError('removed'), not after the admin command timeout", async () => {
  const name = `${tag}d`;
  const dying = await startSim({ ...SIM, name });
  const t = `trtype:sim name:${name}`;
  const first = new Member({ shmId: 14, role: 'io', lba: 0, trid: t });
  const client = SimClient.open(name);
  try {
    await first.until(() => first.oks > 0, 30000, 'the first member works');
    // The joiner's Identify Controller never completes: it waits on the device when the device dies.
    client.injectFault({ kind: 'drop', qid: 0, opcode: AdminOpc.Identify, count: 1 });
    const joining = settle(Controller.open({ shmId: 14, filePrefix: tag, transport: t, regionSize: 32 << 20 }));
    await sleep(1000);
    dying.child.kill('SIGKILL');
    await dying.exited;
    const e = await joining;
    assert.instance(e, ControllerError, `open() failed with ${String(e)}`);
    assert.is((e as ControllerError).reason, 'removed');
    assert.is(await first.exited, 4, "the joined member ends with ControllerError('removed') too");
  } finally {
    client.close();
    first.child.kill('SIGKILL');
    await stop(dying);
  }
});

test('the last member closing while a process joins (bug 6): the group file stays until the shutdown is complete, the close succeeds, the joiner starts a new group', async () => {
  const last = await Controller.open({ shmId: 15, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  const file = last.region.file.path;
  // The moment the last member has decided it is last (the region says Closed), a process joins;
  // and the group file is looked at before the close goes on (a microtask queued then runs first).
  let fileThere: boolean | undefined;
  let joining: Promise<Controller> | undefined;
  const decide = last.group.closeIfLast.bind(last.group);
  last.group.closeIfLast = () => {
    const isLast = decide();
    queueMicrotask(() => (fileThere = fs.existsSync(file)));
    joining = Controller.open({ shmId: 15, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
    return isLast;
  };
  const closing = settle(last.close());
  const e = await closing;
  const joiner = await joining!;
  try {
    assert.is(e, undefined, `the close succeeded (${String(e)})`);
    assert.is(fileThere, true, 'the group file was still there while the last member shut the controller down');
    assert.ok(!fs.existsSync(file) || joiner.region.file.path === file, 'the old group file is gone (or is the new group\'s)');
    assert.ok(joiner.isPrimary, 'the joiner made a new group');
    const qp = await joiner.createQueuePair({ depth: 8 });
    await verified(joiner, 5000, qp);
  } finally {
    await joiner.close();
  }
});

test('a command of a reset that goes unanswered (Set Features while the controller comes back, Create I/O CQ while queues are recreated) leads to another try, not a wait on the reset itself', async () => {
  const ctrl = await Controller.open({ sim: { maxIoQueuePairs: 4, namespaces: [{ lbaSize: 512, blocks: 8192 }] }, commandTimeoutMs: 300 });
  // A hang detector, not a speed target: before, reset() waited on the very command whose timeout asked for it.
  let hung = false;
  const bounded = <T>(p: Promise<T>) => Promise.race([p.then(() => 'done', (e: unknown) => e), sleep(30000).then(() => ((hung = true), 'hung'))]);
  try {
    const qp = await ctrl.createQueuePair({ depth: 8 });
    const sim = ctrl.transport.sim!;
    for (const opcode of [AdminOpc.SetFeatures, AdminOpc.CreateIoCq]) {
      const before = ctrl.resetCount;
      sim.injectFault({ kind: 'drop', qid: 0, opcode, count: 1 });
      assert.is(await bounded(ctrl.reset()), 'done', `reset() with a dropped opcode 0x${opcode.toString(16)}`);
      // Set Features: the same reset brings the controller down and up again; Create I/O CQ: a second reset.
      assert.is(ctrl.resetCount - before, opcode === AdminOpc.SetFeatures ? 1 : 2);
      await verified(ctrl, 100 + opcode, qp);
    }
  } finally {
    if (hung) void ctrl.close(); // it would wait on the hung reset
    else await ctrl.close();
  }
});

test("a reset on a device known gone (its simulator killed): commands in flight end with ControllerError('removed'), not ControllerResetError", async () => {
  const name = `${tag}g`;
  const dying = await startSim({ ...SIM, name });
  const ctrl = await Controller.open({ transport: `trtype:sim name:${name}` });
  try {
    ctrl.transport.sim!.injectFault({ kind: 'drop', qid: 0, opcode: AdminOpc.Identify, count: 1 });
    const inFlight = settle(ctrl.identifyController());
    await sleep(50); // posted (and dropped) by now
    dying.child.kill('SIGKILL');
    await dying.exited;
    const r = await settle(ctrl.reset());
    for (const e of [await inFlight, r]) {
      assert.instance(e, ControllerError, String(e));
      assert.is((e as ControllerError).reason, 'removed');
    }
  } finally {
    await ctrl.close().catch(() => {});
    await stop(dying);
  }
});

test.run();
