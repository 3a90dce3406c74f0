// Command builders. Each one fills a submission queue entry (4.2) at the SQ
// tail through post(); none rings the doorbell (qpRing does, once per batch).
// All return the command's slot (>= 0) or a CoreStatus.
//
// 64-bit command fields (SLBA, log page offset) arrive as f64: exact below
// 2^53, and cheaper to pass from JavaScript than i64 (which needs BigInt).
import {
  SQE_SIZE, SQE_OPC, SQE_CID, SQE_NSID, SQE_CDW10, SQE_CDW11, SQE_CDW12, SQE_CDW13, SQE_CDW14, SQE_CDW15,
  SQE_PRP1, AdminOpc, NvmOpc, IDENTIFY_CNTID_SHIFT, IDENTIFY_CNS_MASK, IDENTIFY_DATA_SIZE,
  FEAT_FID_MASK, FEAT_SEL_SHIFT, FEAT_SEL_MASK, FEAT_SV_SHIFT, CQ_QSIZE_SHIFT, Q_PC_SHIFT, CQ_IEN_SHIFT,
  CQ_IV_SHIFT, SQ_QPRIO_SHIFT, SQ_QPRIO_MASK, SQ_CQID_SHIFT, LOG_LID_MASK, LOG_LSP_SHIFT, LOG_LSP_MASK,
  LOG_RAE_SHIFT, LOG_NUMDL_SHIFT, LOG_NUMD_MASK, ABORT_CID_SHIFT, ABORT_SQID_MASK, RW_NLB_MASK,
  DSM_NR_MASK, DSM_MAX_RANGES, DSM_RANGE_SIZE, RW_MAX_BLOCKS,
} from '../nvme/cmd';
import { QP_MAX_XFER, QP_OWNER_BITS, QP_POST_SLOT, QP_POST_TAIL, QP_FREE_SLOT, QP_SQ_TAIL, SLOT_NONE } from '../abi/qpair';
import { CoreStatus } from '../abi/status';
import { r32, w32, w64, rAddr, dmaAddr } from './mem';
import { sqFull, slotTake, slotGive, slotCid, sqTailEntry, sqAdvance, noteSqFull } from './qpair';
import { prpCheck, prpBuild } from './prp';

// Process slot of this process, the owner field of admin cids.
let self: u32 = 0;
export function setSelf(slot: u32): void {
  self = slot;
}

// Region offset of the entry the last successful post() wrote.
let lastEntry: u32 = 0;

/**
 * Post one command: check the SQ has room (4.1.2) and the buffer is valid,
 * take a slot, write the entry, build its PRPs, advance the tail.
 */
export function post(
  qp: u32, opc: u32, nsid: u32, buf: u32, len: u32,
  cdw10: u32, cdw11: u32, cdw12: u32, cdw13: u32, cdw14: u32, cdw15: u32,
): i32 {
  if (sqFull(qp)) {
    noteSqFull(qp);
    return CoreStatus.SqFull;
  }
  if (len != 0) {
    const st = prpCheck(buf, len, r32(qp + QP_MAX_XFER));
    if (st != CoreStatus.Ok) return st;
  }
  // On the shared admin queue, say what we are about to do, for whoever
  // recovers the lock should this process die before the tail moves.
  const shared = r32(qp + QP_OWNER_BITS) != 0;
  if (shared) {
    const next = r32(qp + QP_FREE_SLOT);
    w32(qp + QP_POST_TAIL, r32(qp + QP_SQ_TAIL));
    w32(qp + QP_POST_SLOT, next == SLOT_NONE ? 0 : next + 1);
  }
  const s = slotTake(qp, self, opc, len);
  if (s < 0) {
    if (shared) w32(qp + QP_POST_SLOT, 0);
    return s;
  }
  const slot = <u32>s;
  const e = sqTailEntry(qp);
  memory.fill(rAddr(e), 0, SQE_SIZE);
  store<u8>(rAddr(e + SQE_OPC), <u8>opc);
  store<u16>(rAddr(e + SQE_CID), <u16>slotCid(qp, slot));
  w32(e + SQE_NSID, nsid);
  w32(e + SQE_CDW10, cdw10);
  w32(e + SQE_CDW11, cdw11);
  w32(e + SQE_CDW12, cdw12);
  w32(e + SQE_CDW13, cdw13);
  w32(e + SQE_CDW14, cdw14);
  w32(e + SQE_CDW15, cdw15);
  if (len != 0) {
    const st = prpBuild(qp, slot, e, buf, len);
    if (st != CoreStatus.Ok) {
      slotGive(qp, slot);
      if (shared) w32(qp + QP_POST_SLOT, 0);
      return st;
    }
  }
  lastEntry = e;
  sqAdvance(qp);
  if (shared) w32(qp + QP_POST_SLOT, 0);
  return s;
}

