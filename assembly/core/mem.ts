// Where the core's view of the world lives, and tiny accessors for it.
//
//   this process's Wasm memory
//   0            +----------------------+
//                | core statics         |  below CORE_LOW_RESERVED
//   regionBase   +----------------------+  2 MiB aligned virtual address
//                | shared region        |  file mapped MAP_SHARED | MAP_FIXED
//   barBase      +----------------------+
//                | BAR0 window          |  device registers and doorbells
//                +----------------------+
//
// regionBase and barBase are Wasm addresses private to this process; only
// region offsets (u32) are ever stored in shared memory.

import { REG_DBS } from '../nvme/regs';
import { DMA_PAGE_SHIFT, DMA_PAGE_SIZE } from '../abi/region';

export let regionBase: usize = 0;
export let regionSize: u32 = 0;
export let barBase: usize = 0;
export let iovaBase: u64 = 0;
// Region offset of the DMA page table (uio: physical address per 2 MiB
// page), 0 for linear IOVAs. A copy of HDR_DMA_TABLE.
export let dmaTable: u32 = 0;
// Shadow doorbells (NVMe 1.4, 5.10 and 7.13): region offsets of the shadow
// doorbell and EventIdx pages (0 = off) and the BAR offset of the first
// shadowed doorbell (I/O queue 1's: the admin queue's stay plain MMIO, as
// in Linux). Copies of HDR_SHADOW_DB and what the controller derives.
export let shadowDb: u32 = 0;
export let eventIdx: u32 = 0;
export let shadowFrom: u32 = 0;
// MMIO doorbell writes the EventIdx rule let us skip (this process).
export let mmioSkipped: u32 = 0;

export function setRegionWindow(base: usize, size: u32): void {
  regionBase = base;
  regionSize = size;
}

export function setBarWindow(base: usize): void {
  barBase = base;
}

export function setIovaBase(lo: u32, hi: u32): void {
  iovaBase = (<u64>hi << 32) | <u64>lo;
}

export function setDmaTable(off: u32): void {
  dmaTable = off;
}

export function setShadowDoorbells(db: u32, ei: u32, from: u32): void {
  shadowDb = db;
  eventIdx = ei;
  shadowFrom = from;
}

export function doorbellsSkipped(): u32 {
  return mmioSkipped;
}

// @ts-ignore: decorator
@inline export function rAddr(off: u32): usize {
  return regionBase + <usize>off;
}
// @ts-ignore: decorator
@inline export function r32(off: u32): u32 {
  return load<u32>(regionBase + <usize>off);
}
// @ts-ignore: decorator
@inline export function w32(off: u32, v: u32): void {
  store<u32>(regionBase + <usize>off, v);
}
// @ts-ignore: decorator
@inline export function r16(off: u32): u32 {
  return <u32>load<u16>(regionBase + <usize>off);
}
// @ts-ignore: decorator
@inline export function w16(off: u32, v: u32): void {
  store<u16>(regionBase + <usize>off, <u16>v);
}
// @ts-ignore: decorator
@inline export function w64(off: u32, v: u64): void {
  store<u64>(regionBase + <usize>off, v);
}
/** Add to an f64 counter (plain load and store: its one writer is this process). */
// @ts-ignore: decorator
@inline export function addF64(off: u32, v: f64): void {
  store<f64>(regionBase + <usize>off, load<f64>(regionBase + <usize>off) + v);
}

/**
 * Device address of a region offset. VFIO and the simulator: one linear IOVA
 * window. uio: the physical address of the offset's 2 MiB page from the
 * table, plus the offset inside it (hugepages are physically contiguous, the
 * region as a whole is not). Callers never let one DMA object cross a 2 MiB
 * boundary except page by page (PRP entries are per 4 KiB page).
 */
// @ts-ignore: decorator
@inline export function dmaAddr(off: u32): u64 {
  if (dmaTable == 0) return iovaBase + <u64>off;
  return load<u64>(regionBase + <usize>dmaTable + ((<usize>(off >> DMA_PAGE_SHIFT)) << 3)) + <u64>(off & (DMA_PAGE_SIZE - 1));
}

/** dmaAddr for the host (admin queue base registers). */
export function dmaAddrOf(off: u32): u64 {
  return dmaAddr(off);
}

// A private word for barriers: binaryen rejects AssemblyScript's bare
// atomic.fence, so a sequentially consistent read-modify-write on a word no
// one else touches does the fencing (lock-prefixed on x86: a full barrier,
// and a point the Wasm compiler does not move memory accesses across).
const FENCE_WORD: usize = memory.data(4, 4);

/**
 * Ring a doorbell. The barrier orders every earlier store to queue memory
 * before the doorbell store, so the device never sees a tail that points
 * past entries it cannot yet read. The doorbell itself is a plain store:
 * locked read-modify-write cycles are not for MMIO.
 */
// @ts-ignore: decorator
@inline export function ringDoorbell(dbOff: u32, value: u32): void {
  if (shadowDb != 0 && dbOff >= shadowFrom) {
    if (!shadowUpdate(dbOff - REG_DBS, value)) {
      mmioSkipped++;
      return;
    }
  } else atomic.or<u32>(FENCE_WORD, 0);
  store<u32>(barBase + <usize>dbOff, value);
}

/**
 * Write a shadow doorbell and decide whether the MMIO doorbell is needed
 * (NVMe 1.4, 7.13; Linux nvme_dbbuf_update_and_check_event). The
 * sequentially consistent store orders the queue entries before the shadow
 * value and the shadow value before the EventIdx load: without that full
 * barrier the controller could miss our new value while we miss its new
 * EventIdx, and nobody would ring.
 */
function shadowUpdate(i: u32, value: u32): bool {
  const old = r32(shadowDb + i);
  atomic.store<u32>(rAddr(shadowDb + i), value);
  atomic.or<u32>(FENCE_WORD, 0);
  return needEvent(atomic.load<u32>(rAddr(eventIdx + i)), value, old);
}

/**
 * The EventIdx rule: ring if the controller asked to be told when the index
 * passes `ei`, and moving from `old` to `next` passed it (16-bit wrapping
 * arithmetic, as virtio's vring_need_event).
 */
// @ts-ignore: decorator
@inline export function needEvent(ei: u32, next: u32, old: u32): bool {
  return ((next - ei - 1) & 0xffff) < ((next - old) & 0xffff);
}

/** Zero queue `qid`'s shadow doorbells and event indexes before the queue is created (a reused qid must not start from a stale value). */
export function shadowReset(sqDb: u32, cqDb: u32): void {
  if (shadowDb == 0) return;
  w32(shadowDb + sqDb - REG_DBS, 0);
  w32(shadowDb + cqDb - REG_DBS, 0);
  w32(eventIdx + sqDb - REG_DBS, 0);
  w32(eventIdx + cqDb - REG_DBS, 0);
}
