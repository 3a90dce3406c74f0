// An I/O queue pair: every NVM command it can carry, built here and nowhere
// else (like SPDK's nvme_ns_cmd.c builders over a qpair). Two ways in:
// - callback: submitRead/submitWrite validate, post and remember the
//   callback; nothing is allocated per command, the doorbell rings on
//   processCompletions() or ring();
// - Promise: read/write/compare/flush/writeZeroes/deallocate/command, one
//   command each (Namespace splits larger requests into these). A Node
//   Buffer goes through a bounce buffer, freed when the command is done
//   with it (never while the device may still write it); a DmaBuffer is
//   used in place. Over NVMe/TCP a read into a Node Buffer lands in it
//   directly (readInPlace: the transport copies the C2HData there).
import {
  NvmOpc, RW_FUA_SHIFT, RW_DEAC_SHIFT, RW_MAX_BLOCKS, DSM_AD_SHIFT, DSM_MAX_RANGES, DSM_RANGE_SIZE, DSM_RANGE_NLB, DSM_RANGE_SLBA,
} from '../assembly/nvme/cmd.js';
import { QueuePair, type QueuePairInit, type IoCallback } from './qpair.js';
import { DmaBuffer } from './dma.js';
import { passthrough, type PassthroughCommand } from './passthrough.js';
import { InvalidArgumentError, ControllerError } from './errors.js';
import { checkInt } from './validate.js';
import type { CompletionMode } from './interrupts.js';

/** What a command needs of its namespace (Namespace is one). */
export interface IoNamespace {
  readonly id: number;
  readonly blockSize: number;
  /** Validate one command's `bytes` at `lba`; returns the block count. */
  checkIo(lba: number, bytes: number, maxTransfer: number): number;
}

/** What an I/O queue pair needs of its controller. */
export interface IoQueuePairHost {
  allocDma(bytes: number, opts?: { zero?: boolean }): DmaBuffer;
  deleteQueuePair(qp: IoQueuePair): Promise<void>;
}

/** Options of one Promise-path command. */
export interface CommandOptions {
  /** Timeout in milliseconds (0 = none); default: the queue pair's. */
  timeoutMs?: number;
  /** Force Unit Access (reads and writes). Default false. */
  fua?: boolean;
}

export class IoQueuePair extends QueuePair {
  /** The CQ's interrupt vector (IEN = 1), -1 when it is polled. */
  readonly interruptVector: number;

  constructor(
    private readonly host: IoQueuePairHost,
    init: QueuePairInit,
    private readonly memoryRuns: DmaBuffer[],
    /** How its Promise path learns of completions, as it came out ('adaptive' without a vector is 'poll'). */
    readonly completionMode: CompletionMode = 'poll',
  ) {
    super(init);
    this.interruptVector = init.sleep?.source.vector ?? -1;
  }

  // ---- callback path ----

  /**
   * Read `buf.length / ns.blockSize` blocks at `lba` into `buf` (a DMA
   * buffer: zero copy). Returns false if the queue pair is full (reap
   * completions and retry); throws InvalidArgumentError for a bad request.
   */
  submitRead(ns: IoNamespace, lba: number, buf: DmaBuffer, cb: IoCallback): boolean {
    const blocks = ns.checkIo(lba, buf.length, this.maxTransfer);
    if (this.held()) return false;
    return this.track(this.core.submitRw(this.desc, NvmOpc.Read, ns.id, lba, blocks, buf.regionOffset, buf.length, 0), NvmOpc.Read, cb, 'read');
  }

  /** Write `buf` at `lba`; as submitRead. `fua` forces unit access. */
  submitWrite(ns: IoNamespace, lba: number, buf: DmaBuffer, cb: IoCallback, fua = false): boolean {
    const blocks = ns.checkIo(lba, buf.length, this.maxTransfer);
    if (this.held()) return false;
    return this.track(this.core.submitRw(this.desc, NvmOpc.Write, ns.id, lba, blocks, buf.regionOffset, buf.length, fua ? 1 << RW_FUA_SHIFT : 0), NvmOpc.Write, cb, 'write');
  }

  // ---- Promise path: one command each ----

  /** Read (6.9) `data.length` bytes at block `lba` into `data`. */
  read(ns: IoNamespace, lba: number, data: Uint8Array | DmaBuffer, opts: CommandOptions = {}): Promise<void> {
    return this.rw(NvmOpc.Read, 'read', ns, lba, data, opts);
  }

  /** Write (6.15) `data` at block `lba`. */
  write(ns: IoNamespace, lba: number, data: Uint8Array | DmaBuffer, opts: CommandOptions = {}): Promise<void> {
    return this.rw(NvmOpc.Write, 'write', ns, lba, data, opts);
  }