// @ts-ignore: decorator
@inline function lo(x: f64): u32 {
  return <u32>(<u64>x);
}
// @ts-ignore: decorator
@inline function hi(x: f64): u32 {
  return <u32>(<u64>x >> 32);
}

// ---- NVM command set (chapter 6) ----

/**
 * Read (6.9), Write (6.15), Compare (6.6): `blocks` logical blocks from
 * `slba`, data at region offset `buf` (`len` bytes). Write Zeroes (6.17) and
 * Verify pass len 0. `flags` goes into CDW12 above NLB (FUA, LR, DEAC).
 */
export function submitRw(qp: u32, opc: u32, nsid: u32, slba: f64, blocks: u32, buf: u32, len: u32, flags: u32): i32 {
  if (blocks == 0 || blocks > RW_MAX_BLOCKS) return CoreStatus.BadArgument;
  return post(qp, opc, nsid, buf, len, lo(slba), hi(slba), ((blocks - 1) & RW_NLB_MASK) | (flags & ~RW_NLB_MASK), 0, 0, 0);
}

/** Flush (6.8). */
export function submitFlush(qp: u32, nsid: u32): i32 {
  return post(qp, NvmOpc.Flush, nsid, 0, 0, 0, 0, 0, 0, 0, 0);
}

/** Dataset Management (6.7): `nranges` range entries at `buf`; `attrs` in CDW11 (AD = deallocate). */
export function submitDsm(qp: u32, nsid: u32, nranges: u32, attrs: u32, buf: u32): i32 {
  if (nranges == 0 || nranges > DSM_MAX_RANGES) return CoreStatus.BadArgument;
  return post(qp, NvmOpc.DatasetManagement, nsid, buf, nranges * DSM_RANGE_SIZE, (nranges - 1) & DSM_NR_MASK, attrs, 0, 0, 0, 0);
}

// ---- Admin commands (chapter 5) ----

/** Identify (5.15): 4 KiB of data for `cns` into `buf`. */
export function submitIdentify(qp: u32, cns: u32, nsid: u32, cntid: u32, buf: u32): i32 {
  return post(qp, AdminOpc.Identify, nsid, buf, IDENTIFY_DATA_SIZE, (cns & IDENTIFY_CNS_MASK) | (cntid << IDENTIFY_CNTID_SHIFT), 0, 0, 0, 0, 0);
}

/** Get Features (5.13). `len` may be 0 for features without a data structure. */
export function submitGetFeatures(qp: u32, fid: u32, sel: u32, nsid: u32, cdw11: u32, buf: u32, len: u32): i32 {
  return post(qp, AdminOpc.GetFeatures, nsid, buf, len, (fid & FEAT_FID_MASK) | ((sel & FEAT_SEL_MASK) << FEAT_SEL_SHIFT), cdw11, 0, 0, 0, 0);
}

/** Set Features (5.21); `save` sets SV. */
export function submitSetFeatures(qp: u32, fid: u32, save: bool, nsid: u32, cdw11: u32, cdw12: u32, buf: u32, len: u32): i32 {
  return post(qp, AdminOpc.SetFeatures, nsid, buf, len, (fid & FEAT_FID_MASK) | ((save ? 1 : 0) << FEAT_SV_SHIFT), cdw11, cdw12, 0, 0, 0);
}

