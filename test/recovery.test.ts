// Timeouts, aborts and controller resets (issue 5, point 3), on the simulated
// controller's fault hooks: a command past its deadline is aborted; when the
// Abort does not take it back, the controller is reset; CSTS.CFS leads to a
// reset; a reset that fails, and a surprise removal, fail everything with
// typed errors. After a reset, every process of a group has its queue pairs
// back (real processes at the end).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import {
  Controller, ControllerError, ControllerResetError, NvmeTimeoutError, NvmOpc, AdminOpc, Sct, CommandSpecificSc, type IoQueuePair,
} from '../host/index.js';
import { SimClient } from '../host/sim/index.js';
import type { ResetInfo } from '../host/reset.js';
import { pattern } from './helpers/rand.js';
import { member, startSim, stop, summary, type Proc } from './helpers/procs.js';

const SIM = { maxIoQueuePairs: 8, namespaces: [{ lbaSize: 512 as const, blocks: 65536 }] };

async function verified(ctrl: Controller, lba: number, qpair?: IoQueuePair): Promise<void> {
  const ns = ctrl.namespace(1);
  const d = pattern(lba, 8, 512, (Date.now() & 0xffff) + lba);
  await ns.write(lba, d, { qpair });
  assert.ok((await ns.readBlocks(lba, 8, { qpair })).equals(d), `verified I/O at lba ${lba}`);
}

function resets(ctrl: Controller): ResetInfo[] {
  const seen: ResetInfo[] = [];
  ctrl.on('reset', (r) => seen.push(r));
  return seen;
}

const settle = <T>(p: Promise<T>) => p.then(() => undefined, (e: unknown) => e);

test('callback path: a command past its deadline is aborted; the callback gets NvmeTimeoutError (aborted) once the device gave it back', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    const qp = await ctrl.createQueuePair({ depth: 8, timeoutMs: 150 });
    const other = await ctrl.createQueuePair({ depth: 8 }); // default timeout, for the checks after
    ctrl.transport.sim!.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
    const buf = ctrl.allocDma(4096);
    let got: Error | null | undefined;
    assert.ok(qp.submitRead(ctrl.namespace(1), 0, buf, (err) => {
      got = err;
    }));
    while (got === undefined) {
      qp.processCompletions();
      await new Promise((r) => setImmediate(r));
    }
    assert.instance(got, NvmeTimeoutError);
    assert.is((got as NvmeTimeoutError).recovery, 'aborted');
    assert.is((got as NvmeTimeoutError).opcode, NvmOpc.Read);
    assert.is(qp.outstanding, 0, 'the slot is free: the device gave the command back');
    assert.is(ctrl.resetCount, 0);
    buf.free();
    await verified(ctrl, 100, other);
  } finally {
    await ctrl.close();
  }
});

test('an Abort that fails leads to a controller reset: the timed-out command ends with NvmeTimeoutError (reset), other in-flight commands with ControllerResetError; the same queue pair works after', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    const seen = resets(ctrl);
    const timeouts: number[] = [];
    ctrl.on('timeout', (t) => timeouts.push(t.cid));
    const qp = await ctrl.createQueuePair({ depth: 16 });
    const other = await ctrl.createQueuePair({ depth: 16 });
    const sim = ctrl.transport.sim!;
    sim.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
    sim.injectFault({ kind: 'status', qid: 0, opcode: AdminOpc.Abort, count: 1, status: { sct: Sct.CommandSpecific, sc: CommandSpecificSc.AbortCommandLimitExceeded } });
    // Innocent writes held by the device long enough to be in flight at the reset.
    sim.injectFault({ kind: 'delay', qid: other.qid, opcode: NvmOpc.Write, count: 4, delayUs: 5_000_000 });
    const ns = ctrl.namespace(1);
    const innocents = [1, 2, 3, 4].map((i) => settle(ns.write(1000 + i * 8, pattern(1000 + i * 8, 8, 512, i), { qpair: other })));
    const victim = settle(ns.readBlocks(0, 1, { qpair: qp, timeoutMs: 200 })); // only this one has a short deadline
    const e = await victim;
    assert.instance(e, NvmeTimeoutError, String(e));
    assert.is((e as NvmeTimeoutError).recovery, 'reset');
    for (const r of await Promise.all(innocents)) {
      assert.instance(r, ControllerResetError, String(r));
      assert.is((r as ControllerResetError).reason, 'timeout');
    }
    // Submissions wait while the reset runs: these complete once both queue pairs are back.
    await verified(ctrl, 200, qp);
    await verified(ctrl, 300, other);
    assert.is(ctrl.resetCount, 1);
    assert.is(seen.length, 1);
    assert.is(seen[0]!.reason, 'timeout');
    assert.is(seen[0]!.ranHere, true);
    assert.is(timeouts.length, 1, 'one command timed out');
    assert.is(qp.outstanding, 0);
    // Admin still works after the reset (the admin queue was rebuilt).
    assert.is((await ctrl.identifyController()).serialNumber.length > 0, true);
  } finally {
    await ctrl.close();
  }
});

