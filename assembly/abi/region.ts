// The shared region: one file (hugetlbfs or /dev/shm) mapped by every process
// of a group over a 2 MiB aligned window inside its own Wasm memory. Each
// process sees the window at a different Wasm address, so everything stored
// in the region is an offset from the window's start ("region-relative"),
// never a Wasm or virtual address. Device (DMA) addresses are IOVA_BASE +
// region offset.
//
//   region
//   0x00000 +----------------------------+
//           | header (HDR_*)             |  magic, versions, allocator state
//   0x01000 +----------------------------+
//           | process table (PROC_*)     |  PROC_SLOTS x PROC_ENTRY_SIZE
//   0x02000 +----------------------------+
//           | controller block (CTRL_*)  |  cached registers, admin queue,
//           |                            |  free-QID bitmap, stats directory
//   0x04000 +----------------------------+
//           | page map                   |  u32 per heap page (PM_*)
//           +----------------------------+  aligned to HEAP_ALIGN
//           | heap, 4 KiB pages          |  queues, PRP lists, slot tables,
//           |                            |  identify pages, data buffers
//   size    +----------------------------+

export const REGION_MAGIC: u32 = 0x574d564e; // "NVMW" little-endian
export const REGION_LAYOUT_VERSION: u32 = 7; // 3: CTRL_STATS_DIR; 4: CTRL_RESET_*; 5: QP_STATS, SLOT_LEN; 6: lock waiters (HDR_LOCK_WANT_AT, HDR_LOCK_WAIT_*, PROC_LOCK_WAKE); 7: stats blocks' Read/Write latency
export const REGION_ALIGN: u32 = 0x200000; // 2 MiB: hugetlbfs mapping granule
export const REGION_MIN_SIZE: u32 = 0x400000; // 4 MiB
export const REGION_MAX_SIZE: u32 = 0x7fe00000; // < 2 GiB: offsets stay positive i32

// Header
export const HDR_MAGIC: u32 = 0;
export const HDR_LAYOUT_VERSION: u32 = 4;
export const HDR_CORE_HASH: u32 = 8; // hash of the Wasm core build
export const HDR_REGION_SIZE: u32 = 12;
export const HDR_STATE: u32 = 16; // RegionState
export const HDR_HEAP_OFF: u32 = 20;
export const HDR_HEAP_PAGES: u32 = 24;
export const HDR_PAGEMAP_OFF: u32 = 28;
export const HDR_ALLOC_LOCK: u32 = 32; // 0 free, else holder's process slot + 1
export const HDR_ALLOC_HINT: u32 = 36; // heap page where the next search starts
export const HDR_FREE_PAGES: u32 = 40;
export const HDR_ADMIN_LOCK: u32 = 44; // 0 free, else holder's process slot + 1
export const HDR_IOVA_LO: u32 = 48;
export const HDR_IOVA_HI: u32 = 52;
export const HDR_GENERATION: u32 = 56; // bumped by every primary initialisation
export const HDR_PRIMARY: u32 = 60; // process slot + 1 of the primary, 0 = none
// When HDR_LOCK_WANT was set: CLOCK_MONOTONIC in microseconds, modulo 2^32
// (a reservation not taken up within a few ms lapses).
export const HDR_LOCK_WANT_AT: u32 = 64;
export const HDR_ALLOC_WAITERS: u32 = 68;
// The process HDR_ADMIN_LOCK is reserved for (slot + 1, 0 = none): one that
// waited too long. Others leave the lock to it until it has it or the
// reservation lapses.
export const HDR_LOCK_WANT: u32 = 72;
// Device addresses without an IOMMU (uio): region offset of the DMA page
// table, one u64 physical address per DMA_PAGE_SIZE page of the region;
// 0 = linear addresses, IOVA base + region offset (VFIO, simulator).
export const HDR_DMA_TABLE: u32 = 76;
// Shadow doorbells (NVMe 1.4, 5.10 Doorbell Buffer Config): region offset of
// the shadow doorbell page, the EventIdx page right after it; 0 = off.
export const HDR_SHADOW_DB: u32 = 80;
// Processes waiting for HDR_ADMIN_LOCK, one bit per process slot (slots
// 0..31 in LO, 32..62 in HI). A releaser wakes the next waiter after itself
// (round robin) that is asleep on its PROC_LOCK_WAKE word.
export const HDR_LOCK_WAIT_LO: u32 = 84;
export const HDR_LOCK_WAIT_HI: u32 = 88;
export const HDR_TRID: u32 = 0x100; // the group's transport ID, NUL-terminated ASCII
export const HDR_TRID_LEN: u32 = 256;
export const HDR_SIZE: u32 = 0x1000;

