// Queue pairs: one SQ ring and one CQ ring (NVMe 1.4, 4.1), command slots
// and command identifiers. One small function per step: take a slot, post
// an entry, ring the SQ tail doorbell, take completions, ring the CQ head
// doorbell. State is in the descriptor (abi/qpair.ts) in the region.
//
//   SQ ring, qsize entries of 64 B          CQ ring, qsize entries of 16 B
//   +---+---+---+---+---+---+               +---+---+---+---+---+---+
//   |   | x | x | x |   |   |               | p | p | p |!p |!p |!p |
//   +---+---+---+---+---+---+               +---+---+---+---+---+---+
//         ^head       ^tail                               ^head: first entry whose
//   head: from CQE.SQHD; full when          phase tag != QP_CQ_PHASE is not yet
//   (tail + 1) % qsize == head (4.1.2)      posted; the expected phase flips
//                                           on every wrap (4.6)
import { SQE_SIZE, CQE_SIZE, CQE_DW0, CQE_DW2, CQE_DW3, CQE_DW3_CID_MASK, CQE_DW3_P_SHIFT, cqeStatusField } from '../nvme/cmd';
import { doorbellOffset } from '../nvme/regs';
import {
  QP_QID, QP_QSIZE, QP_SQ, QP_CQ, QP_SQ_DB, QP_CQ_DB, QP_SQ_TAIL, QP_SQ_TAIL_DB, QP_SQ_HEAD, QP_CQ_HEAD,
  QP_CQ_PHASE, QP_CQ_HEAD_DB, QP_SLOT_BITS, QP_NSLOTS, QP_OUTSTANDING, QP_FREE_SLOT, QP_PRP, QP_PRP_PAGES,
  QP_MAX_XFER, QP_OWNER_BITS, QP_BOGUS, QP_BOGUS_DW2, QP_BOGUS_DW3, QP_OWNER_PROC, QP_SQ_FULL_SEEN,
  QP_SQ_DB_WRITES, QP_CQ_DB_WRITES, QP_SUBMITTED, QP_COMPLETED, QP_POST_SLOT, QP_POST_TAIL, QP_STATS, QP_HDR_SIZE,
  QP_SLOT_SIZE, SLOT_CID, SLOT_STATE, SLOT_NEXT, SLOT_LEN, SLOT_NONE, SlotState,
  OUT_SLOT, OUT_SLOT_AEN, OUT_STATUS, OUT_DW0, OUT_CID, OUT_STRIDE, OUT_MAX,
} from '../abi/qpair';
import { CoreStatus } from '../abi/status';
import {
  CTRL_MBOX, MBOX_STRIDE, MBOX_HEAD, MBOX_TAIL, MBOX_DROPPED, MBOX_WAKE, MBOX_ENTRIES_OFF, MBOX_ENTRY_SIZE, MBOX_ENTRIES,
  MB_CID, MB_STATUS, MB_DW0, MB_FLAGS, MB_FLAG_AEN, PROC_TABLE_OFF, PROC_ENTRY_SIZE, PROC_STATE, PROC_SLOTS, ProcState,
} from '../abi/region';
import { AdminOpc, NvmOpc } from '../nvme/cmd';
import { ST_ERRORS, ST_READS, ST_WRITES, ST_BYTES_READ, ST_BYTES_WRITTEN } from '../abi/stats';
import { r32, w32, r16, w16, rAddr, addF64, ringDoorbell, shadowReset } from './mem';

// Completion records for the host, in this process's private memory.
const OUT: usize = memory.data(<i32>(OUT_MAX * OUT_STRIDE * 4), 16);

export function outPtr(): usize {
  return OUT;
}

// @ts-ignore: decorator
@inline function slotOff(qp: u32, slot: u32): u32 {
  return qp + QP_HDR_SIZE + slot * QP_SLOT_SIZE;
}

function bitsFor(n: u32): u32 {
  // Bits to hold values 0 .. n - 1, at least 1.
  return n <= 2 ? 1 : 32 - clz<u32>(n - 1);
}

