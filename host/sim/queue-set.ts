// The controller's queues by id (NVMe 1.4 4.1; 0 = admin): creation and
// deletion, the SQs in arbitration order, their doorbells, and keeping
// each queue's window offset right when the DMA window changes.
import { doorbellOffset, REG_DBS } from '../../assembly/nvme/regs.js';
import { SQE_SIZE, CQE_SIZE } from '../../assembly/nvme/cmd.js';
import type { DmaWindow } from './dma.js';
import { CompletionQueue, SubmissionQueue } from './queues.js';

/** The submission and completion queues that exist, indexed by queue id. */
export class QueueSet {
  readonly sqs: Array<SubmissionQueue | undefined>;
  readonly cqs: Array<CompletionQueue | undefined>;
  /** SQs in arbitration order; replaced (never mutated) when it changes. */
  active: SubmissionQueue[] = [];
  /** Number of Queues may not be set once an I/O queue exists (5.21.1.7). */
  qsCreated = false;

  constructor(
    /** BAR0, where the doorbells are. */
    readonly bar: Uint32Array,
    private readonly win: DmaWindow,
    /** CAP.DSTRD */
    private readonly dstrd: number,
    maxIoQueuePairs: number,
  ) {
    this.sqs = new Array(maxIoQueuePairs + 1);
    this.cqs = new Array(maxIoQueuePairs + 1);
  }

  /** Dword index in BAR0 of a queue's doorbell. */
  doorbellIndex(qid: number, isCq: boolean): number {
    return doorbellOffset(qid, isCq, this.dstrd) >>> 2;
  }

  /** A queue's memory lies inside the DMA window. */
  inWindow(base: number, entries: number, entrySize: number): boolean {
    return this.win.contains(base, entries * entrySize);
  }

  newCq(cqid: number, size: number, base: number): CompletionQueue {
    const cq = new CompletionQueue(cqid, size, base, this.doorbellIndex(cqid, true));
    cq.offset = base - this.win.iova;
    Atomics.store(this.bar, cq.doorbell, 0);
    this.cqs[cqid] = cq;
    return cq;
  }

  newSq(sqid: number, size: number, base: number, cq: CompletionQueue): SubmissionQueue {
    const sq = new SubmissionQueue(sqid, size, base, this.doorbellIndex(sqid, false), cq);
    sq.offset = base - this.win.iova;
    Atomics.store(this.bar, sq.doorbell, 0);
    this.sqs[sqid] = sq;
    cq.sqCount++;
    this.active = this.sqs.filter((q): q is SubmissionQueue => q !== undefined);
    return sq;
  }

  /** Delete an SQ (5.6); its held commands must have been aborted first (Completions.abortHeld). */
  deleteSq(sq: SubmissionQueue): void {
    sq.deleted = true;
    sq.cq.sqCount--;
    this.sqs[sq.sqid] = undefined;
    this.active = this.sqs.filter((q): q is SubmissionQueue => q !== undefined);
  }

  /** Delete a CQ (5.5); its waiting completions must have been discarded first (Completions.discardPending). */
  deleteCq(cq: CompletionQueue): void {
    this.cqs[cq.cqid] = undefined;
  }

  /** Every queue gone (controller reset); doorbells back to 0. */
  clear(): void {
    for (let q = 0; q < this.sqs.length; q++) {
      if (this.sqs[q]) this.sqs[q]!.deleted = true;
      this.sqs[q] = undefined;
      this.cqs[q] = undefined;
    }
    this.active = [];
    this.qsCreated = false;
    // Doorbells of queues that no longer exist: start from 0 next time.
    const dbEnd = doorbellOffset(this.sqs.length, false, this.dstrd) >>> 2;
    this.bar.fill(0, REG_DBS >>> 2, Math.min(dbEnd, this.bar.length));
  }

  /**
   * After the DMA window changed: recompute each queue's window offset.
   * Returns false when a queue is left outside the window (an IOMMU fault).
   */
  relocate(): boolean {
    let lost = false;
    for (let q = 0; q < this.sqs.length; q++) {
      const sq = this.sqs[q];
      if (sq) {
        if (this.win.contains(sq.base, sq.size * SQE_SIZE)) sq.offset = sq.base - this.win.iova;
        else lost = true;
      }
      const cq = this.cqs[q];
      if (cq) {
        if (this.win.contains(cq.base, cq.size * CQE_SIZE)) cq.offset = cq.base - this.win.iova;
        else lost = true;
      }
    }
    return !lost;
  }
}
