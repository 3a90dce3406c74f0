// Accessors for the controller block (assembly/abi/region.ts, CTRL_*) and
// the mailbox words it points to: the only module that reads or writes
// them. The primary writes the limits once before the region is Ready; the
// reset words and the QID table change under the group lock and are read
// atomically.
//
//   controller block (CTRL_SIZE bytes at CTRL_OFF)
//   +0      CAP lo | CAP hi | VS | max transfer
//   +16     NSQA | NCQA | admin QP | Identify data
//   +32     mailboxes | queue pairs granted | DSTRD | AERs wanted
//   +48     reset gen | reset owner | reset result | reset reason
//   +64     resets completed
//   +0x100  QID owner: u8 per I/O QID (slot + 1, 0 = free)
//   +0x800  statistics directory: u32 per I/O QID (stats block offset)
import {
  CTRL_CAP_LO, CTRL_MAX_XFER, CTRL_ADMIN_QP, CTRL_MBOX, CTRL_MAX_QUEUE_PAIRS, CTRL_DSTRD, CTRL_AER_WANTED,
  CTRL_RESET_GEN, CTRL_RESET_OWNER, CTRL_RESET_RESULT, CTRL_RESET_REASON, CTRL_RESETS, CTRL_QID_OWNER, CTRL_MAX_QID,
  CTRL_STATS_DIR, MBOX_STRIDE, MBOX_WAKE, MBOX_HEAD, MBOX_TAIL, MBOX_DROPPED, ResetResult, ResetCause,
} from '../../assembly/abi/region.js';

export class ControllerBlock {
  private readonly dv: DataView;
  private readonly i32: Int32Array;

  /** `bytes` starts at region offset 0 and spans the controller block (a mapped region). */
  constructor(bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.i32 = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }

  private u32(off: number): number { return this.dv.getUint32(off, true); }
  private set32(off: number, v: number): void { this.dv.setUint32(off, v, true); }
  private atomic(off: number): number { return Atomics.load(this.i32, off >>> 2) >>> 0; }
  private store(off: number, v: number): void { Atomics.store(this.i32, off >>> 2, v); }

  // ---- what the primary publishes ----

  /** CAP's low dword as the primary read it. */
  get capLo(): number { return this.u32(CTRL_CAP_LO); }
  set capLo(v: number) { this.set32(CTRL_CAP_LO, v); }
  /** Bytes per command (MDTS and the driver's cap applied). */
  get maxTransfer(): number { return this.u32(CTRL_MAX_XFER); }
  set maxTransfer(v: number) { this.set32(CTRL_MAX_XFER, v); }
  /** I/O queue pairs the controller granted: the group's pool. */
  get maxQueuePairs(): number { return this.u32(CTRL_MAX_QUEUE_PAIRS); }
  set maxQueuePairs(v: number) { this.set32(CTRL_MAX_QUEUE_PAIRS, v); }
  get doorbellStride(): number { return this.u32(CTRL_DSTRD); }
  set doorbellStride(v: number) { this.set32(CTRL_DSTRD, v); }
  /** Asynchronous Event Requests the primary keeps outstanding. */
  get aerWanted(): number { return this.u32(CTRL_AER_WANTED); }
  set aerWanted(v: number) { this.set32(CTRL_AER_WANTED, v); }
  /** Region offset of the admin queue pair's descriptor. */
  get adminQueuePair(): number { return this.u32(CTRL_ADMIN_QP); }
  set adminQueuePair(v: number) { this.set32(CTRL_ADMIN_QP, v); }
  /** Region offset of the mailboxes (one per process slot). */
  get mailboxes(): number { return this.u32(CTRL_MBOX); }
  set mailboxes(v: number) { this.set32(CTRL_MBOX, v); }

  // ---- mailboxes ----

  /** Region offset of `slot`'s mailbox wake word (the futex its owner sleeps on). */
  mailboxWakeWord(slot: number): number { return this.mailboxes + slot * MBOX_STRIDE + MBOX_WAKE; }
  /** Region offsets of `slot`'s mailbox head and tail words (head != tail: records to read). */
  mailboxHeadWord(slot: number): number { return this.mailboxes + slot * MBOX_STRIDE + MBOX_HEAD; }
  mailboxTailWord(slot: number): number { return this.mailboxes + slot * MBOX_STRIDE + MBOX_TAIL; }
  /** `slot`'s mailbox indexes, for diagnostics. */
  mailbox(slot: number): { head: number; tail: number; dropped: number } {
    const m = this.mailboxes + slot * MBOX_STRIDE;
    return { head: this.u32(m + MBOX_HEAD), tail: this.u32(m + MBOX_TAIL), dropped: this.u32(m + MBOX_DROPPED) };
  }

  // ---- controller reset (host/reset.ts) ----

  /** Even: the controller is usable; odd: a reset runs. */
  get resetGeneration(): number { return this.atomic(CTRL_RESET_GEN); }
  set resetGeneration(v: number) { this.store(CTRL_RESET_GEN, v); }
  /** Slot + 1 of the member running the reset, 0 = none. */
  get resetOwner(): number { return this.atomic(CTRL_RESET_OWNER); }
  set resetOwner(v: number) { this.store(CTRL_RESET_OWNER, v); }
  get resetResult(): ResetResult { return this.atomic(CTRL_RESET_RESULT) as ResetResult; }
  set resetResult(v: ResetResult) { this.store(CTRL_RESET_RESULT, v); }
  get resetCause(): ResetCause { return this.atomic(CTRL_RESET_REASON) as ResetCause; }
  set resetCause(v: ResetCause) { this.store(CTRL_RESET_REASON, v); }
  /** Resets completed in the group. */
  get resets(): number { return this.atomic(CTRL_RESETS); }
  countReset(): void { Atomics.add(this.i32, CTRL_RESETS >>> 2, 1); }

  // ---- I/O queue ids and their statistics ----

  /** The highest I/O QID the pool may hand out. */
  get maxQid(): number { return Math.min(this.maxQueuePairs, CTRL_MAX_QID); }
  /** Slot owning I/O QID `qid`, -1 when free. */
  qidOwner(qid: number): number { return this.dv.getUint8(CTRL_QID_OWNER + qid) - 1; }
  setQidOwner(qid: number, slot: number): void { this.dv.setUint8(CTRL_QID_OWNER + qid, slot + 1); }
  /** Region offset of QID `qid`'s statistics block, 0 for none. */
  statsBlock(qid: number): number { return this.u32(CTRL_STATS_DIR + qid * 4); }
  setStatsBlock(qid: number, off: number): void { this.set32(CTRL_STATS_DIR + qid * 4, off); }
}