/**
 * Lay out a queue pair descriptor at region offset `qp` for queue `qid` with
 * `qsize` entries per ring (rings at region offsets `sq` and `cq`, already
 * allocated), `nslots` command slots (at most qsize - 1: a full SQ holds
 * qsize - 1 entries), `ownerBits` cid bits for the submitting process,
 * PRP list pages at `prp` (`prpPages` per slot) and at most `maxXfer` bytes
 * per command. Zeroes both rings: a zero phase tag marks the CQ empty for the
 * first lap, where the host expects phase 1.
 */
export function qpInit(
  qp: u32, qid: u32, qsize: u32, sq: u32, cq: u32, dstrd: u32, nslots: u32, ownerBits: u32,
  prp: u32, prpPages: u32, maxXfer: u32, ownerProc: u32,
): i32 {
  if (qsize < 2 || qsize > 65536 || nslots == 0 || nslots > qsize - 1) return CoreStatus.BadArgument;
  const slotBits = bitsFor(nslots);
  if (slotBits + ownerBits > 16) return CoreStatus.BadArgument;
  memory.fill(rAddr(qp), 0, <usize>(QP_HDR_SIZE + nslots * QP_SLOT_SIZE));
  memory.fill(rAddr(sq), 0, <usize>qsize * SQE_SIZE);
  memory.fill(rAddr(cq), 0, <usize>qsize * CQE_SIZE);
  w32(qp + QP_QID, qid);
  w32(qp + QP_QSIZE, qsize);
  w32(qp + QP_SQ, sq);
  w32(qp + QP_CQ, cq);
  w32(qp + QP_SQ_DB, doorbellOffset(qid, false, dstrd));
  w32(qp + QP_CQ_DB, doorbellOffset(qid, true, dstrd));
  shadowReset(doorbellOffset(qid, false, dstrd), doorbellOffset(qid, true, dstrd));
  w32(qp + QP_CQ_PHASE, 1);
  w32(qp + QP_SLOT_BITS, slotBits);
  w32(qp + QP_NSLOTS, nslots);
  w32(qp + QP_PRP, prp);
  w32(qp + QP_PRP_PAGES, prpPages);
  w32(qp + QP_MAX_XFER, maxXfer);
  w32(qp + QP_OWNER_BITS, ownerBits);
  w32(qp + QP_OWNER_PROC, ownerProc);
  // Start each slot's generation so the first cid of slot s is s.
  for (let s: u32 = 0; s < nslots; s++) w16(slotOff(qp, s) + SLOT_CID, s);
  slotsFreeAll(qp);
  return CoreStatus.Ok;
}

/** Every slot free, on the free list in index order (cids kept). */
function slotsFreeAll(qp: u32): void {
  const nslots = r32(qp + QP_NSLOTS);
  for (let s: u32 = 0; s < nslots; s++) {
    const so = slotOff(qp, s);
    w16(so + SLOT_STATE, SlotState.Free);
    w32(so + SLOT_NEXT, s + 1 < nslots ? s + 1 : SLOT_NONE);
  }
  w32(qp + QP_FREE_SLOT, 0);
  w32(qp + QP_OUTSTANDING, 0);
}

/** Is the SQ full? (4.1.2: full when tail + 1 == head, modulo the size.) */
export function sqFull(qp: u32): bool {
  let next = r32(qp + QP_SQ_TAIL) + 1;
  if (next == r32(qp + QP_QSIZE)) next = 0;
  return next == r32(qp + QP_SQ_HEAD);
}

/**
 * Take a free command slot and give it a fresh cid: same slot index, the
 * submitter in the owner field, the generation bumped so a late or
 * duplicated completion of the slot's previous command cannot match. The
 * slot remembers the opcode and data length (`len` bytes) for the poll's
 * statistics. Returns the slot, or NoSlot.
 */
