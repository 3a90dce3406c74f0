// End to end on the simulated controller: verified writes and reads over many
// sizes and offsets, RAM- and file-backed namespaces, 512- and 4096-byte
// blocks; requests split by MDTS; zero-copy DMA buffers; the callback path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { Controller, InvalidArgumentError, NvmeStatusError } from '../host/index.js';
import { NvmOpc } from '../assembly/nvme/cmd.js';
import { Sct, MediaSc } from '../assembly/nvme/status.js';
import { xorshift, pattern } from './helpers/rand.js';

const MDTS = 3; // 32 KiB per command: larger requests must be split
const configs = [
  { lbaSize: 512 as const, backing: 'ram' as const },
  { lbaSize: 4096 as const, backing: 'ram' as const },
  { lbaSize: 512 as const, backing: 'file' as const },
  { lbaSize: 4096 as const, backing: 'file' as const },
];

for (const cfg of configs) {
  test(`integrity: ${cfg.backing} namespace, ${cfg.lbaSize}-byte blocks, sizes 1 block .. 3 x MDTS at random offsets`, async () => {
    const path = `/tmp/nvme-wasm-test-ns-${process.pid}-${cfg.lbaSize}.img`;
    fs.rmSync(path, { force: true });
    const blocks = (8 * 1024 * 1024) / cfg.lbaSize;
    const ns0 = { lbaSize: cfg.lbaSize, blocks, backing: cfg.backing, ...(cfg.backing === 'file' ? { path } : {}) };
    const ctrl = await Controller.open({ sim: { mdts: MDTS, namespaces: [ns0] } });
    const written: Array<[number, Buffer]> = [];
    try {
      const ns = ctrl.namespace(1);
      assert.is(ns.blockSize, cfg.lbaSize);
      assert.is(ns.blocks, blocks);
      assert.is(ctrl.maxTransfer, 2 ** MDTS * 4096);
      const rand = xorshift(cfg.lbaSize + (cfg.backing === 'file' ? 1 : 0));
      const maxBlocks = (3 * ctrl.maxTransfer) / cfg.lbaSize;
      // Disjoint stripes so later writes do not overwrite earlier ones.
      const stripe = Math.floor(blocks / 64);
      for (let i = 0; i < 64; i++) {
        const n = 1 + rand(Math.min(maxBlocks, stripe));
        const lba = i * stripe + rand(stripe - n + 1);
        const data = pattern(lba, n, cfg.lbaSize, i);
        await ns.write(lba, data);
        written.push([lba, data]);
        const back = await ns.readBlocks(lba, n);
        assert.ok(back.equals(data), `round ${i}: ${n} blocks at ${lba} read back intact`);
      }
      // Concurrent reads of everything, then check again.
      const all = await Promise.all(written.map(([lba, d]) => ns.readBlocks(lba, d.length / cfg.lbaSize)));
      all.forEach((b, i) => assert.ok(b.equals(written[i]![1]), `concurrent read ${i}`));
    } finally {
      await ctrl.close();
    }
    if (cfg.backing === 'file') {
      // A new controller on the same file sees the data: it survived the restart.
      const again = await Controller.open({ sim: { mdts: MDTS, namespaces: [ns0] } });
      try {
        const ns = again.namespace(1);
        for (const [lba, d] of written) assert.ok((await ns.readBlocks(lba, d.length / cfg.lbaSize)).equals(d), `persisted at ${lba}`);
      } finally {
        await again.close();
        fs.rmSync(path, { force: true });
      }
    }
  });
}

test('MDTS split: a 200 KiB write becomes ceil(200 / 32) commands, and reads back', async () => {
  const ctrl = await Controller.open({ sim: { mdts: MDTS } });
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 16 });
    const data = pattern(100, 400, 512, 7);
    await ns.write(100, data, { qpair: qp });
    assert.is(qp.stats.submitted, Math.ceil(data.length / ctrl.maxTransfer));
    assert.ok((await ns.readBlocks(100, 400, { qpair: qp })).equals(data));
    await qp.delete();
  } finally {
    await ctrl.close();
  }
});