  /** Compare (6.2) `data` with the blocks at `lba`: rejects with NvmeStatusError (Compare Failure) when they differ. */
  compare(ns: IoNamespace, lba: number, data: Uint8Array | DmaBuffer, opts: CommandOptions = {}): Promise<void> {
    return this.rw(NvmOpc.Compare, 'compare', ns, lba, data, opts);
  }

  /**
   * Read many at once: for every i, `bufs[i].length` bytes at block
   * `lbas[i]` into `bufs[i]` (DMA buffers, used in place), one command each,
   * behind ONE promise: no promise, closure or record per command (each is
   * a callback-path command of the batch), one continuation for all. What
   * does not fit in the free slots is posted as earlier commands of the
   * batch complete. Resolves when every read completed; rejects with the
   * first error (NvmeStatusError, a timeout, a dead controller) once every
   * one has ended, so no buffer is still the device's. Every request is
   * validated first: a bad one rejects the batch with InvalidArgumentError
   * before anything is posted. Timeouts are the queue pair's.
   *
   * ```ts
   * const lbas = [0, 8, 16, 24];
   * const bufs = lbas.map(() => ctrl.allocDma(4096));
   * await qp.readMany(ns, lbas, bufs); // four reads, one await
   * ```
   */
  readMany(ns: IoNamespace, lbas: ArrayLike<number>, bufs: ArrayLike<DmaBuffer>): Promise<void> {
    return this.many(NvmOpc.Read, 'read', ns, lbas, bufs, 0);
  }

  /** Write many at once: `bufs[i]` at block `lbas[i]` for every i, as readMany. `fua` forces unit access. */
  writeMany(ns: IoNamespace, lbas: ArrayLike<number>, bufs: ArrayLike<DmaBuffer>, opts: { fua?: boolean } = {}): Promise<void> {
    return this.many(NvmOpc.Write, 'write', ns, lbas, bufs, opts.fua ? 1 << RW_FUA_SHIFT : 0);
  }

  private many(opc: number, what: string, ns: IoNamespace, lbas: ArrayLike<number>, bufs: ArrayLike<DmaBuffer>, flags: number): Promise<void> {
    const n = bufs.length;
    const blocks = new Array<number>(n);
    try {
      if (lbas.length !== n) throw new InvalidArgumentError('lbas', `one block address per buffer (${n})`, lbas.length);
      for (let i = 0; i < n; i++) {
        const b = bufs[i];
        if (!(b instanceof DmaBuffer) || b.isFreed) throw new InvalidArgumentError(`bufs[${i}]`, 'a DMA buffer that has not been freed', b);
        blocks[i] = ns.checkIo(lbas[i]!, b.length, this.maxTransfer);
      }
    } catch (e) {
      return Promise.reject(e); // a Promise method: bad input rejects, it does not throw
    }
    const nsid = ns.id;
    return this.runBatch(n, opc, what, (i) => {
      const b = bufs[i]!;
      return this.core.submitRw(this.desc, opc, nsid, lbas[i]!, blocks[i]!, b.regionOffset, b.length, flags);
    });
  }

  /** Flush (6.8): make completed writes durable. */
  flush(ns: IoNamespace, opts: CommandOptions = {}): Promise<void> {
    return this.run(NvmOpc.Flush, 'flush', () => this.core.submitFlush(this.desc, ns.id), undefined, opts) as Promise<unknown> as Promise<void>;
  }

  /** Write Zeroes (6.17) of `blocks` (at most 65536) at `lba`; `deallocate` lets the controller deallocate instead (DEAC). */
  writeZeroes(ns: IoNamespace, lba: number, blocks: number, opts: CommandOptions & { deallocate?: boolean } = {}): Promise<void> {
    try {
      checkInt('blocks', blocks, 1, RW_MAX_BLOCKS);
    } catch (e) {
      return Promise.reject(e); // a Promise method: bad input rejects, it does not throw
    }
    const flags = (opts.deallocate ? 1 << RW_DEAC_SHIFT : 0) | (opts.fua ? 1 << RW_FUA_SHIFT : 0);
    return this.run(NvmOpc.WriteZeroes, 'write zeroes', () => this.core.submitRw(this.desc, NvmOpc.WriteZeroes, ns.id, lba, blocks, 0, 0, flags), undefined, opts) as Promise<unknown> as Promise<void>;
  }