/**
 * Create I/O Completion Queue (5.3): physically contiguous ring at region
 * offset `cq`, `qsize` entries. Polled: interrupts off unless `ien`.
 */
export function submitCreateIoCq(qp: u32, qid: u32, qsize: u32, cq: u32, ien: bool, iv: u32): i32 {
  const s = post(qp, AdminOpc.CreateIoCq, 0, 0, 0, (qid & 0xffff) | ((qsize - 1) << CQ_QSIZE_SHIFT),
    (1 << Q_PC_SHIFT) | ((ien ? 1 : 0) << CQ_IEN_SHIFT) | (iv << CQ_IV_SHIFT), 0, 0, 0, 0);
  if (s >= 0) setPrp1(cq);
  return s;
}

/** Create I/O Submission Queue (5.4) bound to completion queue `cqid`. */
export function submitCreateIoSq(qp: u32, qid: u32, qsize: u32, sq: u32, cqid: u32, qprio: u32): i32 {
  const s = post(qp, AdminOpc.CreateIoSq, 0, 0, 0, (qid & 0xffff) | ((qsize - 1) << CQ_QSIZE_SHIFT),
    (1 << Q_PC_SHIFT) | ((qprio & SQ_QPRIO_MASK) << SQ_QPRIO_SHIFT) | (cqid << SQ_CQID_SHIFT), 0, 0, 0, 0);
  if (s >= 0) setPrp1(sq);
  return s;
}

/** The entry just posted gets PRP1 = a queue ring's base (queues are one contiguous run). */
function setPrp1(ring: u32): void {
  w64(lastEntry + SQE_PRP1, dmaAddr(ring));
}

/** Delete I/O Submission Queue (5.6). */
export function submitDeleteIoSq(qp: u32, qid: u32): i32 {
  return post(qp, AdminOpc.DeleteIoSq, 0, 0, 0, qid & 0xffff, 0, 0, 0, 0, 0);
}

/** Delete I/O Completion Queue (5.5). */
export function submitDeleteIoCq(qp: u32, qid: u32): i32 {
  return post(qp, AdminOpc.DeleteIoCq, 0, 0, 0, qid & 0xffff, 0, 0, 0, 0, 0);
}

/** Get Log Page (5.14): `len` bytes (a multiple of 4) of log `lid` from byte `offset`. */
export function submitGetLogPage(qp: u32, lid: u32, nsid: u32, lsp: u32, rae: bool, offset: f64, buf: u32, len: u32): i32 {
  if (len == 0 || (len & 3) != 0) return CoreStatus.BadLength;
  const numd = (len >> 2) - 1;
  return post(qp, AdminOpc.GetLogPage, nsid, buf, len,
    (lid & LOG_LID_MASK) | ((lsp & LOG_LSP_MASK) << LOG_LSP_SHIFT) | ((rae ? 1 : 0) << LOG_RAE_SHIFT) | ((numd & LOG_NUMD_MASK) << LOG_NUMDL_SHIFT),
    numd >> 16, lo(offset), hi(offset), 0, 0);
}

/** Abort (5.1) the command `cid` of submission queue `sqid`. */
export function submitAbort(qp: u32, sqid: u32, cid: u32): i32 {
  return post(qp, AdminOpc.Abort, 0, 0, 0, (sqid & ABORT_SQID_MASK) | (cid << ABORT_CID_SHIFT), 0, 0, 0, 0, 0);
}

/** Asynchronous Event Request (5.2): completes when the controller has an event. */
export function submitAsyncEventRequest(qp: u32): i32 {
  return post(qp, AdminOpc.AsyncEventRequest, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

/** Any command, fields as given (passthrough, and tests of controller checks). */
export function submitRaw(
  qp: u32, opc: u32, nsid: u32, buf: u32, len: u32,
  cdw10: u32, cdw11: u32, cdw12: u32, cdw13: u32, cdw14: u32, cdw15: u32,
): i32 {
  return post(qp, opc, nsid, buf, len, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15);
}