test('zero copy: I/O on DMA buffers from the allocator, at an offset inside one', async () => {
  const ctrl = await Controller.open({ sim: { mdts: 5 } });
  try {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocDma(64 * 1024);
    buf.bytes.set(pattern(0, 128, 512, 1));
    await ns.write(0, buf);
    const rd = ctrl.allocDma(64 * 1024 + 4096, { zero: true });
    const view = rd.subarray(4096);
    await ns.read(0, view);
    assert.ok(Buffer.from(view.bytes).equals(Buffer.from(buf.bytes)));
    assert.ok(rd.bytes.subarray(0, 4096).every((x) => x === 0), 'nothing written before the view');
    buf.free();
    rd.free();
  } finally {
    await ctrl.close();
  }
});

test('callback path: QD 32 busy-poll loop with submitRead/submitWrite, one SQ doorbell per batch', async () => {
  const ctrl = await Controller.open({ sim: {} });
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 64 });
    const bufs = Array.from({ length: 32 }, () => ctrl.allocDma(4096));
    // Write 32 blocks of 4 KiB, batched: one doorbell for the 32.
    let done = 0;
    let errors = 0;
    const cb = (err: Error | null) => {
      if (err) errors++;
      done++;
    };
    bufs.forEach((b, i) => {
      b.bytes.set(pattern(i * 8, 8, 512, 3));
      assert.ok(qp.submitWrite(ns, i * 8, b, cb));
    });
    const before = qp.stats.sqDoorbells;
    while (done < 32) qp.processCompletions();
    assert.is(qp.stats.sqDoorbells - before, 1, 'one SQ tail doorbell for a batch of 32');
    assert.is(errors, 0);
    // Read them back into zeroed buffers.
    for (const b of bufs) b.bytes.fill(0);
    done = 0;
    bufs.forEach((b, i) => assert.ok(qp.submitRead(ns, i * 8, b, cb)));
    const cqBefore = qp.stats.cqDoorbells;
    let reapingPolls = 0;
    while (done < 32) if (qp.processCompletions(8) > 0) reapingPolls++;
    bufs.forEach((b, i) => assert.ok(Buffer.from(b.bytes).equals(pattern(i * 8, 8, 512, 3)), `block ${i}`));
    // One CQ head doorbell per poll that reaped (however many it reaped), none for empty polls.
    assert.is(qp.stats.cqDoorbells - cqBefore, reapingPolls, 'CQ doorbells: one per reaping poll');
    // A full queue pair says so instead of throwing.
    let accepted = 0;
    const many = Array.from({ length: 70 }, () => ctrl.allocDma(512));
    for (const b of many) if (qp.submitRead(ns, 0, b, cb)) accepted++;
    assert.is(accepted, qp.slots, 'submissions stop at the slot count');
    done = 0;
    while (done < accepted) qp.processCompletions();
    await qp.delete();
  } finally {
    await ctrl.close();
  }
});

test('Promise path leaves the event loop free: timers fire during a long I/O stream', async () => {
  const ctrl = await Controller.open({ sim: { latency: { mode: 'fixed', us: 50 } } });
  try {
    const ns = ctrl.namespace(1);
    // Reads back to back until a 1 ms interval has run 10 times while they went on (bounded: 10 s).
    // No throughput is asserted (a loaded machine), only that timers and I/O interleave.
    // One read first, before the interval: on a loaded machine (CI, 2026-12-02) the first read of a
    // fresh simulator took longer than the 10 ticks, which then all saw 0 reads.
    await ns.readBlocks(0, 1);
    let n = 0;
    const readsAtTick: number[] = [];
    const timer = setInterval(() => readsAtTick.push(n), 1);
    const t0 = performance.now();
    while (readsAtTick.length < 10 && performance.now() - t0 < 10_000) {
      await ns.readBlocks(n % 1000, 1);
      n++;
    }
    clearInterval(timer);
    assert.ok(readsAtTick.length >= 10, `the 1 ms interval ran ${readsAtTick.length} times in ${n} reads over ${(performance.now() - t0).toFixed(0)} ms (0 if the poller starved the event loop)`);
    assert.ok(readsAtTick[readsAtTick.length - 1]! > readsAtTick[0]!, `reads went on between the ticks (${readsAtTick.join(',')})`);
  } finally {
    await ctrl.close();
  }
});