export function slotTake(qp: u32, owner: u32, opc: u32, len: u32): i32 {
  const slot = r32(qp + QP_FREE_SLOT);
  if (slot == SLOT_NONE) return CoreStatus.NoSlot;
  const so = slotOff(qp, slot);
  w32(qp + QP_FREE_SLOT, r32(so + SLOT_NEXT));
  const slotBits = r32(qp + QP_SLOT_BITS);
  const ownerBits = r32(qp + QP_OWNER_BITS);
  const genShift = slotBits + ownerBits;
  const gen = genShift >= 16 ? 0 : ((r16(so + SLOT_CID) >> genShift) + 1) & ((1 << (16 - genShift)) - 1);
  const ownerField = ownerBits == 0 ? 0 : (owner & ((1 << ownerBits) - 1)) << slotBits;
  w16(so + SLOT_CID, (gen << genShift) | ownerField | slot);
  w16(so + SLOT_STATE, SlotState.Outstanding);
  w32(so + SLOT_NEXT, opc); // while outstanding, the slot remembers its opcode
  w32(so + SLOT_LEN, len);
  w32(qp + QP_OUTSTANDING, r32(qp + QP_OUTSTANDING) + 1);
  return <i32>slot;
}

/** Return a slot to the free list (its command completed, or was never posted). */
export function slotGive(qp: u32, slot: u32): void {
  const so = slotOff(qp, slot);
  w16(so + SLOT_STATE, SlotState.Free);
  w32(so + SLOT_NEXT, r32(qp + QP_FREE_SLOT));
  w32(qp + QP_FREE_SLOT, slot);
  w32(qp + QP_OUTSTANDING, r32(qp + QP_OUTSTANDING) - 1);
}

export function slotCid(qp: u32, slot: u32): u32 {
  return r16(slotOff(qp, slot) + SLOT_CID);
}

/** Region offset of the SQ entry at the tail (where the next command goes). */
export function sqTailEntry(qp: u32): u32 {
  return r32(qp + QP_SQ) + r32(qp + QP_SQ_TAIL) * SQE_SIZE;
}

/** Advance the SQ tail past the entry just written. The doorbell waits for qpRing. */
export function sqAdvance(qp: u32): void {
  let t = r32(qp + QP_SQ_TAIL) + 1;
  if (t == r32(qp + QP_QSIZE)) t = 0;
  w32(qp + QP_SQ_TAIL, t);
  w32(qp + QP_SUBMITTED, r32(qp + QP_SUBMITTED) + 1);
}

/** Ring the SQ tail doorbell once for everything posted since the last ring. Returns 1 if it rang. */
export function qpRing(qp: u32): u32 {
  const tail = r32(qp + QP_SQ_TAIL);
  if (tail == r32(qp + QP_SQ_TAIL_DB)) return 0;
  ringDoorbell(r32(qp + QP_SQ_DB), tail);
  w32(qp + QP_SQ_TAIL_DB, tail);
  w32(qp + QP_SQ_DB_WRITES, r32(qp + QP_SQ_DB_WRITES) + 1);
  return 1;
}

/**
 * Does a completion name a command of this queue pair that is waiting for
 * one? Its SQID must be ours, its SQHD inside the ring, its cid's slot
 * outstanding with exactly that cid (generation included).
 */
// @ts-ignore: decorator
@inline function cqeValid(qp: u32, qid: u32, qsize: u32, nslots: u32, dw2: u32, cid: u32, slot: u32): bool {
  return (dw2 >>> 16) == qid && (dw2 & 0xffff) < qsize && slot < nslots &&
    r16(slotOff(qp, slot) + SLOT_STATE) == SlotState.Outstanding && r16(slotOff(qp, slot) + SLOT_CID) == cid;
}

function bogus(qp: u32, dw2: u32, dw3: u32): void {
  w32(qp + QP_BOGUS, r32(qp + QP_BOGUS) + 1);
  w32(qp + QP_BOGUS_DW2, dw2);
  w32(qp + QP_BOGUS_DW3, dw3);
}

/**
 * Take up to `max` new completions (at most OUT_MAX), write one OUT record
 * each, free their slots, and ring the CQ head doorbell once for the batch.
 * A completion naming an unknown or idle cid, another SQ, or an SQ head
 * beyond the ring is consumed, counted in QP_BOGUS and not reported (the
 * command it may belong to stays outstanding until its timeout). With a
 * statistics block (QP_STATS), the batch's reads, writes, errors and bytes
 * are added to it. Returns the number of records.
 */
