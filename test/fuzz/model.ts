// Reference model of one queue pair, host side, written from the NVM Express
// Base Specification 1.4 rules and the documented ABI (assembly/abi/qpair.ts,
// assembly/abi/status.ts), not from the core's code. Plain numbers and maps:
// nothing here reads the shared region. The device side (device.ts) tells the
// model which completion entries it posted; the model then says what every
// core call must return and what the descriptor must hold afterwards.
//
// Spec rules used:
//   4.1    a queue of qsize entries is empty when head == tail and full when
//          (tail + 1) % qsize == head: it holds at most qsize - 1 entries.
//   4.1.2  the host learns the SQ head only from CQE.SQHD ("SQ Head Pointer").
//   4.2    the CID of a command is unique among the commands outstanding on
//          its SQ.
//   4.3    PRP entries: PRP1 may have a page offset, every later entry is page
//          aligned; a transfer spanning two pages has PRP2 = the second page,
//          more than two: PRP2 = a PRP list of the remaining pages.
//   4.6    CQE layout; the phase tag of new entries is 1 on the first lap and
//          inverts on every wrap of the CQ.
//   3.1.x  doorbells: SQyTDBL at 1000h + (2y)(4 << DSTRD), CQyHDBL at
//          1000h + (2y + 1)(4 << DSTRD).
// ABI rules used (assembly/abi/qpair.ts, status.ts, commands.ts doc comments):
//   cid = generation | owner | slot, the generation bumped on every reuse of a
//   slot (first cid of slot s is s); post() checks SQ room, then the buffer,
//   then takes a slot; one SQ doorbell per qpRing that moved the tail; one CQ
//   head doorbell per poll that consumed an entry; a malformed completion
//   (unknown or idle cid, other SQID, SQHD >= qsize) is consumed, counted, not
//   reported and teaches nothing (SQ head unchanged); at most OUT_MAX records
//   per poll.

export const OUT_MAX = 256; // abi/qpair.ts
export const SLOT_NONE = 0xffffffff;
export const PAGE = 4096; // CC.MPS = 0: 4 KiB memory pages (4.3)
const PRP_PER_PAGE = PAGE / 8;

export const Status = {
  SqFull: -1,
  NoSlot: -2,
  Misaligned: -3,
  BadLength: -4,
  OutOfRegion: -5,
} as const;

export interface QpConfig {
  qid: number;
  qsize: number;
  nslots: number;
  ownerBits: number;
  dstrd: number;
  maxXfer: number;
  /** A statistics block the poll counts into (abi/qpair.ts QP_STATS). */
  stats: boolean;
}

/** Where things live, in region offsets; decided by the runner. */
export interface Placement {
  desc: number;
  sq: number;
  cq: number;
  prp: number;
  prpPages: number;
  /** Statistics block, 0 for none. */
  stats: number;
  heapOff: number;
  regionSize: number;
  iova: bigint;
}

/** A completion queue entry as the device wrote it (4.6). */
export interface Cqe {
  dw0: number;
  sqhd: number;
  sqid: number;
  cid: number;
  sf: number; // 15-bit status field
  phase: number;
}

/** One record the core hands back from a poll. */
export interface Completion {
  slot: number;
  cid: number;
  status: number;
  dw0: number;
}

export type SubmitReq =
  | { kind: 'flush'; nsid: number }
  | { kind: 'read'; nsid: number; slba: number; blocks: number; flags: number; buf: number; len: number };

export function slotBitsFor(nslots: number): number {
  // Bits to number slots 0 .. nslots - 1 (at least one bit).
  let b = 1;
  while (1 << b < nslots) b++;
  return b;
}

export function sqDoorbell(qid: number, dstrd: number): number {
  return 0x1000 + 2 * qid * (4 << dstrd);
}
export function cqDoorbell(qid: number, dstrd: number): number {
  return 0x1000 + (2 * qid + 1) * (4 << dstrd);
}

export class RingModel {
  readonly slotBits: number;
  readonly genBits: number;
  // Ring state (4.1)
  sqTail = 0;
  sqTailDb = 0;
  sqHead = 0; // as last reported by a valid CQE.SQHD (4.1.2)
  cqHead = 0;
  phase = 1; // 4.6: the first lap's entries carry phase 1
  cqHeadDb = 0;
  // Command slots
  readonly slotCid: number[];
  readonly slotOpc: number[]; // opcode of the command a slot holds (abi: SLOT_NEXT while outstanding)
  readonly slotLen: number[]; // its data length (abi: SLOT_LEN)
  readonly outstanding = new Map<number, number>(); // cid -> slot
  readonly free = new Set<number>();
  self = 0;
  // Counters the descriptor keeps
  submitted = 0;
  completed = 0;
  sqDbWrites = 0;
  cqDbWrites = 0;
  sqFullSeen = 0;
  bogus = 0;
  bogusDw2 = 0;
  bogusDw3 = 0;
  // Statistics block fields the core writes (abi/stats.ts), with one: every
  // completion reported, by its slot's opcode; bytes of successful ones only.
  readonly st = { errors: 0, reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0 };
  // Fuzzer statistics
  laps = 0;
  noSlotHits = 0;
  /** Entries the device posted that the host has not consumed, in CQ order. */
  readonly cq: Cqe[] = [];
  /** What the SQ ring must hold byte for byte (entries never written stay zero). */
  readonly sqShadow: Uint8Array;
  /** PRP list bytes the model expects, per slot (slot -> list page bytes). */
  readonly prpShadow = new Map<number, Uint8Array>();