test('an admin command past its deadline resets the controller at once', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    ctrl.transport.sim!.injectFault({ kind: 'drop', qid: 0, opcode: AdminOpc.GetFeatures, count: 1 });
    const e = await settle(ctrl.adminCommand({ opcode: AdminOpc.GetFeatures, cdw10: 7, timeoutMs: 200 }));
    assert.instance(e, NvmeTimeoutError, String(e));
    assert.is((e as NvmeTimeoutError).recovery, 'reset');
    assert.is((e as NvmeTimeoutError).qid, 0);
    assert.type(await ctrl.getFeature(7), 'number'); // waits for the reset
    await verified(ctrl, 300);
    assert.is(ctrl.resetCount, 1);
  } finally {
    await ctrl.close();
  }
});

test('CSTS.CFS: in-flight commands (Promise and callback path) end with ControllerResetError, the controller is reset and I/O goes on', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    const seen = resets(ctrl);
    const qp = await ctrl.createQueuePair({ depth: 16 });
    const sim = ctrl.transport.sim!;
    sim.injectFault({ kind: 'delay', qid: qp.qid, count: 8, delayUs: 5_000_000 });
    const ns = ctrl.namespace(1);
    const inflight = [0, 1, 2].map((i) => settle(ns.readBlocks(i * 8, 8, { qpair: qp })));
    const buf = ctrl.allocDma(4096);
    let cbErr: Error | null | undefined;
    assert.ok(qp.submitWrite(ns, 40, buf, (err) => {
      cbErr = err;
    }));
    qp.ring();
    await new Promise((r) => setTimeout(r, 30));
    sim.setFatal();
    for (const r of await Promise.all(inflight)) {
      assert.instance(r, ControllerResetError, String(r));
      assert.is((r as ControllerResetError).reason, 'fatal');
    }
    while (cbErr === undefined) {
      qp.processCompletions();
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.instance(cbErr, ControllerResetError);
    buf.free();
    sim.clearFaults();
    await verified(ctrl, 500, qp);
    await verified(ctrl, 600); // the default queue pair too
    assert.is(ctrl.resetCount, 1);
    assert.is(seen[0]!.reason, 'fatal');
    assert.is(ctrl.isAlive(), true);
  } finally {
    await ctrl.close();
  }
});

test('a reset the controller does not come back from: everything fails with ControllerError (reset-failed), nothing hangs, new calls are refused', async () => {
  const ctrl = await Controller.open({ sim: { ...SIM, timeout: 1 } }); // CAP.TO = 500 ms
  try {
    const failed: ControllerError[] = [];
    ctrl.on('failed', (e) => failed.push(e));
    const qp = await ctrl.createQueuePair({ depth: 8 });
    const sim = ctrl.transport.sim!;
    sim.injectFault({ kind: 'delay', qid: qp.qid, count: 4, delayUs: 5_000_000 });
    const first = settle(ctrl.namespace(1).readBlocks(0, 1, { qpair: qp }));
    await new Promise((r) => setTimeout(r, 20));
    sim.setNeverReady(true);
    sim.setFatal();
    const r1 = await first;
    assert.instance(r1, ControllerResetError, 'in flight at the reset');
    const r2 = await settle(ctrl.namespace(1).readBlocks(0, 1, { qpair: qp }));
    assert.instance(r2, ControllerError, String(r2));
    assert.is((r2 as ControllerError).reason, 'reset-failed');
    assert.is(failed.length, 1);
    const r3 = await settle(ctrl.identifyController());
    assert.instance(r3, ControllerError);
    sim.setNeverReady(false);
  } finally {
    await ctrl.close().catch(() => {});
  }
});

