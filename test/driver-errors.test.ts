// Errors as a caller sees them: every status the controller can post surfaces
// as an NvmeStatusError with the right sct/sc/dnr/opcode/cid/qid; real
// controller checks (bad opcode, field, queue id, size, namespace, LBA range)
// come back typed; bad arguments are refused before anything is sent, and
// verified I/O still works after each.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Controller, NvmeStatusError, NvmeTimeoutError, InvalidArgumentError, ControllerError, ResourceError,
  Sct, GenericSc, CommandSpecificSc, MediaSc, PathSc, AdminOpc, NvmOpc,
} from '../host/index.js';
import fs from 'node:fs';
import { pattern } from './helpers/rand.js';
import { startSim } from './helpers/procs.js';

let ctrl: Controller;

test.before(async () => {
  ctrl = await Controller.open({ sim: { maxIoQueuePairs: 4, mqes: 255, namespaces: [{ lbaSize: 512, blocks: 8192 }] } });
});
test.after(async () => {
  await ctrl.close();
});

async function stillWorks(): Promise<void> {
  const ns = ctrl.namespace(1);
  const d = pattern(77, 8, 512, Date.now() & 0xffff);
  await ns.write(77, d);
  assert.ok((await ns.readBlocks(77, 8)).equals(d), 'verified I/O after the error');
}

function isStatus(e: unknown, sct: number, sc: number, opcode: number, qid: number): boolean {
  if (!(e instanceof NvmeStatusError)) return false;
  assert.is(e.sct, sct, 'sct');
  assert.is(e.sc, sc, 'sc');
  assert.is(e.opcode, opcode, 'opcode');
  assert.is(e.qid, qid, 'qid');
  assert.type(e.cid, 'number');
  return true;
}

// ---- statuses injected by the simulator's fault hook ----

const injected: Array<[string, number, number, boolean]> = [
  ['Invalid Field', Sct.Generic, GenericSc.InvalidField, true],
  ['Data Transfer Error', Sct.Generic, GenericSc.DataTransferError, false],
  ['Internal Error', Sct.Generic, GenericSc.InternalError, false],
  ['Namespace Not Ready', Sct.Generic, GenericSc.NamespaceNotReady, false],
  ['Unrecovered Read Error', Sct.MediaError, MediaSc.UnrecoveredReadError, true],
  ['Write Fault', Sct.MediaError, MediaSc.WriteFault, false],
  ['Access Denied', Sct.MediaError, MediaSc.AccessDenied, true],
  ['LBA Out of Range', Sct.Generic, GenericSc.LbaOutOfRange, true],
  ['Zone Invalid Write', Sct.CommandSpecific, CommandSpecificSc.ZoneInvalidWrite, true],
  ['Zone Boundary Error', Sct.CommandSpecific, CommandSpecificSc.ZoneBoundaryError, true],
  ['Zone Is Full', Sct.CommandSpecific, CommandSpecificSc.ZoneIsFull, true],
  ['Host Pathing Error', Sct.PathRelated, PathSc.HostPathingError, false],
  ['sct 7 sc 0xc0', Sct.VendorSpecific, 0xc0, false],
];

for (const [name, sct, sc, dnr] of injected) {
  test(`injected status ${name} (sct ${sct}, sc 0x${sc.toString(16)}) surfaces typed on a read`, async () => {
    const sim = ctrl.transport.sim!;
    const qp = await ctrl.defaultQueuePair();
    sim.injectFault({ kind: 'status', qid: qp.qid, opcode: NvmOpc.Read, count: 1, status: { sct, sc, dnr } });
    try {
      await ctrl.namespace(1).readBlocks(0, 1);
      assert.unreachable('should fail');
    } catch (e) {
      assert.ok(isStatus(e, sct, sc, NvmOpc.Read, qp.qid), String(e));
      assert.is((e as NvmeStatusError).dnr, dnr, 'dnr');
      // Decoded by the spec's name in the one-line message, no class name.
      assert.match((e as Error).message, new RegExp(`^Read failed: ${name} \\(sct ${sct}, sc 0x${sc.toString(16).padStart(2, '0')}`));
    }
    await stillWorks();
  });
}

