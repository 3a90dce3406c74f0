// An I/O queue pair, with the low-overhead submission methods: validate,
// post, remember the callback. Nothing is allocated per command here; the
// doorbell rings on processCompletions() or ring().
import { NvmOpc, RW_FUA_SHIFT } from '../assembly/nvme/cmd.js';
import { QueuePair, type QueuePairInit, type IoCallback } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import type { Controller } from './controller.js';
import type { Namespace } from './namespace.js';

export class IoQueuePair extends QueuePair {
  constructor(
    private readonly ctrl: Controller,
    init: QueuePairInit,
    private readonly memoryRuns: DmaBuffer[],
  ) {
    super(init);
  }

  /**
   * Read `buf.length / ns.blockSize` blocks at `lba` into `buf` (a DMA
   * buffer: zero copy). Returns false if the queue pair is full (reap
   * completions and retry); throws InvalidArgumentError for a bad request.
   */
  submitRead(ns: Namespace, lba: number, buf: DmaBuffer, cb: IoCallback): boolean {
    const blocks = ns.checkIo(lba, buf.length, this.maxTransfer);
    return this.track(this.core.submitRw(this.desc, NvmOpc.Read, ns.id, lba, blocks, buf.regionOffset, buf.length, 0), NvmOpc.Read, cb, 'read');
  }

  /** Write `buf` at `lba`; as submitRead. `fua` forces unit access. */
  submitWrite(ns: Namespace, lba: number, buf: DmaBuffer, cb: IoCallback, fua = false): boolean {
    const blocks = ns.checkIo(lba, buf.length, this.maxTransfer);
    return this.track(this.core.submitRw(this.desc, NvmOpc.Write, ns.id, lba, blocks, buf.regionOffset, buf.length, fua ? 1 << RW_FUA_SHIFT : 0), NvmOpc.Write, cb, 'write');
  }

  /** Delete this queue pair on the controller and free its memory. */
  delete(): Promise<void> {
    return this.ctrl.deleteQueuePair(this);
  }

  /** Free the rings, descriptor and PRP lists (after deletion on the controller). */
  releaseMemory(): void {
    for (const b of this.memoryRuns) b.free();
    this.memoryRuns.length = 0;
  }
}