test('surprise removal (registers read all ones): in-flight and new commands fail with ControllerError (removed), nothing hangs', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    const removed: ControllerError[] = [];
    ctrl.on('removed', (e) => removed.push(e));
    const qp = await ctrl.createQueuePair({ depth: 8 });
    ctrl.transport.sim!.injectFault({ kind: 'delay', qid: qp.qid, count: 4, delayUs: 5_000_000 });
    const p = settle(ctrl.namespace(1).readBlocks(0, 1, { qpair: qp }));
    await new Promise((r) => setTimeout(r, 20));
    ctrl.transport.sim!.setRemoved();
    const e = await p;
    assert.instance(e, ControllerError, String(e));
    assert.is((e as ControllerError).reason, 'removed');
    const e2 = await settle(ctrl.namespace(1).readBlocks(0, 1, { qpair: qp }));
    assert.instance(e2, ControllerError);
    assert.is(removed.length, 1);
    assert.is(ctrl.isAlive(), false);
  } finally {
    await ctrl.close().catch(() => {});
  }
});

test('reset() on request: queue pairs, admin queue and namespaces all usable after; repeated resets', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    const qp = await ctrl.createQueuePair({ depth: 8 });
    for (let i = 0; i < 3; i++) {
      await ctrl.reset();
      await verified(ctrl, 700 + i * 8, qp);
    }
    assert.is(ctrl.resetCount, 3);
    assert.is((await ctrl.rescanNamespaces()).length, 1);
  } finally {
    await ctrl.close();
  }
});

// ---- groups: every process gets its queues back ----

const tag = `rc${process.pid}`;
const trid = `trtype:sim name:${tag}`;
let simProc: Proc | undefined;

async function groupOf(g: number, n: number): Promise<Proc[]> {
  const procs = Array.from({ length: n }, (_, i) => member({ shmId: g, prefix: tag, trid, role: 'io', lba: i * 4096, blocks: 4096, rounds: 0, tolerateReset: true }));
  for (const p of procs) await p.waitLine('progress ');
  return procs;
}

async function endGroup(procs: Proc[]): Promise<Array<Record<string, number>>> {
  const out = [];
  for (const p of procs) {
    p.child.kill('SIGTERM');
    out.push(await summary(p));
    assert.is(await p.exited, 0);
  }
  return out;
}

test('group: CSTS.CFS while three processes do verified I/O: one reset, every process gets its queue pair back and goes on, no mismatch', async () => {
  simProc = await startSim({ name: tag, maxIoQueuePairs: 16, namespaces: [{ lbaSize: 512, blocks: 65536 }] });
  const procs = await groupOf(1, 3);
  const sim = SimClient.open(tag);
  try {
    sim.setFatal();
    for (const p of procs) {
      const l = await p.waitLine('reset ', 30000);
      assert.match(l, /^reset fatal \d+ (here|elsewhere)$/);
      await p.waitLine('after-reset 20', 30000); // verified rounds on the same queue pair after the reset
    }
    const here = procs.filter((p) => p.lines.some((l) => /^reset .* here$/.test(l)));
    assert.is(here.length, 1, 'exactly one process ran the reset');
    // It told the group over the messaging layer (primary: every secondary; a secondary: the primary).
    const told = procs.filter((p) => p !== here[0]).map((p) => p.waitLine('notification resetDone', 10000).then(() => 1, () => 0));
    const n = (await Promise.all(told)).reduce((x: number, y: number) => x + y, 0);
    assert.is(n, here[0]!.lines.some((l) => l.endsWith('primary')) ? 2 : 1, 'resetDone notifications received');
    for (const s of await endGroup(procs)) {
      assert.is(s.mismatches, 0);
      assert.is(s.resets, 1);
      assert.ok(s.roundsAfterReset! >= 20);
    }
  } finally {
    sim.close();
  }
});

