// The first-run job: identify the controller, then verified writes and reads
// of assorted sizes at assorted offsets, with a progress line and a summary.
import { Controller } from '../controller.js';
import { VerifyError } from '../errors.js';

export async function runDemo(o: { transport?: string; rounds: number; log: (s: string) => void }): Promise<void> {
  const t0 = performance.now();
  const ctrl = await Controller.open({ transport: o.transport });
  try {
    const d = ctrl.data;
    o.log(`controller  ${ctrl.transport.description}`);
    o.log(`  model     ${d.modelNumber}`);
    o.log(`  serial    ${d.serialNumber}   firmware ${d.firmwareRevision}   NVMe ${d.version}`);
    o.log(`  limits    MDTS ${ctrl.maxTransfer} bytes, ${ctrl.maxQueuePairs} I/O queue pairs, ${ctrl.maxQueueEntries} entries per queue`);
    o.log(`  opened in ${(performance.now() - t0).toFixed(1)} ms`);
    for (const ns of ctrl.namespaces.values()) {
      o.log(`namespace ${ns.id}: ${ns.blocks} blocks of ${ns.blockSize} bytes (${(ns.capacityBytes / 2 ** 20).toFixed(0)} MiB)`);
    }
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 64 });
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const maxBlocks = Math.min(Math.floor((ctrl.maxTransfer * 3) / ns.blockSize), ns.blocks);
    let bytes = 0;
    let lastLine = performance.now();
    const t1 = performance.now();
    for (let i = 0; i < o.rounds; i++) {
      const blocks = 1 + rand(maxBlocks);
      const lba = rand(ns.blocks - blocks + 1);
      const data = Buffer.alloc(blocks * ns.blockSize);
      for (let b = 0; b < blocks; b++) data.writeUInt32LE(i, b * ns.blockSize), data.writeDoubleLE(lba + b, b * ns.blockSize + 8);
      await ns.write(lba, data, { qpair: qp });
      const back = await ns.readBlocks(lba, blocks, { qpair: qp });
      if (!back.equals(data)) throw new VerifyError(`verify failed: the ${blocks} blocks read back at lba ${lba} differ from those written`, ns.id, lba, blocks);
      bytes += data.length * 2;
      const now = performance.now();
      if (now - lastLine >= 1000 || i === o.rounds - 1) {
        lastLine = now;
        o.log(`  ${i + 1}/${o.rounds} rounds verified, ${(bytes / 2 ** 20 / ((now - t1) / 1000)).toFixed(1)} MiB/s`);
      }
    }
    o.log(`verified ${o.rounds} write/read rounds (${(bytes / 2 ** 20).toFixed(1)} MiB moved), 0 mismatches`);
  } finally {
    await ctrl.close();
  }
}