test('flush, write zeroes (with and without deallocate), deallocate, compare', async () => {
  const ctrl = await Controller.open({ sim: {} });
  try {
    const ns = ctrl.namespace(1);
    const data = pattern(10, 16, 512, 9);
    await ns.write(10, data);
    await ns.flush();
    assert.ok(await ns.compare(10, data), 'compare equal');
    const other = Buffer.from(data);
    other[700] ^= 1;
    assert.not.ok(await ns.compare(10, other), 'compare differs: false, not an exception');
    await ns.writeZeroes(12, 4);
    const z = await ns.readBlocks(10, 16);
    assert.ok(z.subarray(2 * 512, 6 * 512).every((x) => x === 0), 'zeroed');
    assert.ok(z.subarray(0, 2 * 512).equals(data.subarray(0, 2 * 512)), 'neighbours intact');
    await ns.writeZeroes(20, 2, { deallocate: true });
    await ns.deallocate([{ lba: 10, blocks: 2 }, { lba: 24, blocks: 2 }]);
    const d = await ns.readBlocks(10, 16);
    assert.ok(d.subarray(0, 1024).every((x) => x === 0), 'deallocated blocks read as zeroes (DLFEAT)');
    assert.ok(d.subarray(6 * 512, 10 * 512).equals(data.subarray(6 * 512, 10 * 512)), 'others intact');
  } finally {
    await ctrl.close();
  }
});

test('readMany / writeMany: batches larger than the free slots, verified; bad input rejects before anything is posted; an error rejects once every command ended', async () => {
  const ctrl = await Controller.open({ sim: {} });
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 4 }); // 3 slots: a batch of 10 goes in as slots free up
    const lbas = Array.from({ length: 10 }, (_, i) => i * 16);
    const out = lbas.map((lba, i) => {
      const b = ctrl.allocDma(2048);
      b.bytes.set(pattern(lba, 4, 512, i));
      return b;
    });
    await qp.writeMany(ns, lbas, out);
    const back = lbas.map(() => ctrl.allocDma(2048));
    assert.is(await qp.readMany(ns, lbas, back), undefined);
    back.forEach((b, i) => assert.ok(Buffer.from(b.bytes).equals(Buffer.from(out[i]!.bytes)), `read ${i} intact`));
    // Alongside single commands and the callback path, on the same queue pair.
    const single = ctrl.allocDma(2048);
    let cbDone = false;
    assert.ok(qp.submitRead(ns, lbas[3]!, single, (err) => (cbDone = err === null)));
    await Promise.all([qp.readMany(ns, lbas.slice(0, 5), back.slice(0, 5)), ns.read(lbas[9]!, back[9]!, { qpair: qp })]);
    assert.ok(cbDone, 'the callback-path read completed meanwhile');
    assert.ok(Buffer.from(single.bytes).equals(Buffer.from(out[3]!.bytes)));
    assert.is(await qp.readMany(ns, [], []), undefined, 'an empty batch resolves');

    const bad = await qp.readMany(ns, [0, ns.blocks], back.slice(0, 2)).catch((e: unknown) => e);
    assert.instance(bad, InvalidArgumentError, 'a request beyond the namespace');
    const short = await qp.readMany(ns, [0], back.slice(0, 2)).catch((e: unknown) => e);
    assert.instance(short, InvalidArgumentError, 'as many block addresses as buffers');
    assert.is(qp.outstanding, 0, 'nothing was posted');

    ctrl.transport.sim!.injectFault({ kind: 'status', qid: qp.qid, opcode: NvmOpc.Read, count: 1, status: { sct: Sct.MediaError, sc: MediaSc.UnrecoveredReadError } });
    const failed = await qp.readMany(ns, lbas, back).catch((e: unknown) => e);
    assert.instance(failed, NvmeStatusError);
    assert.is(qp.outstanding, 0, 'rejected only once every command had ended');
    await qp.readMany(ns, lbas, back); // and the queue pair goes on
    for (const b of [...out, ...back, single]) b.free();
    await qp.delete();
  } finally {
    await ctrl.close();
  }
});

test.run();
