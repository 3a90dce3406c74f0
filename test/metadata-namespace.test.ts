// Namespaces the driver does not transfer data for (issue 15.6) are refused
// one by one, never the whole controller: a controller with metadata
// formats (8 bytes per block, separate or extended) beside a plain
// namespace opens, lists all three with their format, runs admin commands
// and plain I/O, and refuses I/O on the other two with a typed error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Controller, UnsupportedNamespaceError, NvmeStatusError, GenericSc, NvmOpc } from '../host/index.js';
import { cli } from './helpers/cli.js';

const SIM = {
  namespaces: [
    { lbaSize: 512 as const, blocks: 8192 },
    { lbaSize: 512 as const, blocks: 8192, metadataSize: 8 as const, extendedLba: true },
    { lbaSize: 4096 as const, blocks: 1024, metadataSize: 8 as const },
  ],
};

test('Controller.open lists every namespace; only the plain one does I/O, the others refuse it typed', async () => {
  const ctrl = await Controller.open({ sim: SIM });
  try {
    assert.equal([...ctrl.namespaces.keys()], [1, 2, 3]);
    const [plain, ext, sep] = [ctrl.namespace(1), ctrl.namespace(2), ctrl.namespace(3)];
    assert.is(plain.unsupported, undefined);
    assert.equal([ext.data.lbaFormats[ext.data.formattedLbaIndex], ext.data.extendedLba], [{ dataSize: 512, lbads: 9, metadataSize: 8, relativePerformance: 0 }, true]);
    assert.equal([sep.data.lbaFormats[sep.data.formattedLbaIndex]!.metadataSize, sep.data.extendedLba], [8, false]);
    assert.match(ext.unsupported!, 'extended LBA');
    assert.match(sep.unsupported!, 'separate buffer (MPTR)');

    const data = Buffer.alloc(1024, 0x5a);
    await plain.write(10, data);
    assert.equal(await plain.readBlocks(10, 2), data);

    for (const ns of [ext, sep]) {
      const e = await ns.readBlocks(0, 1).then(() => undefined, (x: unknown) => x);
      assert.instance(e, UnsupportedNamespaceError);
      assert.is((e as UnsupportedNamespaceError).nsid, ns.id);
      assert.match((e as Error).message, `namespace ${ns.id} is listed but not usable for I/O by nvme-wasm: LBA format`);
      assert.instance(await ns.write(0, Buffer.alloc(ns.blockSize)).then(() => undefined, (x: unknown) => x), UnsupportedNamespaceError);
      assert.instance(await ns.writeZeroes(0, 1).then(() => undefined, (x: unknown) => x), UnsupportedNamespaceError);
      // The queue pair's own methods check too: the Promise path rejects, the callback path throws before posting.
      const qp = await ctrl.defaultQueuePair();
      const buf = ctrl.allocDma(ns.blockSize);
      assert.instance(await qp.read(ns, 0, buf).then(() => undefined, (x: unknown) => x), UnsupportedNamespaceError);
      assert.throws(() => qp.submitRead(ns, 0, buf, () => {}), (x: unknown) => x instanceof UnsupportedNamespaceError);
      buf.free();
    }
    // Admin commands on them work (Identify again), and the plain one still does I/O.
    await ctrl.rescanNamespaces();
    assert.equal(await plain.readBlocks(10, 2), data);
    // A raw Read sent anyway is refused by the (simulated) device itself.
    const qp = await ctrl.defaultQueuePair();
    const raw = await qp.command({ opcode: NvmOpc.Read, nsid: 2, cdw10: 0, cdw11: 0, cdw12: 0 }).then(() => undefined, (x: unknown) => x);
    assert.instance(raw, NvmeStatusError);
    assert.is((raw as NvmeStatusError).sc, GenericSc.InvalidNamespaceOrFormat);
  } finally {
    await ctrl.close();
  }
});

test('the tools open such a controller: identify and list show every namespace', async () => {
  const cfg = JSON.stringify(SIM);
  const id = await cli('identify', '--sim-config', cfg);
  assert.is(id.code, 0, id.err);
  for (const n of [1, 2, 3]) assert.match(id.out, new RegExp(`Namespace ID:\\s*${n}\\b`));
  const list = await cli('list', '--sim-config', cfg);
  assert.is(list.code, 0, list.err);
  const demo = await cli('demo', '--rounds', '3');
  assert.is(demo.code, 0, demo.err);
});

test.run();
