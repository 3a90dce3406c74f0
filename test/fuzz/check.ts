// State comparison between the Wasm core (read back from the shared region
// and the BAR window) and the reference model / fuzz device. Every check
// throws Divergence with a message naming the field and both values.
import {
  QP_QID, QP_QSIZE, QP_SQ, QP_CQ, QP_SQ_DB, QP_CQ_DB, QP_SQ_TAIL, QP_SQ_TAIL_DB, QP_SQ_HEAD, QP_CQ_HEAD,
  QP_CQ_PHASE, QP_CQ_HEAD_DB, QP_SLOT_BITS, QP_NSLOTS, QP_OUTSTANDING, QP_FREE_SLOT, QP_PRP, QP_PRP_PAGES,
  QP_MAX_XFER, QP_OWNER_BITS, QP_BOGUS, QP_BOGUS_DW2, QP_BOGUS_DW3, QP_OWNER_PROC, QP_FLAGS, QP_SQ_FULL_SEEN,
  QP_SQ_DB_WRITES, QP_CQ_DB_WRITES, QP_SUBMITTED, QP_COMPLETED, QP_POST_SLOT, QP_POST_TAIL, QP_STATS, QP_HDR_SIZE, QP_SLOT_SIZE, SLOT_CID, SLOT_STATE, SLOT_NEXT,
  SLOT_LEN,
} from '../../assembly/abi/qpair.js';
import { ST_ERRORS, ST_READS, ST_WRITES, ST_BYTES_READ, ST_BYTES_WRITTEN, ST_SIZE } from '../../assembly/abi/stats.js';
import { Divergence } from './device.js';
import { PAGE, SLOT_NONE, sqDoorbell, cqDoorbell } from './model.js';
import type { Seq } from './run.js';

function eq(what: string, got: number, want: number): void {
  if (got !== want) throw new Divergence(`${what}: core has ${got}, model expects ${want}`);
}

function sameBytes(what: string, got: Uint8Array, want: Uint8Array, base = 0): void {
  if (Buffer.compare(got, want) === 0) return;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  throw new Divergence(`${what}: byte ${base + i} (0x${(base + i).toString(16)}) is ${got[i]}, expected ${want[i]}`);
}

/** Descriptor header: every field against the model (abi/qpair.ts layout). */
export function checkHeader(s: Seq): void {
  const m = s.model;
  const c = s.cfg;
  const f = (off: number) => s.h.dv.getUint32(s.at.desc + off, true);
  // Fixed at qpInit.
  eq('QP_QID', f(QP_QID), c.qid);
  eq('QP_QSIZE', f(QP_QSIZE), c.qsize);
  eq('QP_SQ', f(QP_SQ), s.at.sq);
  eq('QP_CQ', f(QP_CQ), s.at.cq);
  eq('QP_SQ_DB', f(QP_SQ_DB), sqDoorbell(c.qid, c.dstrd)); // 3.1: SQyTDBL
  eq('QP_CQ_DB', f(QP_CQ_DB), cqDoorbell(c.qid, c.dstrd)); // 3.1: CQyHDBL
  eq('QP_SLOT_BITS', f(QP_SLOT_BITS), m.slotBits);
  eq('QP_NSLOTS', f(QP_NSLOTS), c.nslots);
  eq('QP_PRP', f(QP_PRP), s.at.prp);
  eq('QP_PRP_PAGES', f(QP_PRP_PAGES), s.at.prpPages);
  eq('QP_MAX_XFER', f(QP_MAX_XFER), c.maxXfer);
  eq('QP_OWNER_BITS', f(QP_OWNER_BITS), c.ownerBits);
  eq('QP_OWNER_PROC', f(QP_OWNER_PROC), 0);
  eq('QP_FLAGS', f(QP_FLAGS), 0);
  // Ring state (4.1, 4.6).
  eq('QP_SQ_TAIL', f(QP_SQ_TAIL), m.sqTail);
  eq('QP_SQ_TAIL_DB', f(QP_SQ_TAIL_DB), m.sqTailDb);
  eq('QP_SQ_HEAD (last valid CQE.SQHD, 4.1.2)', f(QP_SQ_HEAD), m.sqHead);
  eq('QP_CQ_HEAD', f(QP_CQ_HEAD), m.cqHead);
  eq('QP_CQ_PHASE (4.6)', f(QP_CQ_PHASE), m.phase);
  eq('QP_CQ_HEAD_DB', f(QP_CQ_HEAD_DB), m.cqHeadDb);
  eq('QP_OUTSTANDING', f(QP_OUTSTANDING), m.outstanding.size);
  // Counters.
  eq('QP_BOGUS', f(QP_BOGUS), m.bogus);
  eq('QP_BOGUS_DW2', f(QP_BOGUS_DW2), m.bogusDw2);
  eq('QP_BOGUS_DW3', f(QP_BOGUS_DW3), m.bogusDw3);
  eq('QP_SQ_FULL_SEEN', f(QP_SQ_FULL_SEEN), m.sqFullSeen);
  eq('QP_SQ_DB_WRITES', f(QP_SQ_DB_WRITES), m.sqDbWrites);
  eq('QP_CQ_DB_WRITES', f(QP_CQ_DB_WRITES), m.cqDbWrites);
  eq('QP_SUBMITTED', f(QP_SUBMITTED), m.submitted);
  eq('QP_COMPLETED', f(QP_COMPLETED), m.completed);
  // Crash-recovery marks of post() (abi/qpair.ts): no post is in flight between core calls.
  eq('QP_POST_SLOT (no post in flight)', f(QP_POST_SLOT), 0);
  // QP_POST_TAIL is only read while QP_POST_SLOT != 0; the abi comment says post() clears it, the
  // core leaves the last tail there: accept either, but it must be a ring index.
  if (f(QP_POST_TAIL) >= c.qsize) throw new Divergence(`QP_POST_TAIL ${f(QP_POST_TAIL)} is not an SQ index`);
  eq('QP_STATS', f(QP_STATS), s.at.stats);
  for (let off = QP_POST_TAIL + 4; off < QP_HDR_SIZE; off += 4) if (off !== QP_STATS) eq(`descriptor reserved word +${off}`, f(off), 0);
  // Free list head: a free slot, or none when every slot is outstanding.
  const head = f(QP_FREE_SLOT);
  if (m.free.size === 0) eq('QP_FREE_SLOT (no free slot)', head, SLOT_NONE);
  else if (!m.free.has(head)) throw new Divergence(`QP_FREE_SLOT ${head} is not a free slot`);
}

