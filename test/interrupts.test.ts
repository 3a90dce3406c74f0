// completionMode 'interrupt' and 'adaptive' on the simulated controller
// (host/interrupts.ts, host/sim/irq.ts): the Promise path sleeps on the
// CQ's interrupt instead of spinning. What would break: reads that never
// complete or return wrong data, a poller that spins (many polls per I/O)
// or never sleeps, a wake-up lost between the last empty poll and the
// arming (a sleep then lasts its whole bound: with a bound of 60 s every
// sleep must end by the interrupt), a sleep that outlives a reset or a close.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Controller, ControllerError, ControllerResetError, InvalidArgumentError, NvmeError } from '../host/index.js';
import { NvmOpc } from '../assembly/nvme/cmd.js';

/** The promise rejects with an error `ok` accepts. */
async function rejects(p: () => Promise<unknown>, ok: (e: unknown) => boolean, what: string): Promise<void> {
  let err: unknown;
  try {
    await p();
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined && ok(err), `${what}: ${String(err)}`);
}
const isArg = (e: unknown): boolean => e instanceof InvalidArgumentError;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BLOCK = 4096;
/** Long enough that a sleep which ends by its bound rather than an interrupt cannot pass unnoticed. */
const NO_TIMEOUT = 60_000;

async function openSim(): Promise<Controller> {
  return Controller.open({ sim: { namespaces: [{ lbaSize: 512, blocks: 65536 }] }, commandTimeoutMs: 10_000 });
}

function fill(buf: Uint8Array, seed: number): void {
  for (let i = 0; i < buf.length; i += 4) new DataView(buf.buffer, buf.byteOffset + i, 4).setUint32(0, (seed * 2654435761 + i) >>> 0, true);
}

test('interrupt mode: QD1 reads with a think time verify, sleep on the interrupt and poll a few times per I/O; polling spins', async () => {
  const ctrl = await openSim();
  try {
    const ns = ctrl.namespace(1);
    const irq = await ctrl.createQueuePair({ completionMode: 'interrupt', interruptTimeoutMs: NO_TIMEOUT });
    const poll = await ctrl.createQueuePair({ completionMode: 'poll' });
    assert.is(irq.completionMode, 'interrupt');
    assert.is(irq.interruptVector, irq.qid, 'vector = qid');
    assert.is(poll.completionMode, 'poll');
    assert.is(poll.interruptVector, -1, 'a polled CQ has IEN = 0');
    const n = 40;
    const data = Buffer.alloc(BLOCK);
    for (let i = 0; i < n; i++) {
      fill(data, i);
      await ns.write(i * 8, data, { qpair: poll });
    }
    const got = Buffer.alloc(BLOCK);
    const before = irq.completionWaits;
    for (let i = 0; i < n; i++) {
      await sleep(2); // think time: the simulator goes idle and backs off, as a sparse application's device would
      await ns.read(i * 8, got, { qpair: irq });
      fill(data, i);
      assert.ok(got.equals(data), `read ${i} verifies`);
    }
    const w = irq.completionWaits;
    const polls = (w.polls - before.polls) / n;
    assert.ok(w.sleeps - before.sleeps >= n / 2, `slept on the interrupt (${w.sleeps - before.sleeps} sleeps for ${n} reads)`);
    assert.is(w.sleeps - w.wakeups, 0, 'every sleep ended by the interrupt');
    assert.ok(polls <= 6, `a few polls per I/O (${polls})`);
    const p0 = poll.completionWaits;
    for (let i = 0; i < n; i++) {
      await sleep(2);
      await ns.read(i * 8, got, { qpair: poll });
    }
    const spun = (poll.completionWaits.polls - p0.polls) / n;
    assert.is(poll.completionWaits.sleeps, 0, 'poll mode never sleeps');
    assert.ok(spun > polls, `poll mode polls more per I/O (${spun} against ${polls})`);
  } finally {
    await ctrl.close();
  }
});

test('interrupt mode: no lost wake-up over 3000 reads at QD1 and QD4, back to back (a hot simulator: completions race the arming)', async () => {
  const ctrl = await openSim();
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ completionMode: 'interrupt', interruptTimeoutMs: NO_TIMEOUT });
    const bufs = [0, 1, 2, 3].map(() => ctrl.allocDma(BLOCK));
    for (let i = 0; i < 2000; i++) await qp.read(ns, (i % 512) * 8, bufs[0]!);
    for (let i = 0; i < 250; i++) await Promise.all(bufs.map((b, j) => qp.read(ns, ((i * 4 + j) % 512) * 8, b)));
    const w = qp.completionWaits;
    assert.ok(w.sleeps > 0, `it slept (${w.sleeps})`);
    assert.is(w.sleeps - w.wakeups, 0, 'no sleep lasted to its 60 s bound');
  } finally {
    await ctrl.close();
  }
});

