// Completion posting (NVMe 1.4 4.6): write a command's completion entry into
// its CQ, never over an entry the host has not released through the CQ head
// doorbell. Completions that find no room wait in a per-CQ list; those the
// latency model or a Delay fault holds wait in a heap until they are due.
import { CQE_SIZE, CQE_SQID, CQE_DW2, CQE_DW3_P_SHIFT, CQE_DW3_SF_SHIFT } from '../../assembly/nvme/cmd.js';
import { Malformation } from './ctl.js';
import type { DmaWindow } from './dma.js';
import type { ErrorLog } from './logs.js';
import { ReqState, TimedHeap, type CompletionQueue, type Request, type SubmissionQueue } from './queues.js';
import type { SimInterrupts } from './irq.js';

const BITS_PER_BYTE = 8;
const CQE_SQID_SHIFT = (CQE_SQID - CQE_DW2) * BITS_PER_BYTE;

/** The completion side of the controller: posting, waiting for room, held completions. */
export class Completions {
  /** Completions held until a time (latency model, Delay fault). */
  readonly timed = new TimedHeap();
  /** CQs with completions waiting for room. */
  private pendingCqs = 0;

  constructor(
    private readonly bar: Uint32Array,
    private readonly win: DmaWindow,
    private readonly errors: ErrorLog,
    /** The controller's CQs by id (the array is never replaced). */
    private readonly cqs: ReadonlyArray<CompletionQueue | undefined>,
    private readonly irq: SimInterrupts,
  ) {}

  /** Post `req`'s completion now, or queue it behind others waiting for room. */
  post(req: Request): void {
    const cq = req.sq.cq;
    if (cq.pendingHead !== null || this.cqFull(cq)) {
      this.enqueue(cq, req);
      return;
    }
    this.writeCqe(cq, req);
    this.release(req);
  }

  /** Hold `req`'s completion until performance.now() reaches `due`. */
  hold(req: Request, due: number): void {
    req.state = ReqState.Timed;
    req.due = due;
    this.timed.push(req);
  }

  /** Post every held completion due by `now`; returns how many. */
  postDue(now: number): number {
    let n = 0;
    while (this.timed.size > 0 && this.timed.peek()!.due <= now) {
      const r = this.timed.pop();
      r.state = ReqState.Active;
      this.post(r);
      n++;
    }
    return n;
  }

  /** Complete a held command now with `status` (Abort, SQ deletion). */
  abort(r: Request, status: number): void {
    if (r.state === ReqState.Timed) this.timed.remove(r);
    r.status = status;
    r.state = ReqState.Active;
    this.post(r);
  }

  /**
   * Before an SQ is deleted (5.6): commands still held by the controller
   * complete with `status` (Command Aborted due to SQ Deletion); completions
   * already made but waiting for CQ room are still posted.
   */
  abortHeld(sq: SubmissionQueue, status: number): void {
    for (const r of sq.requests) {
      if (r.state === ReqState.Timed || r.state === ReqState.Dropped) this.abort(r, status);
    }
  }

  /** Before a CQ is deleted (5.5): completions still waiting for room are discarded. */
  discardPending(cq: CompletionQueue): void {
    if (cq.pendingHead !== null) this.pendingCqs--;
    for (let r = cq.pendingHead; r !== null; r = r.next) r.state = ReqState.Free;
    cq.pendingHead = cq.pendingTail = null;
  }

  /** Completions are waiting for CQ room. */
  get pending(): boolean {
    return this.pendingCqs > 0;
  }

  /** Post what now fits in its CQ; returns how many were posted. */
  drainPending(): number {
    let n = 0;
    for (let q = 0; q < this.cqs.length; q++) {
      const cq = this.cqs[q];
      if (cq === undefined || cq.pendingHead === null) continue;
      while (cq.pendingHead !== null && !this.cqFull(cq)) {
        const r: Request = cq.pendingHead;
        cq.pendingHead = r.next;
        r.next = null;
        this.writeCqe(cq, r);
        this.release(r);
        n++;
      }
      if (cq.pendingHead === null) {
        cq.pendingTail = null;
        this.pendingCqs--;
      }
    }
    return n;
  }

  /** Forget every held and waiting completion (controller reset). */
  clear(): void {
    this.timed.clear();
    this.pendingCqs = 0;
  }

  private cqFull(cq: CompletionQueue): boolean {
    const next = cq.tail + 1 === cq.size ? 0 : cq.tail + 1;
    if (next !== cq.head) return false;
    const db = Atomics.load(this.bar, cq.doorbell);
    if (db !== cq.lastDoorbell) {
      cq.lastDoorbell = db;
      if (db < cq.size) cq.head = db; // an out-of-range head is ignored
    }
    return next === cq.head;
  }

  /** The entry of `req`, malformed as a fault asks, and its Error Information log entry. */
  private writeCqe(cq: CompletionQueue, req: Request): void {
    const sq = req.sq;
    let sqhd = sq.head;
    let sqid = sq.sqid;
    if (req.malform === Malformation.WrongSqid) sqid = sq.sqid + 1;
    else if (req.malform === Malformation.SqhdOutOfRange) sqhd = 0xffff;
    this.writeEntry(cq, req.dw0, sqhd, sqid, req.cid, req.status);
    if (req.status !== 0) this.errors.record(sq.sqid, req.cid, req.status, cq.phase, req.nsid, req.lba);
    // A hostile controller's extra entry, when the CQ has room for it.
    if (req.malform === Malformation.Duplicate && !this.cqFull(cq)) this.writeEntry(cq, req.dw0, sqhd, sqid, req.cid, req.status);
    if (req.malform === Malformation.UnknownCid && !this.cqFull(cq)) this.writeEntry(cq, 0, sqhd, sqid, (req.cid ^ 0x8000) & 0xffff, 0);
  }

  /** DW0, DW1, DW2, then DW3 (CID, phase, status) last, atomically. */
  private writeEntry(cq: CompletionQueue, dw0: number, sqhd: number, sqid: number, cid: number, status: number): void {
    const u = this.win.u32;
    const i = (cq.offset + cq.tail * CQE_SIZE) >>> 2;
    u[i] = dw0;
    u[i + 1] = 0;
    u[i + 2] = (sqhd | (sqid << CQE_SQID_SHIFT)) >>> 0;
    Atomics.store(u, i + 3, (cid | (cq.phase << CQE_DW3_P_SHIFT) | (status << CQE_DW3_SF_SHIFT)) >>> 0);
    if (++cq.tail === cq.size) {
      cq.tail = 0;
      cq.phase ^= 1;
    }
    // After the entry is whole (irq.ts: the wake-up ordering). A polled CQ pays this one comparison.
    if (cq.iv >= 0) this.irq.raise(cq.iv);
  }

  private release(req: Request): void {
    req.state = ReqState.Free;
    const sq = req.sq;
    sq.free[sq.freeCount++] = req;
  }

  private enqueue(cq: CompletionQueue, req: Request): void {
    req.state = ReqState.Queued;
    req.next = null;
    if (cq.pendingTail !== null) cq.pendingTail.next = req;
    else {
      cq.pendingHead = req;
      this.pendingCqs++;
    }
    cq.pendingTail = req;
  }
}