/** Slot table: each slot's cid and state; the free list holds exactly the free slots, once each. */
export function checkSlots(s: Seq): void {
  const m = s.model;
  const u16 = s.h.u16;
  const u32 = s.h.u32;
  const free = m.free;
  // Word indices: descriptors are page aligned, slots 16 bytes (abi/qpair.ts).
  const base = s.at.desc + QP_HDR_SIZE;
  for (let slot = 0; slot < s.cfg.nslots; slot++) {
    const o = base + slot * QP_SLOT_SIZE;
    const isFree = free.has(slot);
    // 4.2: the cid in the slot is the one of the command last submitted from it.
    if (u16[(o + SLOT_CID) >>> 1] !== m.slotCid[slot]) eq(`slot ${slot} cid`, u16[(o + SLOT_CID) >>> 1]!, m.slotCid[slot]!);
    if (u16[(o + SLOT_STATE) >>> 1] !== (isFree ? 0 : 1)) eq(`slot ${slot} state`, u16[(o + SLOT_STATE) >>> 1]!, isFree ? 0 : 1);
    // abi/qpair.ts: while outstanding, SLOT_NEXT holds the command's opcode.
    if (!isFree && u32[(o + SLOT_NEXT) >>> 2] !== m.slotOpc[slot]) eq(`slot ${slot} opcode`, u32[(o + SLOT_NEXT) >>> 2]!, m.slotOpc[slot]!);
    // SLOT_LEN: the data length of the slot's last command (kept when it is freed).
    if (u32[(o + SLOT_LEN) >>> 2] !== m.slotLen[slot]) eq(`slot ${slot} data length`, u32[(o + SLOT_LEN) >>> 2]!, m.slotLen[slot]!);
    for (let off = SLOT_LEN + 4; off < QP_SLOT_SIZE; off += 4) if (u32[(o + off) >>> 2] !== 0) eq(`slot ${slot} reserved word +${off}`, u32[(o + off) >>> 2]!, 0);
  }
  // The free list: exactly the free slots, once each (a cycle shows as a repeat).
  const seen = s.seen;
  seen.fill(0);
  let n = 0;
  for (let slot = u32[(s.at.desc + QP_FREE_SLOT) >>> 2]!; slot !== SLOT_NONE; slot = u32[(base + slot * QP_SLOT_SIZE + SLOT_NEXT) >>> 2]!) {
    if (!free.has(slot) || seen[slot]) throw new Divergence(`free list reaches slot ${slot}, which is ${seen[slot] ? 'already on it (cycle)' : 'outstanding or out of range'}`);
    seen[slot] = 1;
    n++;
  }
  eq('free list length', n, free.size);
}

