// A namespace: its geometry and the Promise-path I/O methods. Requests larger
// than one command may carry are split by the transfer limit (MDTS) and the
// 16-bit block count; Node Buffers go through bounce buffers, DMA buffers
// are used in place.
import {
  NvmOpc, RW_FUA_SHIFT, RW_DEAC_SHIFT, RW_MAX_BLOCKS, DSM_AD_SHIFT, DSM_MAX_RANGES, DSM_RANGE_SIZE,
  DSM_RANGE_NLB, DSM_RANGE_SLBA,
} from '../assembly/nvme/cmd.js';
import { ONCS_WRITE_ZEROES, ONCS_DSM, ONCS_COMPARE } from '../assembly/nvme/identify.js';
import { Sct, MediaSc } from '../assembly/nvme/status.js';
import type { Controller } from './controller.js';
import type { IoQueuePair } from './io-qpair.js';
import { DmaBuffer } from './dma.js';
import type { NamespaceData } from './identify.js';
import { InvalidArgumentError, ControllerError, NvmeStatusError } from './errors.js';
import { checkLba, checkInt } from './validate.js';

export interface IoOptions {
  /** Queue pair to use; default: the controller's default queue pair. */
  qpair?: IoQueuePair;
  /** Per-command timeout in ms; default: the queue pair's. */
  timeoutMs?: number;
  /** Force Unit Access (writes and reads). */
  fua?: boolean;
}

export interface BlockRange {
  lba: number | bigint;
  blocks: number;
}

export class Namespace {
  /** Logical block size in bytes. */
  blockSize = 0;
  /** Namespace size in logical blocks. */
  blocks = 0;
  data!: NamespaceData;

  constructor(
    private readonly ctrl: Controller,
    readonly id: number,
    data: NamespaceData,
  ) {
    this.update(data);
  }

  update(data: NamespaceData): void {
    const fmt = data.lbaFormats[data.formattedLbaIndex];
    if (!fmt || fmt.dataSize < 512) throw new ControllerError(`namespace ${this.id}: no usable LBA format`, 'unsupported');
    if (fmt.metadataSize !== 0) throw new ControllerError(`namespace ${this.id}: LBA formats with metadata are not supported`, 'unsupported');
    this.data = data;
    this.blockSize = fmt.dataSize;
    this.blocks = Number(data.size);
  }

  get capacityBytes(): number {
    return this.blocks * this.blockSize;
  }

  /**
   * Validate one command's worth of I/O: `lba` a whole block address,
   * `bytes` a non-zero multiple of the block size within `maxTransfer`, the
   * range inside the namespace. Returns the block count.
   */
  checkIo(lba: number, bytes: number, maxTransfer: number): number {
    if (!Number.isInteger(lba) || lba < 0) throw new InvalidArgumentError('lba', 'a non-negative integer', lba);
    if (bytes <= 0 || bytes % this.blockSize !== 0) throw new InvalidArgumentError('length', `a non-zero multiple of the ${this.blockSize}-byte block size`, bytes);
    if (bytes > maxTransfer) throw new InvalidArgumentError('length', `at most ${maxTransfer} bytes per command (use the Namespace methods to split)`, bytes);
    const blocks = bytes / this.blockSize;
    if (lba + blocks > this.blocks) throw new InvalidArgumentError('lba', `a range inside the namespace (${this.blocks} blocks)`, `${lba}+${blocks}`);
    return blocks;
  }

  private checkRange(lbaIn: number | bigint, blocks: number): number {
    const lba = checkLba('lba', lbaIn);
    if (lba >= this.blocks) throw new InvalidArgumentError('lba', `a block address below ${this.blocks}`, lbaIn);
    if (lba + blocks > this.blocks) throw new InvalidArgumentError('blocks', `at most ${this.blocks - lba} blocks from lba ${lba}`, blocks);
    return lba;
  }

  private dataLength(data: unknown): number {
    if (data instanceof DmaBuffer) {
      if (data.isFreed) throw new InvalidArgumentError('buffer', 'a DMA buffer that has not been freed');
      return data.length;
    }
    if (data instanceof Uint8Array) return data.length;
    throw new InvalidArgumentError('buffer', 'a Uint8Array, Buffer or DmaBuffer', data);
  }