export function qpPoll(qp: u32, max: u32): i32 {
  if (max > OUT_MAX) max = OUT_MAX;
  const qsize = r32(qp + QP_QSIZE);
  const cq = r32(qp + QP_CQ);
  const qid = r32(qp + QP_QID);
  const nslots = r32(qp + QP_NSLOTS);
  const slotMask: u32 = (1 << r32(qp + QP_SLOT_BITS)) - 1;
  const st = r32(qp + QP_STATS);
  let head = r32(qp + QP_CQ_HEAD);
  let phase = r32(qp + QP_CQ_PHASE);
  let n: u32 = 0;
  let consumed: u32 = 0;
  // The batch's statistics, in locals: one store per field after the loop.
  let errors: u32 = 0;
  let reads: u32 = 0;
  let writes: u32 = 0;
  let bytesRead: u64 = 0;
  let bytesWritten: u64 = 0;
  // consumed < qsize: even a controller posting garbage cannot keep us here.
  while (n < max && consumed < qsize) {
    const e = cq + head * CQE_SIZE;
    // Acquire load of the dword holding the phase tag: the rest of the entry
    // is read only after we know the controller finished writing it.
    const dw3 = atomic.load<u32>(rAddr(e + CQE_DW3));
    if (((dw3 >> CQE_DW3_P_SHIFT) & 1) != phase) break;
    const dw2 = r32(e + CQE_DW2);
    const cid = dw3 & CQE_DW3_CID_MASK;
    const slot = cid & slotMask;
    const sqhd = dw2 & 0xffff;
    if (!cqeValid(qp, qid, qsize, nslots, dw2, cid, slot)) {
      bogus(qp, dw2, dw3);
    } else {
      const sf = cqeStatusField(dw3);
      if (st != 0) {
        // Before slotGive: it reuses SLOT_NEXT for the free list.
        const so = slotOff(qp, slot);
        const opc = r32(so + SLOT_NEXT);
        const len: u64 = sf == 0 ? <u64>r32(so + SLOT_LEN) : 0; // bytes moved: successful commands only
        if (sf != 0) errors++;
        if (opc == NvmOpc.Read) {
          reads++;
          bytesRead += len;
        } else if (opc == NvmOpc.Write) {
          writes++;
          bytesWritten += len;
        }
      }
      outPut(n++, slot, sf, r32(e + CQE_DW0), cid);
      w32(qp + QP_SQ_HEAD, sqhd);
      slotGive(qp, slot);
    }
    consumed++;
    head++;
    if (head == qsize) {
      head = 0;
      phase ^= 1;
    }
  }
  if (consumed > 0) cqReleased(qp, head, phase, n);
  if (st != 0 && n > 0) {
    if (errors != 0) addF64(st + ST_ERRORS, <f64>errors);
    if (reads != 0) {
      addF64(st + ST_READS, <f64>reads);
      addF64(st + ST_BYTES_READ, <f64>bytesRead);
    }
    if (writes != 0) {
      addF64(st + ST_WRITES, <f64>writes);
      addF64(st + ST_BYTES_WRITTEN, <f64>bytesWritten);
    }
  }
  return <i32>n;
}

/** Count this queue pair's completions into statistics block `st` (region offset; 0: stop counting). */
export function qpSetStats(qp: u32, st: u32): void {
  w32(qp + QP_STATS, st);
}

/**
 * After a batch: record the new CQ head and expected phase, and ring the CQ
 * head doorbell once for the whole batch (it releases the entries to the
 * controller). `completed` commands are counted.
 */
function cqReleased(qp: u32, head: u32, phase: u32, completed: u32): void {
  w32(qp + QP_CQ_HEAD, head);
  w32(qp + QP_CQ_PHASE, phase);
  ringDoorbell(r32(qp + QP_CQ_DB), head);
  w32(qp + QP_CQ_HEAD_DB, head);
  w32(qp + QP_CQ_DB_WRITES, r32(qp + QP_CQ_DB_WRITES) + 1);
  w32(qp + QP_COMPLETED, r32(qp + QP_COMPLETED) + completed);
}

/** Commands posted and not yet completed. */
export function qpOutstanding(qp: u32): u32 {
  return r32(qp + QP_OUTSTANDING);
}

export function qpSqFullSeen(qp: u32): u32 {
  return r32(qp + QP_SQ_FULL_SEEN);
}

export function noteSqFull(qp: u32): void {
  w32(qp + QP_SQ_FULL_SEEN, r32(qp + QP_SQ_FULL_SEEN) + 1);
}