test('group: a member asks for a reset; the others get their queue pairs back', async () => {
  const procs = await groupOf(2, 2);
  const me = await Controller.open({ shmId: 2, filePrefix: tag, transport: trid });
  try {
    await me.reset();
    assert.is(me.resetCount, 1);
    await verified(me, 60000);
    for (const p of procs) {
      assert.match(await p.waitLine('reset ', 30000), /^reset requested \d+ elsewhere$/);
      await p.waitLine('after-reset 20', 30000);
    }
    // We are a secondary: our resetDone notification went to the primary.
    const primary = procs.find((p) => p.lines.some((l) => /^ready \d+ primary$/.test(l)))!;
    assert.match(await primary.waitLine('notification resetDone', 10000), /"reason":"requested"/);
    for (const s of await endGroup(procs)) {
      assert.is(s.mismatches, 0);
      assert.is(s.resets, 1);
    }
  } finally {
    await me.close();
  }
});

test('group: the process running a reset is killed (kill -9) in the middle; another member takes the reset over and everyone gets queues back', async () => {
  const procs = await groupOf(3, 2);
  const sim = SimClient.open(tag);
  try {
    sim.setNeverReady(true); // the reset will stop at "wait for CSTS.RDY = 1"
    const resetter = member({ shmId: 3, prefix: tag, trid, role: 'reset' });
    await resetter.waitLine('resetting');
    await new Promise((r) => setTimeout(r, 300)); // it is now waiting for CSTS.RDY = 1, for up to CAP.TO
    resetter.child.kill('SIGKILL');
    await resetter.exited;
    sim.setNeverReady(false);
    for (const p of procs) await p.waitLine('after-reset 20', 60000);
    const ran = procs.filter((p) => p.lines.some((l) => /^reset requested \d+ here$/.test(l)));
    assert.is(ran.length, 1, 'one survivor finished the reset');
    for (const s of await endGroup(procs)) {
      assert.is(s.mismatches, 0);
      assert.is(s.resets, 1);
    }
  } finally {
    sim.setNeverReady(false);
    sim.close();
  }
});

test('group: surprise removal: every member fails with ControllerError (removed) and hears deviceRemoved from the others', async () => {
  const name = `${tag}x`;
  const gone = await startSim({ name, maxIoQueuePairs: 8, namespaces: [{ lbaSize: 512, blocks: 8192 }] });
  const t = `trtype:sim name:${name}`;
  const holders = [0, 1].map(() => member({ shmId: 4, prefix: tag, trid: t, role: 'hold' }));
  for (const p of holders) await p.waitLine('holding');
  const me = await Controller.open({ shmId: 4, filePrefix: tag, transport: t });
  const sim = SimClient.open(name);
  try {
    const removed = new Promise<ControllerError>((r) => me.on('removed', r));
    const heard = new Promise<string>((r) => me.on('notification', (n) => n.kind === 'deviceRemoved' && r(n.kind)));
    sim.setRemoved();
    assert.is((await removed).reason, 'removed');
    assert.is(await heard, 'deviceRemoved', 'the primary told us');
    for (const p of holders) await p.waitLine('notification deviceRemoved', 10000);
    const e = await settle(me.identifyController());
    assert.instance(e, ControllerError);
    for (const p of holders) {
      p.child.kill('SIGTERM');
      assert.is(await p.exited, 0, 'a member of a removed device still closes cleanly');
    }
  } finally {
    sim.close();
    await me.close().catch(() => {});
    await stop(gone);
  }
});

test.after(async () => {
  if (simProc) await stop(simProc);
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

test.run();
