// A simulated controller whose process dies is noticed within a second
// (issue 16 E): its register page stays as it was, so the registers cannot
// tell; the group duties ask the transport (the simulator's pid) every
// 100 ms. Every command in flight and every new one fails with
// ControllerError('removed'), the 'removed' event fires, and close()
// returns at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Controller, ControllerError } from '../host/index.js';
import { startSim } from './helpers/procs.js';

test('a killed simulator: in-flight and new commands end with ControllerError(removed) within a second; close() is quick', async () => {
  const name = `death${process.pid}`;
  const sim = await startSim({ name, namespaces: [{ lbaSize: 512, blocks: 8192 }], latency: { mode: 'fixed', us: 200000 } });
  const ctrl = await Controller.open({ transport: `trtype:sim name:${name}`, regionSize: 32 << 20 });
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 8, timeoutMs: 60_000 });
    let removed: ControllerError | undefined;
    ctrl.on('removed', (e) => (removed = e));
    const inflight = ns.readBlocks(0, 1, { qpair: qp }).then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    sim.child.kill('SIGKILL');
    const e = await inflight;
    const ms = performance.now() - t0;
    assert.instance(e, ControllerError);
    assert.is((e as ControllerError).reason, 'removed');
    assert.ok(ms < 1000, `noticed after ${ms.toFixed(0)} ms`);
    assert.ok(removed, "the 'removed' event fired");
    const next = await ns.readBlocks(1, 1, { qpair: qp }).then(() => undefined, (x: unknown) => x);
    assert.instance(next, ControllerError);
    const c0 = performance.now();
    await ctrl.close().catch(() => {});
    assert.ok(performance.now() - c0 < 1000, `close took ${(performance.now() - c0).toFixed(0)} ms`);
  } finally {
    if (!ctrl.isClosed) await ctrl.close().catch(() => {});
  }
});

test('a simulator serves one driver at a time: a second private driver is refused, the first keeps working', async () => {
  const name = `one${process.pid}`;
  const sim = await startSim({ name, namespaces: [{ lbaSize: 512, blocks: 8192 }] });
  const trid = `trtype:sim name:${name}`;
  const a = await Controller.open({ transport: trid, regionSize: 32 << 20 });
  try {
    const e = await Controller.open({ transport: trid, regionSize: 32 << 20 }).then(() => undefined, (x: unknown) => x);
    assert.instance(e, ControllerError);
    assert.match((e as Error).message, new RegExp(`simulated controller ${name} is in use by another driver \\(pid ${process.pid}\\)`));
    const ns = a.namespace(1);
    const data = Buffer.alloc(512, 0x77);
    await ns.write(3, data);
    assert.equal(await ns.readBlocks(3, 1), data, 'the first driver is undisturbed');
  } finally {
    await a.close();
  }
  const b = await Controller.open({ transport: trid, regionSize: 32 << 20 });
  assert.equal(await b.namespace(1).readBlocks(3, 1), Buffer.alloc(512, 0x77), 'once the first closed, the next one may');
  await b.close();
  sim.child.kill('SIGTERM');
});

test.run();
