// Accessors for a queue pair descriptor's header (assembly/abi/qpair.ts,
// QP_*), as the host reads it: ring addresses for the Create commands and
// the admin queue registers, and the counters the core keeps. The core owns
// every other word; the host never writes one.
import {
  QP_QSIZE, QP_SQ, QP_CQ, QP_SLOT_BITS, QP_SUBMITTED, QP_COMPLETED, QP_SQ_DB_WRITES, QP_CQ_DB_WRITES, QP_BOGUS, QP_BOGUS_DW2,
  QP_BOGUS_DW3, QP_SQ_FULL_SEEN, QP_HDR_SIZE, QP_CQ_HEAD, QP_CQ_PHASE, QP_OWNER_BITS,
} from '../../assembly/abi/qpair.js';
import { CQE_DW3_CID_MASK, CQE_DW3_CID_SHIFT, CQE_DW3_SF_SHIFT, CQE_DW2_SQHD_SHIFT, CQE_DW2_SQHD_MASK, CQE_DW2_SQID_SHIFT, CQE_DW2_SQID_MASK } from '../../assembly/nvme/cmd.js';
import { regField } from '../../assembly/nvme/regs.js';

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
  /** Next CQ entry the host reads, and the phase tag that marks it new (the core's; read unlocked, a hint). */
  get cqHead(): number { return this.u32(QP_CQ_HEAD); }
  get cqPhase(): number { return this.u32(QP_CQ_PHASE); }
  /** Low cid bits that are the slot index. */
  get slotBits(): number { return this.u32(QP_SLOT_BITS); }
  get ownerBits(): number { return this.u32(QP_OWNER_BITS); }
  get submitted(): number { return this.u32(QP_SUBMITTED); }
  get completed(): number { return this.u32(QP_COMPLETED); }
  get sqDoorbellWrites(): number { return this.u32(QP_SQ_DB_WRITES); }
  get cqDoorbellWrites(): number { return this.u32(QP_CQ_DB_WRITES); }
  get sqFullSeen(): number { return this.u32(QP_SQ_FULL_SEEN); }
  /** Malformed completions the core consumed. */
  get bogus(): number { return this.u32(QP_BOGUS); }
  /** The counters, as a queue pair reports them. */
  counters(): { submitted: number; completed: number; sqDoorbells: number; cqDoorbells: number; bogusCompletions: number; sqFull: number } {
    return {
      submitted: this.submitted, completed: this.completed, sqDoorbells: this.sqDoorbellWrites, cqDoorbells: this.cqDoorbellWrites,
      bogusCompletions: this.bogus, sqFull: this.sqFullSeen,
    };
  }

  /** The last malformed completion's fields (CQE dwords 2 and 3, 4.6). */
  lastBogus(): { sqid: number; sqhd: number; cid: number; statusField: number } {
    const dw2 = this.bogusDw2;
    const dw3 = this.bogusDw3;
    return {
      sqid: regField(dw2, CQE_DW2_SQID_SHIFT, CQE_DW2_SQID_MASK), sqhd: regField(dw2, CQE_DW2_SQHD_SHIFT, CQE_DW2_SQHD_MASK),
      cid: regField(dw3, CQE_DW3_CID_SHIFT, CQE_DW3_CID_MASK), statusField: dw3 >>> CQE_DW3_SF_SHIFT,
    };
  }

  /** Dwords 2 and 3 of the last malformed completion. */
  get bogusDw2(): number { return this.u32(QP_BOGUS_DW2); }
  get bogusDw3(): number { return this.u32(QP_BOGUS_DW3); }
}