test('injected status on an admin command (Get Features) carries qid 0 and the admin opcode', async () => {
  ctrl.transport.sim!.injectFault({ kind: 'status', qid: 0, opcode: AdminOpc.GetFeatures, count: 1, status: { sct: Sct.Generic, sc: GenericSc.InternalError } });
  const e = await ctrl.getFeature(0x07).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.Generic, GenericSc.InternalError, AdminOpc.GetFeatures, 0), String(e));
  assert.match((e as Error).message, /^Get Features failed: Internal Error \(sct 0, sc 0x06\) on qid 0 cid \d+$/);
});

// ---- checks the controller itself makes ----

test('invalid admin opcode: Invalid Command Opcode', async () => {
  const e = await ctrl.adminCommand({ opcode: 0xc5 }).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.Generic, GenericSc.InvalidOpcode, 0xc5, 0), String(e));
  assert.ok((e as NvmeStatusError).dnr);
});

test('invalid field: Identify with an unknown CNS', async () => {
  const e = await ctrl.identifyRaw(0x55, 0).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.Generic, GenericSc.InvalidField, AdminOpc.Identify, 0), String(e));
});

test('invalid queue identifier: Create I/O CQ with qid 0 and beyond the granted count', async () => {
  const buf = new Uint8Array(0);
  for (const qid of [0, 200]) {
    const e = await ctrl.adminCommand({ opcode: AdminOpc.CreateIoCq, cdw10: qid | (15 << 16), cdw11: 1, data: buf }).catch((x: unknown) => x);
    assert.ok(isStatus(e, Sct.CommandSpecific, CommandSpecificSc.InvalidQueueId, AdminOpc.CreateIoCq, 0), String(e));
  }
});

test('invalid queue size: Create I/O CQ larger than CAP.MQES + 1', async () => {
  const e = await ctrl.adminCommand({ opcode: AdminOpc.CreateIoCq, cdw10: 3 | (4095 << 16), cdw11: 1 }).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.CommandSpecific, CommandSpecificSc.InvalidQueueSize, AdminOpc.CreateIoCq, 0), String(e));
});

test('completion queue invalid: Create I/O SQ on a CQ that does not exist', async () => {
  const e = await ctrl.adminCommand({ opcode: AdminOpc.CreateIoSq, cdw10: 3 | (15 << 16), cdw11: 1 | (3 << 16) }).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.CommandSpecific, CommandSpecificSc.CompletionQueueInvalid, AdminOpc.CreateIoSq, 0), String(e));
});

test('invalid log page', async () => {
  const e = await ctrl.getLogPage(0x7f, 512).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.CommandSpecific, CommandSpecificSc.InvalidLogPage, AdminOpc.GetLogPage, 0), String(e));
});

test('invalid namespace and LBA out of range, from the controller (passthrough bypasses our checks)', async () => {
  const qp = await ctrl.defaultQueuePair();
  const data = new Uint8Array(512);
  let e = await qp.command({ opcode: NvmOpc.Read, nsid: 9, data }).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.Generic, GenericSc.InvalidNamespaceOrFormat, NvmOpc.Read, qp.qid), String(e));
  e = await qp.command({ opcode: NvmOpc.Read, nsid: 1, cdw10: 8192, data }).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.Generic, GenericSc.LbaOutOfRange, NvmOpc.Read, qp.qid), String(e));
  e = await qp.command({ opcode: 0x7e, nsid: 1 }).catch((x: unknown) => x);
  assert.ok(isStatus(e, Sct.Generic, GenericSc.InvalidOpcode, 0x7e, qp.qid), String(e));
  await stillWorks();
});

// ---- timeouts ----

test('a dropped completion becomes an NvmeTimeoutError naming opcode, cid and qid, taken back by Abort; nothing hangs', async () => {
  const qp = await ctrl.createQueuePair({ depth: 8, timeoutMs: 150 });
  ctrl.transport.sim!.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
  const t0 = performance.now();
  const e = await ctrl.namespace(1).readBlocks(0, 1, { qpair: qp }).catch((x: unknown) => x);
  assert.instance(e, NvmeTimeoutError);
  const te = e as NvmeTimeoutError;
  assert.is(te.opcode, NvmOpc.Read);
  assert.is(te.qid, qp.qid);
  assert.type(te.cid, 'number');
  assert.is(te.recovery, 'aborted', 'the Abort the driver sent took it back (no reset)');
  assert.ok(performance.now() - t0 < 5000);
  // Aborted: the slot is free again.
  assert.is(qp.outstanding, 0);
  assert.is(ctrl.resetCount, 0);
  const d = pattern(5, 1, 512, 1);
  await ctrl.namespace(1).write(5, d, { qpair: qp });
  assert.ok((await ctrl.namespace(1).readBlocks(5, 1, { qpair: qp })).equals(d));
  await qp.delete();
});

