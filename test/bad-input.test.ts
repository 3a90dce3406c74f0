// Bad input through the public API, beyond the Namespace cases in
// driver-errors: every rejected call throws (or rejects with) a typed error
// naming the argument, sends nothing, and the driver still does verified I/O.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Controller, InvalidArgumentError, parseTransportId } from '../host/index.js';
import { pattern } from './helpers/rand.js';

let ctrl: Controller;
test.before(async () => {
  ctrl = await Controller.open({ sim: { mqes: 63 } });
});
test.after(async () => {
  await ctrl.close();
});

async function rejects(fn: () => unknown, argument: string | RegExp): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.instance(err, InvalidArgumentError, `expected InvalidArgumentError(${String(argument)}), got ${String(err)}`);
  const a = (err as InvalidArgumentError).argument;
  if (typeof argument === 'string') assert.is(a, argument);
  else assert.match(a, argument);
}

async function stillWorks(): Promise<void> {
  const ns = ctrl.namespace(1);
  const d = pattern(300, 4, 512, 3);
  await ns.write(300, d);
  assert.ok((await ns.readBlocks(300, 4)).equals(d));
}

test('open: bad options are refused before touching any device', async () => {
  for (const [opts, arg] of [
    [{ shmId: -1 }, 'shmId'],
    [{ shmId: 1.5 }, 'shmId'],
    [{ shmId: Number.NaN }, 'shmId'],
    [{ shmId: 1, filePrefix: 'a/b' }, 'filePrefix'],
    [{ procType: 'tertiary' }, 'procType'],
    [{ procType: 'secondary' }, 'procType'],
    [{ regionSize: 1000 }, 'regionSize'],
    [{ hugepages: 'sometimes' }, 'hugepages'],
    [{ adminQueueDepth: 1 }, 'adminQueueDepth'],
    [{ commandTimeoutMs: -5 }, 'commandTimeoutMs'],
    [{ transport: 'trtype:rdma traddr:1.2.3.4' }, /trtype/],
    [{ transport: 'trtype:PCIe traddr:zz' }, /traddr/],
    [{ sim: { mdts: 99 } }, 'sim.mdts'],
    [{ sim: { namespaces: [{ lbaSize: 1000 }] } }, 'sim.namespaces[0].lbaSize'],
  ] as const) {
    await rejects(() => Controller.open(opts as never), arg);
  }
  assert.throws(() => parseTransportId('nonsense'), (e: unknown) => e instanceof InvalidArgumentError);
  await stillWorks();
});

test('queue pairs: depth above CAP.MQES + 1, zero, fractional', async () => {
  await rejects(() => ctrl.createQueuePair({ depth: 65 }), 'depth');
  await rejects(() => ctrl.createQueuePair({ depth: 0 }), 'depth');
  await rejects(() => ctrl.createQueuePair({ depth: 8.5 }), 'depth');
  await stillWorks();
});

test('low-level submits: unaligned DMA buffer, partial blocks, beyond capacity, beyond MDTS', async () => {
  const qp = await ctrl.createQueuePair({ depth: 8 });
  const ns = ctrl.namespace(1);
  const buf = ctrl.allocDma(8192);
  const cb = () => assert.unreachable('nothing is sent');
  await rejects(() => qp.submitRead(ns, 0, buf.subarray(2, 514), cb), 'read buffer'); // dword alignment (4.3)
  await rejects(() => qp.submitRead(ns, 0, buf.subarray(0, 100), cb), 'length');
  await rejects(() => qp.submitWrite(ns, ns.blocks, buf.subarray(0, 512), cb), 'lba');
  await rejects(() => qp.submitRead(ns, -1, buf.subarray(0, 512), cb), 'lba');
  await rejects(() => qp.submitRead(ns, 0.5, buf.subarray(0, 512), cb), 'lba');
  const big = ctrl.allocDma(qp.maxTransfer + 512);
  await rejects(() => qp.submitRead(ns, 0, big, cb), 'length');
  assert.is(qp.outstanding, 0, 'nothing was posted');
  await rejects(() => qp.command({ opcode: 300, nsid: 1 }), 'opcode');
  await rejects(() => qp.command({ opcode: 2, nsid: -1 }), 'nsid');
  // The Promise methods reject (never throw synchronously) and post nothing.
  const rejected = (p: Promise<void>) => p.then(() => assert.unreachable('sent'), (e: unknown) => e);
  assert.instance(await rejected(qp.read(ns, 0, buf.subarray(0, 100))), InvalidArgumentError);
  assert.instance(await rejected(qp.write(ns, ns.blocks, buf.subarray(0, 512))), InvalidArgumentError);
  assert.instance(await rejected(qp.writeZeroes(ns, 0, 0)), InvalidArgumentError);
  assert.instance(await rejected(qp.deallocate(ns, [])), InvalidArgumentError);
  assert.is(qp.outstanding, 0, 'nothing was posted');
  buf.free();
  big.free();
  await qp.delete();
  await stillWorks();
});

test('DMA buffers: bad sizes and alignments, use after free', async () => {
  await rejects(() => ctrl.allocDma(0), 'bytes');
  await rejects(() => ctrl.allocDma(1.5), 'bytes');
  await rejects(() => ctrl.allocDma(4096, { align: 6 }), 'align');
  const b = ctrl.allocDma(4096);
  await rejects(() => b.subarray(5000), 'start');
  b.free();
  await rejects(() => ctrl.namespace(1).read(0, b), 'buffer');
  await stillWorks();
});

test('admin: features, logs and passthrough with bad fields', async () => {
  await rejects(() => ctrl.getFeature(-1), 'fid');
  await rejects(() => ctrl.getFeature(7, { sel: 4 }), 'sel');
  await rejects(() => ctrl.setFeature(7, -1), 'cdw11');
  await rejects(() => ctrl.getLogPage(2, 512, { offset: 3 }), 'offset');
  await rejects(() => ctrl.errorLog(0), 'entries');
  await rejects(() => ctrl.abort(70000, 1), 'sqid');
  await rejects(() => ctrl.adminCommand({ opcode: 6, cdw10: 2 ** 32 }), 'cdw10');
  await stillWorks();
});

test.run();
