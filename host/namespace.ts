// A namespace: its geometry, argument checks, and the Promise-path I/O
// methods, which validate and split (like SPDK's nvme_ns_cmd.c): requests
// larger than one command may carry are split by the transfer limit (MDTS)
// and the 16-bit block count, and each piece is one command of the queue
// pair (host/io-qpair.ts builds and posts it).
import { RW_MAX_BLOCKS, DSM_MAX_RANGES } from '../assembly/nvme/cmd.js';
import { ONCS_WRITE_ZEROES, ONCS_DSM, ONCS_COMPARE } from '../assembly/nvme/identify.js';
import { Sct, MediaSc } from '../assembly/nvme/status.js';
import type { IoQueuePair, IoNamespace } from './io-qpair.js';
import { DmaBuffer } from './dma.js';
import type { NamespaceData } from './identify.js';
import { InvalidArgumentError, ControllerError, NvmeStatusError, UnsupportedNamespaceError } from './errors.js';
import { checkLba, checkInt } from './validate.js';

/** What a namespace needs of its controller. */
export interface NamespaceHost {
  /** The queue pair used when a call names none. */
  defaultQueuePair(): Promise<IoQueuePair>;
  /** Identify Controller's ONCS (optional NVM commands supported). */
  oncs(): number;
}

/** Options of one Namespace I/O call (read, write, compare, writeZeroes, deallocate, flush). */
export interface IoOptions {
  /** Queue pair to use; default: the controller's default queue pair. */
  qpair?: IoQueuePair;
  /** Timeout of each command in milliseconds (0 = none); default: the queue pair's (ControllerOptions.commandTimeoutMs). */
  timeoutMs?: number;
  /** Force Unit Access (reads and writes: the data goes to, or comes from, non-volatile media). Default false. */
  fua?: boolean;
}

/** The queue pair's Promise methods a transfer maps to. */
type RwOp = 'read' | 'write' | 'compare';

/** A range of logical blocks (Dataset Management, deallocate). */
export interface BlockRange {
  /** First logical block address. */
  lba: number | bigint;
  /** Length in logical blocks (of the namespace's blockSize bytes each), at least 1. */
  blocks: number;
}

export class Namespace implements IoNamespace {
  /** Logical block size in bytes. */
  blockSize = 0;
  /** Namespace size in logical blocks. */
  blocks = 0;
  data!: NamespaceData;

  constructor(
    private readonly host: NamespaceHost,
    readonly id: number,
    data: NamespaceData,
  ) {
    this.update(data);
  }

  /**
   * Why I/O on this namespace is refused (UnsupportedNamespaceError), or
   * undefined when it is usable: its format carries metadata (this driver
   * sends no metadata pointer and no extended-LBA layout) or has no data
   * size it can use. Such a namespace is still listed, with its format, and
   * admin commands on it work.
   */
  unsupported: string | undefined;

  update(data: NamespaceData): void {
    const idx = data.formattedLbaIndex;
    const fmt = data.lbaFormats[idx];
    this.data = data;
    this.blocks = Number(data.size);
    if (!fmt || fmt.dataSize < 512) {
      this.blockSize = fmt?.dataSize ?? 0;
      this.unsupported = `LBA format ${idx} ${fmt ? `has ${fmt.dataSize}-byte blocks (at least 512 needed)` : 'is not described'}`;
    } else {
      this.blockSize = fmt.dataSize;
      this.unsupported = fmt.metadataSize !== 0
        ? `LBA format ${idx}: ${fmt.metadataSize} bytes of metadata per ${fmt.dataSize}-byte block, ${data.extendedLba ? 'extended LBA (interleaved with the data)' : 'in a separate buffer (MPTR)'}; metadata transfers are not supported`
        : undefined;
    }
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
    if (this.unsupported !== undefined) throw new UnsupportedNamespaceError(this.id, this.unsupported);
    if (!Number.isInteger(lba) || lba < 0) throw new InvalidArgumentError('lba', 'a non-negative integer', lba);
    if (bytes <= 0 || bytes % this.blockSize !== 0) throw new InvalidArgumentError('length', `a non-zero multiple of the ${this.blockSize}-byte block size`, bytes);
    if (bytes > maxTransfer) throw new InvalidArgumentError('length', `at most ${maxTransfer} bytes per command (use the Namespace methods to split)`, bytes);
    const blocks = bytes / this.blockSize;
    if (blocks > RW_MAX_BLOCKS) throw new InvalidArgumentError('length', `at most ${RW_MAX_BLOCKS} blocks per command (use the Namespace methods to split)`, bytes);
    if (lba + blocks > this.blocks) throw new InvalidArgumentError('lba', `a range inside the namespace (${this.blocks} blocks)`, `${lba}+${blocks}`);
    return blocks;
  }