  private qp(opts: IoOptions): Promise<IoQueuePair> {
    return opts.qpair ? Promise.resolve(opts.qpair) : this.ctrl.defaultQueuePair();
  }

  /** Read `data.length` bytes from block `lba` into `data`. */
  read(lba: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions = {}): Promise<void> {
    return this.transfer(NvmOpc.Read, lba, data, opts);
  }

  /** Write `data` (a whole number of blocks) at block `lba`. */
  write(lba: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions = {}): Promise<void> {
    return this.transfer(NvmOpc.Write, lba, data, opts);
  }

  /** Read `blocks` blocks into a new Buffer. */
  async readBlocks(lba: number | bigint, blocks: number, opts: IoOptions = {}): Promise<Buffer> {
    checkInt('blocks', blocks, 1, Math.floor(2 ** 31 / this.blockSize));
    const out = Buffer.alloc(blocks * this.blockSize);
    await this.read(lba, out, opts);
    return out;
  }

  /**
   * Compare (6.6) `data` with the blocks at `lba`: true if equal, false on
   * Compare Failure; other errors reject.
   */
  async compare(lba: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions = {}): Promise<boolean> {
    this.requireOncs(ONCS_COMPARE, 'Compare');
    try {
      await this.transfer(NvmOpc.Compare, lba, data, opts);
      return true;
    } catch (e) {
      if (e instanceof NvmeStatusError && e.sct === Sct.MediaError && e.sc === MediaSc.CompareFailure) return false;
      throw e;
    }
  }

  private transfer(opc: number, lbaIn: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions): Promise<void> {
    let lba: number;
    let blocks: number;
    try {
      const len = this.dataLength(data);
      if (len === 0 || len % this.blockSize !== 0) throw new InvalidArgumentError('buffer length', `a non-zero multiple of the ${this.blockSize}-byte block size`, len);
      blocks = len / this.blockSize;
      lba = this.checkRange(lbaIn, blocks);
    } catch (e) {
      return Promise.reject(e);
    }
    const flags = opts.fua ? 1 << RW_FUA_SHIFT : 0;
    const what = opc === NvmOpc.Read ? 'read' : opc === NvmOpc.Write ? 'write' : 'compare';
    const qp = opts.qpair;
    // One command on a given queue pair (the common case): no async
    // scaffolding, the command's own promise.
    if (qp && blocks <= Math.min(Math.floor(qp.maxTransfer / this.blockSize), RW_MAX_BLOCKS)) {
      return this.chunk(qp, opc, what, lba, blocks, data, 0, flags, opts.timeoutMs) as Promise<unknown> as Promise<void>;
    }
    return this.transferSplit(opc, what, lba, blocks, data, flags, opts);
  }

  private async transferSplit(opc: number, what: string, lba: number, blocks: number, data: Uint8Array | DmaBuffer, flags: number, opts: IoOptions): Promise<void> {
    const qp = await this.qp(opts);
    const maxBlocks = Math.min(Math.floor(qp.maxTransfer / this.blockSize), RW_MAX_BLOCKS);
    if (blocks <= maxBlocks) {
      await this.chunk(qp, opc, what, lba, blocks, data, 0, flags, opts.timeoutMs);
      return;
    }
    const parts: Promise<number>[] = [];
    for (let done = 0; done < blocks; done += maxBlocks) {
      const n = Math.min(maxBlocks, blocks - done);
      parts.push(this.chunk(qp, opc, what, lba + done, n, data, done * this.blockSize, flags, opts.timeoutMs));
    }
    await settleAll(parts);
  }