// ---- arguments refused before anything is sent ----

test('bad arguments: typed errors naming the argument; I/O still verified afterwards', async () => {
  const ns = ctrl.namespace(1);
  const cases: Array<[() => Promise<unknown> | unknown, string]> = [
    [() => ns.readBlocks(8192, 1), 'lba'],
    [() => ns.readBlocks(8190, 4), 'blocks'],
    [() => ns.write(0, Buffer.alloc(100)), 'buffer length'],
    [() => ns.write(0, Buffer.alloc(0)), 'buffer length'],
    [() => ns.readBlocks(-1, 1), 'lba'],
    [() => ns.readBlocks(1.5, 1), 'lba'],
    [() => ns.readBlocks(Number.NaN, 1), 'lba'],
    [() => ns.readBlocks(0, 0), 'blocks'],
    [() => ns.write(0, 'text' as never), 'buffer'],
    [() => ctrl.namespace(7), 'nsid'],
    [() => ctrl.createQueuePair({ depth: 100000 }), 'depth'],
    [() => ctrl.createQueuePair({ depth: 1 }), 'depth'],
    [() => ctrl.allocDma(-5), 'bytes'],
    [() => ctrl.getFeature(300), 'fid'],
    [() => ctrl.getLogPage(2, 10), 'length'],
    [() => ns.deallocate([]), 'ranges'],
  ];
  for (const [fn, arg] of cases) {
    let err: unknown;
    try {
      await fn();
    } catch (e) {
      err = e;
    }
    assert.instance(err, InvalidArgumentError, `expected InvalidArgumentError for ${arg}, got ${String(err)}`);
    assert.is((err as InvalidArgumentError).argument, arg);
  }
  await stillWorks();
});

test('queue pairs: asking for more than the controller granted is a ResourceError', async () => {
  const made = [];
  const live = ctrl.ioQueuePairs.length;
  for (let i = live; i < ctrl.maxQueuePairs; i++) made.push(await ctrl.createQueuePair({ depth: 4 }));
  const e = await ctrl.createQueuePair({ depth: 4 }).catch((x: unknown) => x);
  assert.instance(e, ResourceError);
  assert.is((e as ResourceError).resource, 'qid');
  for (const q of made) await q.delete();
  const again = await ctrl.createQueuePair({ depth: 4 });
  await again.delete();
  await stillWorks();
});

test.run();

test('a simulated controller whose process died: open fails at once with ControllerError(removed), nothing left behind; a missing one says how to start one', async () => {
  const name = `dead${process.pid}`;
  const sim = await startSim({ name, nullIo: true });
  sim.child.kill('SIGKILL'); // its files stay, saying Running: only the process is gone
  await sim.exited;
  const before = fs.readdirSync('/dev/shm').filter((f) => f.endsWith('.region')).sort();
  const t0 = performance.now();
  const e = await Controller.open({ transport: `trtype:sim name:${name}` }).catch((x: unknown) => x);
  assert.instance(e, ControllerError);
  assert.is((e as ControllerError).reason, 'removed');
  assert.match((e as Error).message, 'its process is gone');
  assert.ok(performance.now() - t0 < 3000, 'no waiting for a timeout');
  assert.equal(fs.readdirSync('/dev/shm').filter((f) => f.endsWith('.region')).sort(), before, 'no region file left behind');
  for (const f of fs.readdirSync('/dev/shm')) if (f.includes(`-sim-${name}.`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
  const m = await Controller.open({ transport: 'trtype:sim name:no-such-sim' }).catch((x: unknown) => x);
  assert.ok(m instanceof ControllerError && m.reason === 'removed' && /nvme-wasm sim start/.test(m.message), String(m));
});