  private checkRange(lbaIn: number | bigint, blocks: number): number {
    if (this.unsupported !== undefined) throw new UnsupportedNamespaceError(this.id, this.unsupported);
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
    return opts.qpair ? Promise.resolve(opts.qpair) : this.host.defaultQueuePair();
  }

  /** Read `data.length` bytes from block `lba` into `data`. */
  read(lba: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions = {}): Promise<void> {
    return this.transfer('read', lba, data, opts);
  }

  /** Write `data` (a whole number of blocks) at block `lba`. */
  write(lba: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions = {}): Promise<void> {
    return this.transfer('write', lba, data, opts);
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
      await this.transfer('compare', lba, data, opts);
      return true;
    } catch (e) {
      if (e instanceof NvmeStatusError && e.sct === Sct.MediaError && e.sc === MediaSc.CompareFailure) return false;
      throw e;
    }
  }

  private transfer(op: RwOp, lbaIn: number | bigint, data: Uint8Array | DmaBuffer, opts: IoOptions): Promise<void> {
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
    const qp = opts.qpair;
    // One command on a given queue pair (the common case): no async
    // scaffolding, the command's own promise.
    if (qp && blocks <= this.maxBlocksPerCommand(qp)) return qp[op](this, lba, data, opts);
    return this.transferSplit(op, lba, blocks, data, opts);
  }

  private maxBlocksPerCommand(qp: IoQueuePair): number {
    return Math.min(Math.floor(qp.maxTransfer / this.blockSize), RW_MAX_BLOCKS);
  }

  private async transferSplit(op: RwOp, lba: number, blocks: number, data: Uint8Array | DmaBuffer, opts: IoOptions): Promise<void> {
    const qp = await this.qp(opts);
    const maxBlocks = this.maxBlocksPerCommand(qp);
    if (blocks <= maxBlocks) return qp[op](this, lba, data, opts);
    const parts: Promise<void>[] = [];
    for (let done = 0; done < blocks; done += maxBlocks) {
      const n = Math.min(maxBlocks, blocks - done);
      const piece = data.subarray(done * this.blockSize, (done + n) * this.blockSize);
      parts.push(qp[op](this, lba + done, piece, opts));
    }
    await settleAll(parts);
  }

  /** Write Zeroes (6.17); `deallocate` lets the controller deallocate instead (DEAC). */
  async writeZeroes(lbaIn: number | bigint, blocks: number, opts: IoOptions & { deallocate?: boolean } = {}): Promise<void> {
    this.requireOncs(ONCS_WRITE_ZEROES, 'Write Zeroes');
    checkInt('blocks', blocks, 1, this.blocks);
    const lba = this.checkRange(lbaIn, blocks);
    const qp = await this.qp(opts);
    const parts: Promise<void>[] = [];
    for (let done = 0; done < blocks; done += RW_MAX_BLOCKS) {
      parts.push(qp.writeZeroes(this, lba + done, Math.min(RW_MAX_BLOCKS, blocks - done), opts));
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
    const parts: Promise<void>[] = [];
    for (let i = 0; i < checked.length; i += DSM_MAX_RANGES) parts.push(qp.deallocate(this, checked.slice(i, i + DSM_MAX_RANGES), opts));
    await settleAll(parts);
  }

  /** Flush (6.8): make completed writes durable. */
  async flush(opts: IoOptions = {}): Promise<void> {
    const qp = await this.qp(opts);
    await qp.flush(this, opts);
  }

  private requireOncs(bit: number, name: string): void {
    if (!(this.host.oncs() & bit)) throw new ControllerError(`the controller does not support ${name} (ONCS)`, 'unsupported');
  }
}

/** Wait for every part (none left writing a caller's buffer), then throw the first error. */
async function settleAll(parts: Promise<void>[]): Promise<void> {
  const r = await Promise.allSettled(parts);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
}
