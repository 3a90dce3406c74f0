// The admin queue pair (qid 0): a QueuePair plus its rings' memory and a
// helper for commands that return data.
import { QueuePair, type QueuePairInit } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import type { Controller } from './controller.js';

export class AdminQueue extends QueuePair {
  constructor(
    private readonly ctrl: Controller,
    init: QueuePairInit,
    readonly sqMem: DmaBuffer,
    readonly cqMem: DmaBuffer,
  ) {
    super(init);
  }

  /**
   * Run a command that returns `len` bytes into a zeroed DMA buffer; resolves
   * with a copy. The buffer is freed when the command completes (never
   * before: after a timeout the device may still write it).
   */
  withData(len: number, opcode: number, what: string, submit: (buf: DmaBuffer) => number): Promise<Buffer> {
    const buf = this.ctrl.region.allocDma(len, { zero: true });
    let copy: Buffer | undefined;
    return this.run(opcode, what, () => submit(buf), (err) => {
      if (!err) copy = Buffer.from(buf.bytes);
      buf.free();
    }).then(() => copy!);
  }
}