export function qpMaxXfer(qp: u32): u32 {
  return r32(qp + QP_MAX_XFER);
}

// ---- the shared admin queue ----

// Processes that got mail during the last qpPollShared (bit = process slot).
let wakeLo: u32 = 0;
let wakeHi: u32 = 0;

export function wakeMask(hi: bool): u32 {
  return hi ? wakeHi : wakeLo;
}

// @ts-ignore: decorator
@inline function procLive(slot: u32): bool {
  return slot < PROC_SLOTS && r32(PROC_TABLE_OFF + slot * PROC_ENTRY_SIZE + PROC_STATE) == ProcState.Live;
}

/** Put one record in process `owner`'s mailbox; false if it is full. */
function mboxPut(owner: u32, cid: u32, sf: u32, dw0: u32, flags: u32): bool {
  if (r32(CTRL_MBOX) == 0) return false;
  const mb = r32(CTRL_MBOX) + owner * MBOX_STRIDE;
  const tail = r32(mb + MBOX_TAIL);
  let next = tail + 1;
  if (next == MBOX_ENTRIES) next = 0;
  if (next == atomic.load<u32>(rAddr(mb + MBOX_HEAD))) {
    w32(mb + MBOX_DROPPED, r32(mb + MBOX_DROPPED) + 1);
    return false;
  }
  const e = mb + MBOX_ENTRIES_OFF + tail * MBOX_ENTRY_SIZE;
  w32(e + MB_CID, cid);
  w32(e + MB_STATUS, sf);
  w32(e + MB_DW0, dw0);
  w32(e + MB_FLAGS, flags);
  // Release: the entry is complete before the owner can see the new tail.
  atomic.store<u32>(rAddr(mb + MBOX_TAIL), next);
  atomic.add<u32>(rAddr(mb + MBOX_WAKE), 1);
  if (owner < 32) wakeLo |= 1 << owner;
  else wakeHi |= 1 << (owner - 32);
  return true;
}

// @ts-ignore: decorator
@inline function outPut(n: u32, slotField: u32, sf: u32, dw0: u32, cid: u32): void {
  const o = OUT + <usize>(n * OUT_STRIDE * 4);
  store<u32>(o + OUT_SLOT * 4, slotField);
  store<u32>(o + OUT_STATUS * 4, sf);
  store<u32>(o + OUT_DW0 * 4, dw0);
  store<u32>(o + OUT_CID * 4, cid);
}

/**
 * qpPoll for the shared admin queue, called under HDR_ADMIN_LOCK by process
 * `self`. A completion whose cid names another owner goes to that owner's
 * mailbox (or is dropped if the owner is gone); a completed Asynchronous
 * Event Request is also copied, flagged, to every live process (self
 * included, as an OUT record with OUT_SLOT_AEN). wakeMask() then says whom
 * to wake. Returns the number of OUT records for `self`; at most `max`
 * (<= OUT_MAX) of them, counting event copies.
 */