export enum RegionState {
  Empty = 0,
  Initialising = 1,
  Ready = 2,
  Failed = 3,
  /** The last member left; the file is being removed. Joiners start afresh. */
  Closed = 4,
}

// Process table: who is in the group. An entry is claimed and released
// under HDR_ADMIN_LOCK; a process is identified by pid AND start time, so a
// recycled pid is never mistaken for the process that died.
export const PROC_TABLE_OFF: u32 = 0x1000;
export const PROC_SLOTS: u32 = 63; // slots 0..62; owner 63 is GROUP_OWNER
export const PROC_ENTRY_SIZE: u32 = 64;
export const PROC_STATE: u32 = 0; // ProcState
export const PROC_PID: u32 = 4;
export const PROC_START_LO: u32 = 8; // start time, clock ticks since boot
export const PROC_START_HI: u32 = 12;
export const PROC_CLEANER: u32 = 16; // slot + 1 of the process cleaning up after this one
export const PROC_GEN: u32 = 20; // bumped each time the slot is claimed
export const PROC_ROLE: u32 = 24; // ProcRole, informational
export const PROC_LOCK_WAKE: u32 = 28; // futex word: 1 while its process sleeps waiting for the group lock; a releaser swaps 0 in and wakes it

// Allocator owner of group-wide structures (admin queue, mailboxes, cached
// identify data): never reclaimed with a process.
export const GROUP_OWNER: u32 = 63;

export enum ProcState {
  Free = 0,
  /** Claimed by compare-and-swap; pid and start time being written. */
  Joining = 1,
  Live = 2,
  /** Dead; a survivor is deleting its queues and reclaiming its memory. */
  Cleaning = 3,
}

export enum ProcRole {
  Secondary = 0,
  Primary = 1,
}

// Controller block
export const CTRL_OFF: u32 = 0x2000;
export const CTRL_CAP_LO: u32 = CTRL_OFF + 0;
export const CTRL_CAP_HI: u32 = CTRL_OFF + 4;
export const CTRL_VS: u32 = CTRL_OFF + 8;
export const CTRL_MAX_XFER: u32 = CTRL_OFF + 12; // bytes, MDTS and driver cap applied
export const CTRL_NSQA: u32 = CTRL_OFF + 16; // I/O SQs allocated (1's based)
export const CTRL_NCQA: u32 = CTRL_OFF + 20; // I/O CQs allocated (1's based)
export const CTRL_ADMIN_QP: u32 = CTRL_OFF + 24; // region offset of the admin queue pair
export const CTRL_IDCTRL: u32 = CTRL_OFF + 28; // region offset of Identify Controller data
export const CTRL_MBOX: u32 = CTRL_OFF + 32; // region offset of the mailboxes
export const CTRL_MAX_QUEUE_PAIRS: u32 = CTRL_OFF + 36; // I/O queue pairs granted (the pool)
export const CTRL_DSTRD: u32 = CTRL_OFF + 40;
export const CTRL_AER_WANTED: u32 = CTRL_OFF + 44; // AERs the primary keeps outstanding
// Controller reset (any member may run one; see host/reset.ts). CTRL_RESET_GEN
// is even while the controller is usable and odd while a reset runs: a
// member that sees it change fails its in-flight commands, and once it is
// even again, creates its own I/O queues anew.
export const CTRL_RESET_GEN: u32 = CTRL_OFF + 48;
export const CTRL_RESET_OWNER: u32 = CTRL_OFF + 52; // process slot + 1 running the reset, 0 = none
export const CTRL_RESET_RESULT: u32 = CTRL_OFF + 56; // ResetResult of the last reset
export const CTRL_RESET_REASON: u32 = CTRL_OFF + 60; // ResetCause of the last reset
export const CTRL_RESETS: u32 = CTRL_OFF + 64; // resets completed