  constructor(
    readonly cfg: QpConfig,
    readonly at: Placement,
  ) {
    this.slotBits = slotBitsFor(cfg.nslots);
    this.genBits = 16 - this.slotBits - cfg.ownerBits;
    this.slotCid = Array.from({ length: cfg.nslots }, (_, s) => s);
    this.slotOpc = new Array<number>(cfg.nslots).fill(0);
    this.slotLen = new Array<number>(cfg.nslots).fill(0);
    for (let s = 0; s < cfg.nslots; s++) this.free.add(s);
    this.sqShadow = new Uint8Array(cfg.qsize * 64);
  }

  get qsize(): number {
    return this.cfg.qsize;
  }

  /**
   * qpReset after a controller reset: rings empty and zeroed, every slot
   * free with its cid kept (the next cid of a slot still moves on),
   * counters and PRP list pages (last contents) kept.
   */
  reset(): void {
    this.sqTail = 0;
    this.sqTailDb = 0;
    this.sqHead = 0;
    this.cqHead = 0;
    this.phase = 1;
    this.cqHeadDb = 0;
    this.outstanding.clear();
    for (let s = 0; s < this.cfg.nslots; s++) this.free.add(s);
    this.cq.length = 0;
    this.sqShadow.fill(0);
  }

  /** 4.1: full when advancing the tail would make it equal the head. */
  sqFull(): boolean {
    return (this.sqTail + 1) % this.qsize === this.sqHead;
  }

  /**
   * What a submission must return, before knowing the slot: a CoreStatus, or
   * 'slot' (any free slot). Order per commands.ts post(): SQ room, buffer, slot.
   */
  expectSubmit(req: SubmitReq): number | 'slot' {
    if (this.sqFull()) return Status.SqFull;
    if (req.kind === 'read' && req.len !== 0) {
      if (req.len > this.cfg.maxXfer) return Status.BadLength;
      if (req.buf % 4 !== 0) return Status.Misaligned; // 4.3: PRP1 dword aligned
      if (req.buf < this.at.heapOff || req.buf + req.len > this.at.regionSize) return Status.OutOfRegion;
    }
    if (this.free.size === 0) return Status.NoSlot;
    return 'slot';
  }

  /** Record a failed submission (counters only). */
  submitFailed(st: number): void {
    if (st === Status.SqFull) this.sqFullSeen++;
    if (st === Status.NoSlot) this.noSlotHits++;
  }

  /** Next cid of a slot: generation + 1, the submitter in the owner field, the slot index. */
  nextCid(slot: number): number {
    const genShift = this.slotBits + this.cfg.ownerBits;
    const gen = this.genBits <= 0 ? 0 : ((this.slotCid[slot]! >>> genShift) + 1) % (1 << this.genBits);
    const owner = this.cfg.ownerBits === 0 ? 0 : (this.self & ((1 << this.cfg.ownerBits) - 1)) << this.slotBits;
    return ((gen << genShift) | owner | slot) & 0xffff;
  }

  /** The core took `slot`: the command goes into the SQ at the tail. Returns its cid. */
  submitted_(slot: number, req: SubmitReq): number {
    const cid = this.nextCid(slot);
    if (this.outstanding.has(cid)) throw new Error(`model: cid ${cid} would be duplicated (4.2)`);
    this.slotCid[slot] = cid;
    this.slotOpc[slot] = req.kind === 'flush' ? 0x00 : 0x02;
    this.slotLen[slot] = req.kind === 'flush' ? 0 : req.len;
    this.free.delete(slot);
    this.outstanding.set(cid, slot);
    this.sqShadow.set(this.sqe(slot, cid, req), this.sqTail * 64);
    this.sqTail = (this.sqTail + 1) % this.qsize;
    this.submitted++;
    return cid;
  }

