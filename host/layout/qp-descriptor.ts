// Accessors for a queue pair descriptor's header (assembly/abi/qpair.ts,
// QP_*), as the host reads it: ring addresses for the Create commands and
// the admin queue registers, and the counters the core keeps. The core owns
// every other word; the host never writes one.
import {
  QP_QSIZE, QP_SQ, QP_CQ, QP_SLOT_BITS, QP_SUBMITTED, QP_COMPLETED, QP_SQ_DB_WRITES, QP_CQ_DB_WRITES, QP_BOGUS, QP_BOGUS_DW2,
  QP_BOGUS_DW3, QP_SQ_FULL_SEEN, QP_HDR_SIZE,
} from '../../assembly/abi/qpair.js';

export class QpDescriptor {
  private readonly dv: DataView;

  /** The descriptor at region offset `desc` of the region viewed by `regionBytes`. */
  constructor(regionBytes: Uint8Array, readonly desc: number) {
    this.dv = new DataView(regionBytes.buffer, regionBytes.byteOffset + desc, QP_HDR_SIZE);
  }

  private u32(off: number): number { return this.dv.getUint32(off, true); }

  /** Entries in each ring. */
  get depth(): number { return this.u32(QP_QSIZE); }
  /** Region offset of the SQ ring. */
  get sq(): number { return this.u32(QP_SQ); }
  /** Region offset of the CQ ring. */
  get cq(): number { return this.u32(QP_CQ); }
  /** Low cid bits that are the slot index. */
  get slotBits(): number { return this.u32(QP_SLOT_BITS); }
  get submitted(): number { return this.u32(QP_SUBMITTED); }
  get completed(): number { return this.u32(QP_COMPLETED); }
  get sqDoorbellWrites(): number { return this.u32(QP_SQ_DB_WRITES); }
  get cqDoorbellWrites(): number { return this.u32(QP_CQ_DB_WRITES); }
  get sqFullSeen(): number { return this.u32(QP_SQ_FULL_SEEN); }
  /** Malformed completions the core consumed. */
  get bogus(): number { return this.u32(QP_BOGUS); }
  /** Dwords 2 and 3 of the last malformed completion. */
  get bogusDw2(): number { return this.u32(QP_BOGUS_DW2); }
  get bogusDw3(): number { return this.u32(QP_BOGUS_DW3); }
}
