// An I/O queue pair, with the low-overhead submission methods: validate,
// post, remember the callback. Nothing is allocated per command here; the
// doorbell rings on processCompletions() or ring().
import { NvmOpc, RW_FUA_SHIFT } from '../assembly/nvme/cmd.js';
import { QueuePair, type QueuePairInit, type IoCallback } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import type { Controller } from './controller.js';
import type { Namespace } from './namespace.js';
import { checkInt } from './validate.js';

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
    if (this.held()) return false;
    return this.track(this.core.submitRw(this.desc, NvmOpc.Read, ns.id, lba, blocks, buf.regionOffset, buf.length, 0), NvmOpc.Read, cb, 'read');
  }

  /** Write `buf` at `lba`; as submitRead. `fua` forces unit access. */
  submitWrite(ns: Namespace, lba: number, buf: DmaBuffer, cb: IoCallback, fua = false): boolean {
    const blocks = ns.checkIo(lba, buf.length, this.maxTransfer);
    if (this.held()) return false;
    return this.track(this.core.submitRw(this.desc, NvmOpc.Write, ns.id, lba, blocks, buf.regionOffset, buf.length, fua ? 1 << RW_FUA_SHIFT : 0), NvmOpc.Write, cb, 'write');
  }

  /**
   * Any I/O command with the given fields (like nvme-cli io-passthru):
   * `data` is copied to a DMA buffer before and back after. Resolves with
   * the completion's dword 0; rejects with NvmeStatusError.
   */
  async command(cmd: { opcode: number; nsid: number; cdw10?: number; cdw11?: number; cdw12?: number; cdw13?: number; cdw14?: number; cdw15?: number; data?: Uint8Array; timeoutMs?: number }): Promise<number> {
    const f = (k: string, v: number | undefined) => checkInt(k, v ?? 0, 0, 0xffffffff) >>> 0;
    checkInt('opcode', cmd.opcode, 0, 255);
    const nsid = f('nsid', cmd.nsid);
    const cdw = [f('cdw10', cmd.cdw10), f('cdw11', cmd.cdw11), f('cdw12', cmd.cdw12), f('cdw13', cmd.cdw13), f('cdw14', cmd.cdw14), f('cdw15', cmd.cdw15)] as const;
    const data = cmd.data;
    const what = `I/O opcode 0x${cmd.opcode.toString(16)}`;
    if (!data || data.length === 0) {
      return this.run(cmd.opcode, what, () => this.core.submitRaw(this.desc, cmd.opcode, nsid, 0, 0, ...cdw), undefined, { timeoutMs: cmd.timeoutMs });
    }
    const buf = this.ctrl.region.allocDma(data.length);
    buf.bytes.set(data);
    return this.run(cmd.opcode, what, () => this.core.submitRaw(this.desc, cmd.opcode, nsid, buf.regionOffset, data.length, ...cdw), (err) => {
      if (!err) data.set(buf.bytes);
      buf.free();
    }, { timeoutMs: cmd.timeoutMs });
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