export enum ResetResult {
  Ok = 0,
  /** The controller did not come back (CSTS.RDY, CSTS.CFS, Number of Queues). */
  Failed = 1,
  /** The registers read all ones: the device is gone. */
  Removed = 2,
}

export enum ResetCause {
  Requested = 0,
  Fatal = 1,
  Timeout = 2,
}
// QID ownership: one byte per I/O QID, process slot + 1 of the owner, 0 = free.
export const CTRL_QID_OWNER: u32 = CTRL_OFF + 0x100;
export const CTRL_MAX_QID: u32 = 1023;
// Statistics directory: one u32 per I/O QID, the region offset of that queue
// pair's stats block (abi/stats.ts), 0 = none.
export const CTRL_STATS_DIR: u32 = CTRL_OFF + 0x800; // .. + 0x1800
export const CTRL_SIZE: u32 = 0x2000;

// Mailboxes: one per process slot. Whoever reaps the shared admin CQ puts
// other processes' completions (and a copy of every asynchronous event) in
// their owner's mailbox, then bumps MBOX_WAKE. Written under
// HDR_ADMIN_LOCK; read by its owner alone, who polls for it (a hint read
// of head and tail without the lock). MBOX_WAKE counts deliveries, a futex
// word for a waiter; nobody sleeps on it, so nobody wakes it (a wake per
// delivery was a system call each, waiter or not).
//
//   mailbox (MBOX_STRIDE bytes)
//   +0  head | tail | dropped | wake  +16 entries, MBOX_ENTRY_SIZE each
export const MBOX_STRIDE: u32 = 4096;
export const MBOX_HEAD: u32 = 0; // next entry the owner reads
export const MBOX_TAIL: u32 = 4; // next entry a reaper writes
export const MBOX_DROPPED: u32 = 8; // events dropped on a full mailbox
export const MBOX_WAKE: u32 = 12; // bumped on every delivery (a futex word nobody waits on today)
export const MBOX_ENTRIES_OFF: u32 = 16;
export const MBOX_ENTRY_SIZE: u32 = 16;
export const MBOX_ENTRIES: u32 = 255;
export const MB_CID: u32 = 0;
export const MB_STATUS: u32 = 4;
export const MB_DW0: u32 = 8;
export const MB_FLAGS: u32 = 12; // MB_FLAG_*
export const MB_FLAG_AEN: u32 = 1; // a copy of an asynchronous event, not a command of ours

export const PAGEMAP_OFF: u32 = 0x4000;
export const HEAP_ALIGN: u32 = 0x10000;
export const HEAP_PAGE_SHIFT: u32 = 12;
export const HEAP_PAGE_SIZE: u32 = 4096;

// Page map entry, one u32 per heap page:
//   bit 31     used
//   bit 30     head of an allocation run
//   bits 29:24 owner process slot
//   bits 23:0  run length in pages (head only)
export const PM_USED: u32 = 0x80000000;
export const PM_HEAD: u32 = 0x40000000;
export const PM_OWNER_SHIFT: u32 = 24;
export const PM_OWNER_MASK: u32 = 0x3f;
export const PM_PAGES_MASK: u32 = 0xffffff;

// DMA page table granule: a hugepage, physically contiguous (= REGION_ALIGN).
export const DMA_PAGE_SHIFT: u32 = 21;
export const DMA_PAGE_SIZE: u32 = 0x200000;
export const DMA_TABLE_ENTRY: u32 = 8;

// Where the window sits in each process's Wasm memory: the core's own data
// lives below CORE_LOW_RESERVED, then the 2 MiB aligned window, then BAR
// windows. These are Wasm addresses, private to one process.
export const CORE_LOW_RESERVED: u32 = 0x100000; // 1 MiB