  /** Dataset Management (6.7) with the Deallocate attribute over up to 256 ranges (checked by the caller). */
  deallocate(ns: IoNamespace, ranges: ReadonlyArray<{ lba: number; blocks: number }>, opts: CommandOptions = {}): Promise<void> {
    if (ranges.length < 1 || ranges.length > DSM_MAX_RANGES) return Promise.reject(new InvalidArgumentError('ranges', `1 to ${DSM_MAX_RANGES} ranges per command`, ranges.length));
    const buf = this.host.allocDma(ranges.length * DSM_RANGE_SIZE, { zero: true });
    const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset, buf.length);
    ranges.forEach((r, j) => {
      dv.setUint32(j * DSM_RANGE_SIZE + DSM_RANGE_NLB, r.blocks, true);
      dv.setBigUint64(j * DSM_RANGE_SIZE + DSM_RANGE_SLBA, BigInt(r.lba), true);
    });
    return this.run(NvmOpc.DatasetManagement, 'deallocate', () =>
      this.core.submitDsm(this.desc, ns.id, ranges.length, 1 << DSM_AD_SHIFT, buf.regionOffset), () => buf.free(), opts) as Promise<unknown> as Promise<void>;
  }

  /**
   * Any I/O command with the given fields (like nvme-cli io-passthru):
   * `data` is copied to a DMA buffer before and back after. Resolves with
   * the completion's dword 0; rejects with NvmeStatusError.
   */
  command(cmd: PassthroughCommand & { nsid: number }): Promise<number> {
    return passthrough(this, this.core, (n) => this.host.allocDma(n), cmd, 'I/O');
  }

  /** Read, Write or Compare of one command's worth; a Node Buffer is bounced. */
  private rw(opc: number, what: string, ns: IoNamespace, lba: number, data: Uint8Array | DmaBuffer, opts: CommandOptions): Promise<void> {
    const len = data.length;
    let blocks: number;
    try {
      blocks = ns.checkIo(lba, len, this.maxTransfer);
    } catch (e) {
      return Promise.reject(e);
    }
    const flags = opts.fua ? 1 << RW_FUA_SHIFT : 0;
    // A DMA buffer is used in place: no closure, nothing allocated but the promise.
    if (data instanceof DmaBuffer) return this.runRw(opc, what, ns.id, lba, blocks, data.regionOffset, len, flags, opts.timeoutMs) as Promise<unknown> as Promise<void>;
    if (opc === NvmOpc.Read && this.wire?.readsInPlace?.()) return this.readInPlace(what, ns.id, lba, blocks, data, len, flags, opts);
    const bounce = this.host.allocDma(len);
    if (opc !== NvmOpc.Read) bounce.bytes.set(data);
    return this.run(opc, what, () => this.core.submitRw(this.desc, opc, ns.id, lba, blocks, bounce.regionOffset, len, flags), (err) => {
      if (!err && opc === NvmOpc.Read) data.set(bounce.bytes);
      bounce.free();
    }, opts) as Promise<unknown> as Promise<void>;
  }

  /**
   * Over a transport that moves the data itself (NVMe/TCP): a read into a
   * Node Buffer lands in it, no bounce buffer and no copy beyond the
   * socket's. The core still builds the command's data pointer: it names a
   * sink of this queue pair's largest transfer that no data reaches while
   * the caller waits (late data after a timeout goes there). The command's
   * slot is given the caller's buffer in the same turn as it is posted,
   * before the transport can send it.
   */
  private readInPlace(what: string, nsid: number, lba: number, blocks: number, data: Uint8Array, len: number, flags: number, opts: CommandOptions): Promise<void> {
    const wire = this.wire!;
    const sink = (this.readSink ??= this.host.allocDma(this.maxTransfer));
    return this.run(NvmOpc.Read, what, () => {
      // Posted later than asked (the queue was full): the queue may be gone by now.
      if (!wire.readsInPlace!()) throw new ControllerError(`I/O queue ${this.qid} is no longer connected`, 'closed');
      const r = this.core.submitRw(this.desc, NvmOpc.Read, nsid, lba, blocks, sink.regionOffset, len, flags);
      if (r >= 0) wire.attachRead!(r, data); // before any kick: the transport has not seen the command yet
      return r;
    }, undefined, opts) as Promise<unknown> as Promise<void>;
  }

  /** The data pointer of in-place reads (readInPlace): allocated at the first one, freed with the queue pair. */
  private readSink: DmaBuffer | undefined;

  /** Delete this queue pair on the controller and free its memory. */
  delete(): Promise<void> {
    return this.host.deleteQueuePair(this);
  }

  /** Free the rings, descriptor and PRP lists (after deletion on the controller). */
  releaseMemory(): void {
    for (const b of this.memoryRuns) b.free();
    this.memoryRuns.length = 0;
    this.readSink?.free();
    this.readSink = undefined;
  }
}