  /** The 64-byte submission entry (4.2; Flush 6.8; Read 6.9). */
  private sqe(slot: number, cid: number, req: SubmitReq): Uint8Array {
    const b = new Uint8Array(64);
    const dv = new DataView(b.buffer);
    dv.setUint8(0, this.slotOpc[slot]!); // 6: Flush 00h, Read 02h
    dv.setUint16(2, cid, true);
    dv.setUint32(4, req.nsid, true);
    if (req.kind === 'read') {
      dv.setUint32(40, req.slba % 2 ** 32, true); // CDW10: SLBA 31:0
      dv.setUint32(44, Math.floor(req.slba / 2 ** 32), true); // CDW11: SLBA 63:32
      dv.setUint32(48, ((req.blocks - 1) & 0xffff) | (req.flags & 0xffff0000), true); // CDW12: NLB 0's based
      if (req.len !== 0) this.prp(dv, slot, req.buf, req.len);
    }
    return b;
  }

  /** PRP1 / PRP2 and the list page (4.3), for a buffer at region offset buf. */
  private prp(dv: DataView, slot: number, buf: number, len: number): void {
    const dma = (off: number) => this.at.iova + BigInt(off);
    dv.setBigUint64(24, dma(buf), true);
    const firstPageEnd = (Math.floor(buf / PAGE) + 1) * PAGE;
    const pages: number[] = [];
    for (let p = firstPageEnd; p < buf + len; p += PAGE) pages.push(p);
    if (pages.length === 0) return; // PRP2 unused: left zero
    if (pages.length === 1) {
      dv.setBigUint64(32, dma(pages[0]!), true);
      return;
    }
    if (pages.length > PRP_PER_PAGE) throw new Error('model: PRP list chains are not modelled');
    // The list lives in the slot's PRP pages (abi/qpair.ts QP_PRP, QP_PRP_PAGES).
    const list = this.at.prp + slot * this.at.prpPages * PAGE;
    dv.setBigUint64(32, dma(list), true);
    const bytes = this.prpShadow.get(slot) ?? new Uint8Array(PAGE);
    const ldv = new DataView(bytes.buffer);
    pages.forEach((p, i) => ldv.setBigUint64(i * 8, dma(p), true));
    this.prpShadow.set(slot, bytes);
  }

  /** qpRing: one SQ tail doorbell write if the tail moved since the last one. */
  ring(): number {
    if (this.sqTail === this.sqTailDb) return 0;
    this.sqTailDb = this.sqTail;
    this.sqDbWrites++;
    return 1;
  }

  /** The device posted an entry at the CQ tail. */
  posted(e: Cqe): void {
    // 4.1: the controller never fills the CQ beyond qsize - 1 entries.
    if (this.cq.length >= this.qsize - 1) throw new Error('fuzzer device overran the CQ');
    this.cq.push(e);
  }

  /** Free CQ entries as the host has released them (what the device may use). */
  cqSpace(): number {
    return this.qsize - 1 - this.cq.length;
  }

  /** A CQE is malformed (ABI: consumed, counted, not reported). */
  private malformed(e: Cqe): boolean {
    return e.sqid !== this.cfg.qid || e.sqhd >= this.qsize || !this.outstanding.has(e.cid);
  }

  /** A reported completion in the statistics: 6.9 Read is opcode 02h (6.15 Write 01h is never sent here). */
  private count(slot: number, sf: number): void {
    if (sf !== 0) this.st.errors++;
    if (this.slotOpc[slot] === 0x02) {
      this.st.reads++;
      if (sf === 0) this.st.bytesRead += this.slotLen[slot]!;
    } else if (this.slotOpc[slot] === 0x01) {
      this.st.writes++;
      if (sf === 0) this.st.bytesWritten += this.slotLen[slot]!;
    }
  }

  /** qpPoll(max): the completions it must return, in CQ order. Updates the model. */
  poll(max: number): Completion[] {
    const limit = Math.min(max, OUT_MAX);
    const got: Completion[] = [];
    let consumed = 0;
    while (got.length < limit && this.cq.length > 0) {
      const e = this.cq.shift()!;
      if (e.phase !== this.phase) throw new Error('fuzzer device wrote a wrong phase tag');
      if (this.malformed(e)) {
        this.bogus++;
        this.bogusDw2 = (e.sqhd | (e.sqid << 16)) >>> 0;
        this.bogusDw3 = (e.cid | (e.phase << 16) | (e.sf << 17)) >>> 0;
      } else {
        const slot = this.outstanding.get(e.cid)!;
        this.outstanding.delete(e.cid);
        this.free.add(slot);
        this.sqHead = e.sqhd; // 4.1.2
        got.push({ slot, cid: e.cid, status: e.sf, dw0: e.dw0 });
        if (this.cfg.stats) this.count(slot, e.sf);
      }
      consumed++;
      this.cqHead++;
      if (this.cqHead === this.qsize) {
        this.cqHead = 0;
        this.phase ^= 1; // 4.6: the phase tag inverts on each pass through the CQ
        this.laps++;
      }
    }
    if (consumed > 0) {
      this.cqHeadDb = this.cqHead;
      this.cqDbWrites++;
      this.completed += got.length;
    }
    return got;
  }
}