test('adaptive mode: spins through a busy queue (QD32), sleeps through a slow completion', async () => {
  const ctrl = await openSim();
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ completionMode: 'adaptive', adaptiveSpinUs: 200, interruptTimeoutMs: NO_TIMEOUT });
    assert.is(qp.completionMode, 'adaptive');
    const data = Buffer.alloc(BLOCK);
    const got = Buffer.alloc(BLOCK);
    await Promise.all(Array.from({ length: 32 }, (_, i) => {
      const d = Buffer.alloc(BLOCK);
      fill(d, 100 + i);
      return ns.write(i * 8, d, { qpair: qp });
    }));
    await Promise.all(Array.from({ length: 32 }, async (_, i) => {
      const g = Buffer.alloc(BLOCK);
      await ns.read(i * 8, g, { qpair: qp });
      fill(data, 100 + i);
      assert.ok(g.equals(data), `read ${i} verifies`);
    }));
    // A completion 20 ms away: far beyond the spin, so the poller sleeps for it.
    const before = qp.completionWaits;
    ctrl.transport.sim!.injectFault({ kind: 'delay', qid: qp.qid, opcode: NvmOpc.Read, count: 1, delayUs: 20_000 });
    await ns.read(0, got, { qpair: qp });
    fill(data, 100);
    assert.ok(got.equals(data));
    const w = qp.completionWaits;
    assert.ok(w.sleeps > before.sleeps, 'slept through the delayed completion');
    assert.is(w.sleeps - w.wakeups, 0);
  } finally {
    await ctrl.close();
  }
});

test('interrupt mode: a reset while the poller sleeps ends the read, and the recreated CQ interrupts again', async () => {
  const ctrl = await openSim();
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ completionMode: 'interrupt', interruptTimeoutMs: NO_TIMEOUT });
    const buf = ctrl.allocDma(BLOCK);
    await qp.read(ns, 0, buf);
    ctrl.transport.sim!.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
    const lost = qp.read(ns, 8, buf, { timeoutMs: 0 }).then(() => undefined, (e: unknown) => e);
    while (qp.completionWaits.sleeps === 1 || qp.completionWaits.sleeps - qp.completionWaits.wakeups === 0) await sleep(1); // asleep on the dropped one
    await ctrl.reset();
    assert.instance(await lost, ControllerResetError, 'the dropped read ended with the reset');
    const w0 = qp.completionWaits;
    for (let i = 0; i < 20; i++) {
      await sleep(1);
      await qp.read(ns, i * 8, buf);
    }
    const w = qp.completionWaits;
    assert.ok(w.wakeups - w0.wakeups > 0, 'interrupts after the reset (IEN and IV given again)');
    assert.is(w.sleeps - w.wakeups, 0);
  } finally {
    await ctrl.close();
  }
});

test('interrupt mode: close while the poller sleeps on a dropped completion ends the read and the wait', async () => {
  const ctrl = await openSim();
  let qp;
  let lost: Promise<unknown>;
  try {
    const ns = ctrl.namespace(1);
    qp = await ctrl.createQueuePair({ completionMode: 'interrupt', interruptTimeoutMs: NO_TIMEOUT });
    const buf = ctrl.allocDma(BLOCK);
    ctrl.transport.sim!.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
    lost = qp.read(ns, 0, buf, { timeoutMs: 0 }).then(() => undefined, (e: unknown) => e);
    while (qp.completionWaits.sleeps === 0) await sleep(1);
  } finally {
    await ctrl.close(); // deletes the queue pair: the SQ deletion completes the dropped read
  }
  assert.instance(await lost!, NvmeError);
  const w = qp!.completionWaits;
  assert.is(w.sleeps - w.wakeups, 0, 'no sleep was left to its 60 s bound');
});

test('interrupt mode: the device removed while the poller sleeps: the sleep is cancelled, the read fails', async () => {
  const ctrl = await openSim();
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ completionMode: 'interrupt', interruptTimeoutMs: NO_TIMEOUT });
    const buf = ctrl.allocDma(BLOCK);
    ctrl.transport.sim!.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
    const lost = qp.read(ns, 0, buf, { timeoutMs: 0 }).then(() => undefined, (e: unknown) => e);
    while (qp.completionWaits.sleeps === 0) await sleep(1);
    ctrl.transport.sim!.setRemoved(); // no completion will ever come: only the cancel ends the sleep
    const err = await lost;
    assert.instance(err, ControllerError);
    assert.is((err as ControllerError).reason, 'removed');
    // The read failed at once; the pool thread's wait returns a moment later (5 s here is far below the 60 s bound).
    for (let i = 0; i < 5000 && qp.completionWaits.sleeps !== qp.completionWaits.wakeups; i++) await sleep(1);
    const w = qp.completionWaits;
    assert.is(w.sleeps - w.wakeups, 0, 'the sleep ended by the cancel');
  } finally {
    await ctrl.close();
  }
});

test('completionMode: bad values are refused by name; poll is the default', async () => {
  await rejects(() => Controller.open({ completionMode: 'spin' as never }), (e) => isArg(e) && /completionMode/.test(String(e)), 'Controller.open');
  const ctrl = await Controller.open({ completionMode: 'adaptive' });
  try {
    const qp = await ctrl.createQueuePair();
    assert.is(qp.completionMode, 'adaptive', 'the controller default applies');
    const def = await Controller.open({});
    try {
      assert.is((await def.createQueuePair()).completionMode, 'poll');
    } finally {
      await def.close();
    }
    await rejects(() => ctrl.createQueuePair({ completionMode: 'never' as never }), isArg, 'completionMode');
    await rejects(() => ctrl.createQueuePair({ adaptiveSpinUs: -1 }), isArg, 'adaptiveSpinUs');
    await rejects(() => ctrl.createQueuePair({ interruptTimeoutMs: 0 }), isArg, 'interruptTimeoutMs');
  } finally {
    await ctrl.close();
  }
});

test.run();