export function qpPollShared(qp: u32, max: u32, self: u32): i32 {
  if (max > OUT_MAX) max = OUT_MAX;
  wakeLo = 0;
  wakeHi = 0;
  const qsize = r32(qp + QP_QSIZE);
  const cq = r32(qp + QP_CQ);
  const qid = r32(qp + QP_QID);
  const nslots = r32(qp + QP_NSLOTS);
  const slotBits = r32(qp + QP_SLOT_BITS);
  const slotMask: u32 = (1 << slotBits) - 1;
  const ownerMask: u32 = (1 << r32(qp + QP_OWNER_BITS)) - 1;
  let head = r32(qp + QP_CQ_HEAD);
  let phase = r32(qp + QP_CQ_PHASE);
  let n: u32 = 0;
  let consumed: u32 = 0;
  let bogusSeen: u32 = 0;
  // Stop while there is still room for this entry's records (an event can
  // produce two for self: its own completion and the event copy).
  while (n + 2 <= max && consumed < qsize) {
    const e = cq + head * CQE_SIZE;
    const dw3 = atomic.load<u32>(rAddr(e + CQE_DW3));
    if (((dw3 >> CQE_DW3_P_SHIFT) & 1) != phase) break;
    const dw2 = r32(e + CQE_DW2);
    const cid = dw3 & CQE_DW3_CID_MASK;
    const slot = cid & slotMask;
    const sqhd = dw2 & 0xffff;
    if (!cqeValid(qp, qid, qsize, nslots, dw2, cid, slot)) {
      bogus(qp, dw2, dw3);
      bogusSeen++;
    } else {
      const sf = cqeStatusField(dw3);
      const dw0 = r32(e + CQE_DW0);
      const owner = (cid >> slotBits) & ownerMask;
      if (r32(slotOff(qp, slot) + SLOT_NEXT) == AdminOpc.AsyncEventRequest && sf == 0) {
        for (let p: u32 = 0; p < PROC_SLOTS; p++) {
          if (!procLive(p)) continue;
          if (p == self) outPut(n++, OUT_SLOT_AEN | slot, sf, dw0, cid);
          else mboxPut(p, cid, sf, dw0, MB_FLAG_AEN);
        }
      }
      w32(qp + QP_SQ_HEAD, sqhd);
      if (owner == self) {
        outPut(n++, slot, sf, dw0, cid);
        slotGive(qp, slot);
      } else if (procLive(owner) && mboxPut(owner, cid, sf, dw0, 0)) {
        // Held until the owner reads it (mboxTake).
        w16(slotOff(qp, slot) + SLOT_STATE, SlotState.Delivered);
      } else {
        slotGive(qp, slot); // the owner died: its completion is discarded
      }
    }
    consumed++;
    head++;
    if (head == qsize) {
      head = 0;
      phase ^= 1;
    }
  }
  if (consumed > 0) cqReleased(qp, head, phase, consumed - bogusSeen);
  return <i32>n;
}

/**
 * Move up to `max` records from process `self`'s mailbox to OUT, releasing
 * the admin slots (queue pair `qp`) the records held. Under the group lock
 * (the free list is shared); only the owner reads its mailbox.
 */
export function mboxTake(qp: u32, self: u32, max: u32): i32 {
  if (max > OUT_MAX) max = OUT_MAX;
  if (r32(CTRL_MBOX) == 0) return 0;
  const slotMask: u32 = (1 << r32(qp + QP_SLOT_BITS)) - 1;
  const nslots = r32(qp + QP_NSLOTS);
  const mb = r32(CTRL_MBOX) + self * MBOX_STRIDE;
  let head = r32(mb + MBOX_HEAD);
  const tail = atomic.load<u32>(rAddr(mb + MBOX_TAIL));
  let n: u32 = 0;
  while (head != tail && n < max) {
    const e = mb + MBOX_ENTRIES_OFF + head * MBOX_ENTRY_SIZE;
    const aen = (r32(e + MB_FLAGS) & MB_FLAG_AEN) != 0;
    const cid = r32(e + MB_CID);
    outPut(n++, aen ? OUT_SLOT_AEN : 0, r32(e + MB_STATUS), r32(e + MB_DW0), cid);
    const slot = cid & slotMask;
    if (!aen && slot < nslots && r16(slotOff(qp, slot) + SLOT_STATE) == SlotState.Delivered && r16(slotOff(qp, slot) + SLOT_CID) == cid) {
      slotGive(qp, slot);
    }
    head++;
    if (head == MBOX_ENTRIES) head = 0;
  }
  atomic.store<u32>(rAddr(mb + MBOX_HEAD), head);
  return <i32>n;
}

/** Empty process `slot`'s mailbox (a new process takes the slot, or its owner died). */
export function mboxReset(slot: u32): void {
  if (r32(CTRL_MBOX) == 0) return; // not allocated yet: nothing to reset
  const mb = r32(CTRL_MBOX) + slot * MBOX_STRIDE;
  w32(mb + MBOX_HEAD, 0);
  w32(mb + MBOX_TAIL, 0);
  w32(mb + MBOX_DROPPED, 0);
}

/**
 * Make the admin queue consistent after taking its lock from a process that
 * died holding it: a command it was posting either reached the ring (the
 * tail moved past QP_POST_TAIL: it stays outstanding and will complete) or
 * did not (its slot is released); then the free list and outstanding count
 * are rebuilt from the slot states, whatever step the holder died in.
 * Returns the number of outstanding commands.
 */