  private chunk(qp: IoQueuePair, opc: number, what: string, lba: number, blocks: number, data: Uint8Array | DmaBuffer, off: number, flags: number, timeoutMs: number | undefined): Promise<number> {
    const len = blocks * this.blockSize;
    const core = this.ctrl.core;
    if (data instanceof DmaBuffer) {
      const at = data.regionOffset + off;
      return qp.run(opc, what, () => core.submitRw(qp.desc, opc, this.id, lba, blocks, at, len, flags), undefined, { timeoutMs });
    }
    const bounce = this.ctrl.region.allocDma(len);
    if (opc !== NvmOpc.Read) bounce.bytes.set(data.subarray(off, off + len));
    return qp.run(opc, what, () => core.submitRw(qp.desc, opc, this.id, lba, blocks, bounce.regionOffset, len, flags), (err) => {
      if (!err && opc === NvmOpc.Read) data.set(bounce.bytes, off);
      bounce.free();
    }, { timeoutMs });
  }

  /** Write Zeroes (6.17); `deallocate` lets the controller deallocate instead (DEAC). */
  async writeZeroes(lbaIn: number | bigint, blocks: number, opts: IoOptions & { deallocate?: boolean } = {}): Promise<void> {
    this.requireOncs(ONCS_WRITE_ZEROES, 'Write Zeroes');
    checkInt('blocks', blocks, 1, this.blocks);
    const lba = this.checkRange(lbaIn, blocks);
    const qp = await this.qp(opts);
    const flags = (opts.deallocate ? 1 << RW_DEAC_SHIFT : 0) | (opts.fua ? 1 << RW_FUA_SHIFT : 0);
    const parts: Promise<number>[] = [];
    for (let done = 0; done < blocks; done += RW_MAX_BLOCKS) {
      const n = Math.min(RW_MAX_BLOCKS, blocks - done);
      parts.push(qp.run(NvmOpc.WriteZeroes, 'write zeroes', () => this.ctrl.core.submitRw(qp.desc, NvmOpc.WriteZeroes, this.id, lba + done, n, 0, 0, flags), undefined, opts));
    }
    await settleAll(parts);
  }

  /** Dataset Management with the Deallocate attribute (6.7): trim the ranges. */
  async deallocate(ranges: BlockRange[] | BlockRange, opts: IoOptions = {}): Promise<void> {
    this.requireOncs(ONCS_DSM, 'Dataset Management');
    const list = Array.isArray(ranges) ? ranges : [ranges];
    if (list.length === 0) throw new InvalidArgumentError('ranges', 'at least one range');
    const checked = list.map((r, i) => {
      const blocks = checkInt(`ranges[${i}].blocks`, r?.blocks, 1, 0xffffffff);
      return { lba: this.checkRange(r.lba, blocks), blocks };
    });
    const qp = await this.qp(opts);
    const parts: Promise<number>[] = [];
    for (let i = 0; i < checked.length; i += DSM_MAX_RANGES) {
      const batch = checked.slice(i, i + DSM_MAX_RANGES);
      const buf = this.ctrl.region.allocDma(batch.length * DSM_RANGE_SIZE, { zero: true });
      const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset, buf.length);
      batch.forEach((r, j) => {
        dv.setUint32(j * DSM_RANGE_SIZE + DSM_RANGE_NLB, r.blocks, true);
        dv.setBigUint64(j * DSM_RANGE_SIZE + DSM_RANGE_SLBA, BigInt(r.lba), true);
      });
      parts.push(qp.run(NvmOpc.DatasetManagement, 'deallocate', () =>
        this.ctrl.core.submitDsm(qp.desc, this.id, batch.length, 1 << DSM_AD_SHIFT, buf.regionOffset), () => buf.free(), opts));
    }
    await settleAll(parts);
  }

  /** Flush (6.8): make completed writes durable. */
  async flush(opts: IoOptions = {}): Promise<void> {
    const qp = await this.qp(opts);
    await qp.run(NvmOpc.Flush, 'flush', () => this.ctrl.core.submitFlush(qp.desc, this.id), undefined, opts);
  }

  private requireOncs(bit: number, name: string): void {
    if (!(this.ctrl.data.oncs & bit)) throw new ControllerError(`the controller does not support ${name} (ONCS)`, 'unsupported');
  }
}

/** Wait for every part (none left writing a caller's buffer), then throw the first error. */
async function settleAll(parts: Promise<number>[]): Promise<void> {
  const r = await Promise.allSettled(parts);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
}
