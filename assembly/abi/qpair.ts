// Queue pair descriptor, allocated from the region's heap (so another process
// can inspect and clean up a dead process's queues). All fields are u32.
//
//   +0    +---------------------------+
//         | QP_QID .. QP_POST_TAIL    |  ring state, doorbells, limits, counters
//   +128  +---------------------------+
//         | QP_STATS, reserved (0)    |  statistics block the poll counts into
//   +160  +---------------------------+
//         | slot table, QP_SLOT_SIZE  |  one entry per command slot:
//         | bytes per slot            |    u16 cid, u16 state, u32 next free
//         |                           |    or opcode, u32 data length, u32 0
//         +---------------------------+
//
// A command identifier (cid) is laid out as
//   [ 15 ............ slotBits+ownerBits | ownerBits .. slotBits | slotBits-1 .. 0 ]
//   [ generation (bumped on each reuse)  | owner process slot    | slot index     ]
// ownerBits is 0 on I/O queues (one process owns them) and QP_ADMIN_OWNER_BITS
// on the shared admin queue, so any process reaping it can tell whose
// completion it holds.

export const QP_QID: u32 = 0;
export const QP_QSIZE: u32 = 4; // entries in each ring
export const QP_SQ: u32 = 8; // region offset of the SQ ring
export const QP_CQ: u32 = 12; // region offset of the CQ ring
export const QP_SQ_DB: u32 = 16; // BAR offset of SQ tail doorbell
export const QP_CQ_DB: u32 = 20; // BAR offset of CQ head doorbell
export const QP_SQ_TAIL: u32 = 24; // next SQ entry the host writes
export const QP_SQ_TAIL_DB: u32 = 28; // tail value last written to the doorbell
export const QP_SQ_HEAD: u32 = 32; // SQ head as last reported by CQE.SQHD
export const QP_CQ_HEAD: u32 = 36; // next CQ entry the host reads
export const QP_CQ_PHASE: u32 = 40; // phase tag value that marks a new entry
export const QP_CQ_HEAD_DB: u32 = 44; // head value last written to the doorbell
export const QP_SLOT_BITS: u32 = 48;
export const QP_NSLOTS: u32 = 52;
export const QP_OUTSTANDING: u32 = 56;
export const QP_FREE_SLOT: u32 = 60; // head of the free-slot list, SLOT_NONE if empty
export const QP_PRP: u32 = 64; // region offset of the PRP list pages
export const QP_PRP_PAGES: u32 = 68; // PRP list pages per slot
export const QP_MAX_XFER: u32 = 72; // bytes per command
export const QP_OWNER_BITS: u32 = 76;
export const QP_BOGUS: u32 = 80; // malformed completions seen
export const QP_BOGUS_DW2: u32 = 84; // last malformed completion, dword 2
export const QP_BOGUS_DW3: u32 = 88; // and dword 3
export const QP_OWNER_PROC: u32 = 92; // process slot owning an I/O queue pair
export const QP_FLAGS: u32 = 96;
export const QP_SQ_FULL_SEEN: u32 = 100; // times a submission found the SQ full
export const QP_SQ_DB_WRITES: u32 = 104; // SQ tail doorbell writes (batching shows as fewer than commands)
export const QP_CQ_DB_WRITES: u32 = 108; // CQ head doorbell writes
export const QP_SUBMITTED: u32 = 112; // commands posted
export const QP_COMPLETED: u32 = 116; // completions reported
// Crash safety of the shared admin queue: post() sets QP_POST_TAIL (the tail
// it writes at) and QP_POST_SLOT (slot + 1) before taking a slot, and clears
// QP_POST_SLOT after advancing the tail, so whoever recovers the lock from a
// process that died mid-post can tell a posted command from a half-written
// one. QP_POST_TAIL means nothing while QP_POST_SLOT is 0.
export const QP_POST_SLOT: u32 = 120;
export const QP_POST_TAIL: u32 = 124;
// Region offset of this queue pair's live statistics block (abi/stats.ts),
// 0 for none. While set, every poll adds its batch's reads, writes, errors
// and bytes to the block's core-written fields, in one store per field.
export const QP_STATS: u32 = 128;
// 132 .. QP_HDR_SIZE - 1: reserved, zero.
export const QP_HDR_SIZE: u32 = 160;

export const QP_SLOT_SIZE: u32 = 16;
export const SLOT_CID: u32 = 0; // u16
export const SLOT_STATE: u32 = 2; // u16 SlotState
export const SLOT_NEXT: u32 = 4; // u32: next free slot when free, the opcode when outstanding
export const SLOT_LEN: u32 = 8; // u32: data bytes of the outstanding command (its buffer length, 0 for none)
// 12 .. QP_SLOT_SIZE - 1: reserved, zero.

export const SLOT_NONE: u32 = 0xffffffff;
export const QP_ADMIN_OWNER_BITS: u32 = 6;

export enum SlotState {
  Free = 0,
  Outstanding = 1,
  /**
   * Completed and handed to its owner's mailbox (shared admin queue): the
   * slot, and so its cid, stays taken until the owner has read the record,
   * so the owner never sees a cid of its own reused while it still waits.
   */
  Delivered = 2,
}

/** Bytes a queue pair descriptor takes for nslots command slots. */
export function qpDescriptorSize(nslots: u32): u32 {
  return QP_HDR_SIZE + nslots * QP_SLOT_SIZE;
}

// Completion records handed from the core to the host after a poll, in the
// core's private memory: OUT_STRIDE u32 per completion.
export const OUT_SLOT: u32 = 0; // slot, with OUT_SLOT_AEN set on an event copy (admin)
export const OUT_SLOT_AEN: u32 = 0x80000000;
export const OUT_STATUS: u32 = 1; // status field, 15 bits (cmd.ts SF_*)
export const OUT_DW0: u32 = 2;
export const OUT_CID: u32 = 3;
export const OUT_STRIDE: u32 = 4;
export const OUT_MAX: u32 = 256;
