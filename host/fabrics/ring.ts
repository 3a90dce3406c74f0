// The device side of one queue pair's rings, for a transport that is not
// PCIe: the host stack (the Wasm core) builds SQEs into the SQ ring in the
// region and reaps CQEs from the CQ ring exactly as it does for a PCIe
// controller; this class plays the controller's part on those rings.
//   fetch()      the SQEs between the device head and the tail the core last
//                rang (QP_SQ_TAIL_DB in the descriptor: the doorbell value)
//   complete()   a CQE into the CQ ring with the current phase tag, SQHD the
//                device head, the host's cid restored
// Per command it remembers what the transport needs (the host cid, the data
// buffer's region offset and length from the core's slot table), in typed
// arrays indexed by the core's slot: nothing is allocated per command.
import { QP_QSIZE, QP_SQ, QP_CQ, QP_SQ_TAIL_DB, QP_SLOT_BITS, QP_NSLOTS, QP_HDR_SIZE, QP_SLOT_SIZE, SLOT_LEN } from '../../assembly/abi/qpair.js';
import { SQE_SIZE, SQE_CID, SQE_PRP1, CQE_SIZE, CQE_DW3_P_SHIFT, CQE_DW3_SF_SHIFT } from '../../assembly/nvme/cmd.js';

/** Region offset of device address `a` (the region is mapped at IOVA_BASE, no DMA table over TCP). */
export type AddrToOffset = (addr: bigint) => number;

export class QueueRing {
  readonly qsize: number;
  readonly nslots: number;
  readonly slotMask: number;
  private readonly sq: number;
  private readonly cq: number;
  /** Next SQ entry the device takes. */
  head = 0;
  private cqTail = 0;
  private phase = 1;
  /** Host cid of the command in slot s. */
  readonly hostCid: Uint16Array;
  /** Region offset and length of slot s's data (len 0: none). */
  readonly dataOff: Uint32Array;
  readonly dataLen: Uint32Array;
  /** 1 while slot s is in flight on the wire. */
  readonly busy: Uint8Array;
  /** Opcode of slot s. */
  readonly opcode: Uint8Array;
  /**
   * A caller's own buffer that slot s's read lands in (a Node Buffer read in
   * place: C2HData goes straight into it, no bounce buffer); undefined: the
   * region at dataOff. Dropped when the command completes, fails or its
   * caller stops waiting (a timeout): late data then lands in the region.
   */
  readonly dest: Array<Uint8Array | undefined>;
  /** Commands in flight on the wire. */
  inFlight = 0;
  /** Called after CQEs were written (the queue pair reaps them). */
  notify: () => void = () => {};

  constructor(
    readonly qid: number,
    /** Region offset of the core's descriptor. */
    readonly desc: number,
    private readonly dv: DataView,
    readonly u8: Uint8Array,
    private readonly toOffset: AddrToOffset,
  ) {
    this.qsize = dv.getUint32(desc + QP_QSIZE, true);
    this.sq = dv.getUint32(desc + QP_SQ, true);
    this.cq = dv.getUint32(desc + QP_CQ, true);
    this.nslots = dv.getUint32(desc + QP_NSLOTS, true);
    this.slotMask = (1 << dv.getUint32(desc + QP_SLOT_BITS, true)) - 1;
    this.hostCid = new Uint16Array(this.nslots);
    this.dataOff = new Uint32Array(this.nslots);
    this.dataLen = new Uint32Array(this.nslots);
    this.busy = new Uint8Array(this.nslots);
    this.opcode = new Uint8Array(this.nslots);
    this.dest = new Array<Uint8Array | undefined>(this.nslots).fill(undefined);
  }

  /** Start over (the core reset the rings: qpInit or qpReset). */
  reset(): void {
    this.head = 0;
    this.cqTail = 0;
    this.phase = 1;
    this.busy.fill(0);
    this.dest.fill(undefined);
    this.inFlight = 0;
  }

  /** The tail the core last rang. */
  get tail(): number {
    return this.dv.getUint32(this.desc + QP_SQ_TAIL_DB, true);
  }

  /**
   * Take the SQE at the head: records the slot's cid, buffer and length and
   * returns the slot and the SQE's region offset (through `out`), or false
   * when the ring is empty.
   */
  fetch(out: { slot: number; sqe: number }): boolean {
    if (this.head === this.tail) return false;
    const e = this.sq + this.head * SQE_SIZE;
    this.head = this.head + 1 === this.qsize ? 0 : this.head + 1;
    const dv = this.dv;
    const cid = dv.getUint16(e + SQE_CID, true);
    const slot = cid & this.slotMask;
    const len = slot < this.nslots ? dv.getUint32(this.desc + QP_HDR_SIZE + slot * QP_SLOT_SIZE + SLOT_LEN, true) : 0;
    out.slot = slot;
    out.sqe = e;
    if (slot >= this.nslots) return true; // a corrupt cid: the caller completes it as such
    this.hostCid[slot] = cid;
    this.opcode[slot] = this.u8[e]!;
    this.dataLen[slot] = len;
    this.dataOff[slot] = len > 0 ? this.toOffset(dv.getBigUint64(e + SQE_PRP1, true)) : 0;
    return true;
  }

  /** Mark slot s in flight on the wire. */
  send(slot: number): void {
    if (!this.busy[slot]) this.inFlight++;
    this.busy[slot] = 1;
  }

  /**
   * Write the CQE of slot `slot`: dword 0 and 1 as the target gave them,
   * `sf` the status field (15 bits). Does not notify (the caller does, once
   * per batch).
   */
  complete(slot: number, dw0: number, dw1: number, sf: number): void {
    this.dest[slot] = undefined;
    if (this.busy[slot]) {
      this.busy[slot] = 0;
      this.inFlight--;
    }
    const dv = this.dv;
    const e = this.cq + this.cqTail * CQE_SIZE;
    dv.setUint32(e, dw0, true);
    dv.setUint32(e + 4, dw1, true);
    dv.setUint32(e + 8, (this.head & 0xffff) | (this.qid << 16), true);
    dv.setUint32(e + 12, (this.hostCid[slot]! | (this.phase << CQE_DW3_P_SHIFT) | ((sf & 0x7fff) << CQE_DW3_SF_SHIFT)) >>> 0, true);
    if (++this.cqTail === this.qsize) {
      this.cqTail = 0;
      this.phase ^= 1;
    }
  }

  /** Complete every command in flight with status field `sf` (a connection loss); returns how many. */
  failInFlight(sf: number): number {
    let n = 0;
    for (let s = 0; s < this.nslots; s++) {
      if (!this.busy[s]) continue;
      this.complete(s, 0, 0, sf);
      n++;
    }
    if (n > 0) this.notify();
    return n;
  }
}