/**
 * Statistics block (abi/stats.ts): the fields the core writes hold the
 * model's counts; the rest (the JavaScript's: timeouts, latency) stay zero.
 */
export function checkStats(s: Seq): void {
  if (s.at.stats === 0) return;
  const dv = s.h.dv;
  const m = s.model.st;
  for (let off = 0; off < ST_SIZE; off += 8) {
    const v =
      off === ST_ERRORS ? m.errors : off === ST_READS ? m.reads : off === ST_WRITES ? m.writes : off === ST_BYTES_READ ? m.bytesRead : off === ST_BYTES_WRITTEN ? m.bytesWritten : 0;
    const got = dv.getFloat64(s.at.stats + off, true);
    if (got === v) continue;
    const name =
      off === ST_ERRORS ? 'errors' : off === ST_READS ? 'reads' : off === ST_WRITES ? 'writes' : off === ST_BYTES_READ ? 'bytes read' : off === ST_BYTES_WRITTEN ? 'bytes written' : `word +${off} (not the core's)`;
    eq(`statistics ${name}`, got, v);
  }
}

/** SQ ring byte for byte (4.2 entries the model built), CQ ring as the device wrote it. */
export function checkRings(s: Seq): void {
  const u8 = s.h.u8;
  sameBytes('SQ ring', u8.subarray(s.at.sq, s.at.sq + s.cfg.qsize * 64), s.model.sqShadow, s.at.sq);
  // The host never writes CQ entries (4.6: the controller owns them).
  sameBytes('CQ ring (host must not write it)', u8.subarray(s.at.cq, s.at.cq + s.cfg.qsize * 16), s.dev.cqShadow, s.at.cq);
}

/** The BAR window: the two doorbells hold the model's values, nothing else moved. */
export function checkBar(s: Seq): void {
  const c = s.cfg;
  s.barShadow.setUint32(sqDoorbell(c.qid, c.dstrd), s.model.sqTailDb, true);
  s.barShadow.setUint32(cqDoorbell(c.qid, c.dstrd), s.model.cqHeadDb, true);
  sameBytes('BAR window (doorbells)', s.h.barU8, new Uint8Array(s.barShadow.buffer));
}

/** PRP list pages of the given slots (4.3). */
const ZERO_PAGE = new Uint8Array(PAGE);

export function checkPrp(s: Seq, slots: Iterable<number>): void {
  if (s.at.prpPages === 0) return;
  for (const slot of slots) {
    const base = s.at.prp + slot * s.at.prpPages * PAGE;
    const want = s.model.prpShadow.get(slot) ?? ZERO_PAGE;
    sameBytes(`PRP list page of slot ${slot}`, s.h.u8.subarray(base, base + PAGE), want, base);
    for (let p = 1; p < s.at.prpPages; p++) {
      const o = base + p * PAGE;
      sameBytes(`PRP list page ${p} of slot ${slot} (unused)`, s.h.u8.subarray(o, o + PAGE), ZERO_PAGE, o);
    }
  }
}

/** Canary: the bytes around the queue pair's structures and the data buffers never change. */
export function checkGuards(s: Seq): void {
  for (const g of s.guards) sameBytes(`canary ${g.name}`, s.h.u8.subarray(g.start, g.start + g.bytes.length), g.bytes, g.start);
}

/** Canary, expensive part: the whole region outside this sequence's block, and every PRP page. */
export function checkOutside(s: Seq): void {
  const u8 = s.h.u8;
  const snap = s.h.snapshot;
  sameBytes('region below the queue pair block', u8.subarray(0, s.block.start), snap.subarray(0, s.block.start));
  sameBytes('region above the queue pair block', u8.subarray(s.block.end), snap.subarray(s.block.end), s.block.end);
  checkPrp(s, s.allSlots);
}

/** Everything but the expensive part. */
export function checkAll(s: Seq, touched: Iterable<number>): void {
  checkHeader(s);
  checkSlots(s);
  checkStats(s);
  checkRings(s);
  checkBar(s);
  checkPrp(s, touched);
  checkGuards(s);
}