export function qpRecover(qp: u32): u32 {
  const posting = r32(qp + QP_POST_SLOT);
  if (posting != 0) {
    const slot = posting - 1;
    if (r32(qp + QP_SQ_TAIL) == r32(qp + QP_POST_TAIL) && slot < r32(qp + QP_NSLOTS)) {
      w16(slotOff(qp, slot) + SLOT_STATE, SlotState.Free);
    }
    w32(qp + QP_POST_SLOT, 0);
  }
  const nslots = r32(qp + QP_NSLOTS);
  let free = SLOT_NONE;
  let outstanding: u32 = 0;
  for (let s = nslots; s-- > 0;) {
    const so = slotOff(qp, s);
    if (r16(so + SLOT_STATE) == SlotState.Free) {
      w32(so + SLOT_NEXT, free);
      free = s;
    } else outstanding++;
  }
  w32(qp + QP_FREE_SLOT, free);
  w32(qp + QP_OUTSTANDING, outstanding);
  return outstanding;
}

/**
 * After a controller reset (CC.EN 1 -> 0 deletes every queue, 7.3.2): the
 * same rings and slots, back to the state qpInit left them in, so the queue
 * can be created again with the same memory. Every slot is freed (its
 * command is gone with the reset) but keeps its cid, so the next cid of a
 * slot still differs from any issued before. Counters are kept.
 */
export function qpReset(qp: u32): void {
  const qsize = r32(qp + QP_QSIZE);
  memory.fill(rAddr(r32(qp + QP_SQ)), 0, <usize>qsize * SQE_SIZE);
  // The CQ must be zeroed: a stale phase tag would read as a new entry.
  memory.fill(rAddr(r32(qp + QP_CQ)), 0, <usize>qsize * CQE_SIZE);
  w32(qp + QP_SQ_TAIL, 0);
  w32(qp + QP_SQ_TAIL_DB, 0);
  w32(qp + QP_SQ_HEAD, 0);
  w32(qp + QP_CQ_HEAD, 0);
  w32(qp + QP_CQ_HEAD_DB, 0);
  w32(qp + QP_CQ_PHASE, 1);
  w32(qp + QP_POST_SLOT, 0);
  shadowReset(r32(qp + QP_SQ_DB), r32(qp + QP_CQ_DB)); // the queue starts again from 0
  slotsFreeAll(qp);
}

/** The process slot in the owner field of slot `s`'s cid (abi/qpair.ts cid layout). */
// @ts-ignore: decorator
@inline function slotOwner(qp: u32, s: u32): u32 {
  return (r16(slotOff(qp, s) + SLOT_CID) >> r32(qp + QP_SLOT_BITS)) & ((1 << r32(qp + QP_OWNER_BITS)) - 1);
}

/** Release the slots held for process `owner`'s unread completions (it died). Returns how many. */
export function qpReleaseOwner(qp: u32, owner: u32): u32 {
  const nslots = r32(qp + QP_NSLOTS);
  let n: u32 = 0;
  for (let s: u32 = 0; s < nslots; s++) {
    if (r16(slotOff(qp, s) + SLOT_STATE) == SlotState.Delivered && slotOwner(qp, s) == owner) {
      slotGive(qp, s);
      n++;
    }
  }
  return n;
}

/** Outstanding commands of opcode `opc` (admin: how many AERs are armed). */
export function qpCountOpcode(qp: u32, opc: u32): u32 {
  const nslots = r32(qp + QP_NSLOTS);
  let n: u32 = 0;
  for (let s: u32 = 0; s < nslots; s++) {
    const so = slotOff(qp, s);
    if (r16(so + SLOT_STATE) == SlotState.Outstanding && r32(so + SLOT_NEXT) == opc) n++;
  }
  return n;
}

/** Outstanding commands whose cid names owner `owner` (admin queue). */
export function qpCountOwner(qp: u32, owner: u32): u32 {
  const nslots = r32(qp + QP_NSLOTS);
  let n: u32 = 0;
  for (let s: u32 = 0; s < nslots; s++) {
    if (r16(slotOff(qp, s) + SLOT_STATE) == SlotState.Outstanding && slotOwner(qp, s) == owner) n++;
  }
  return n;
}
