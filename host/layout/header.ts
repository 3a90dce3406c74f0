// Accessors for the region header (assembly/abi/region.ts, HDR_*): the only
// module that reads or writes those words. Words other processes change
// while this one runs (state, locks, the primary) are read and written
// atomically; the rest are written once by the primary before the region is
// Ready.
//
//   region header (HDR_SIZE bytes at region offset 0)
//   +0    magic | layout version | core hash | region size
//   +16   state | heap off | heap pages | page map off
//   +32   alloc lock | alloc hint | free pages | admin lock
//   +48   IOVA lo | IOVA hi | generation | primary (slot + 1)
//   +64   lock want at | alloc waiters | lock want | DMA table
//   +80   shadow doorbells | lock wait mask lo | lock wait mask hi
//   +256  transport ID (NUL-terminated, HDR_TRID_LEN bytes)
import {
  HDR_MAGIC, HDR_LAYOUT_VERSION, HDR_CORE_HASH, HDR_REGION_SIZE, HDR_STATE, HDR_HEAP_OFF, HDR_HEAP_PAGES, HDR_PAGEMAP_OFF,
  HDR_FREE_PAGES, HDR_IOVA_LO, HDR_IOVA_HI, HDR_PRIMARY, HDR_DMA_TABLE, HDR_SHADOW_DB, HDR_TRID, HDR_TRID_LEN,
  HDR_ADMIN_LOCK, HDR_ALLOC_LOCK, HDR_LOCK_WANT, HDR_LOCK_WANT_AT, HDR_LOCK_WAIT_LO, HDR_LOCK_WAIT_HI, REGION_MAGIC, REGION_LAYOUT_VERSION, HEAP_PAGE_SIZE,
  RegionState,
} from '../../assembly/abi/region.js';
import { ControllerError } from '../errors.js';

/** The words of one region's header, over this process's view of it (a mapping, or bytes read from the file). */
export class RegionHeader {
  private readonly dv: DataView;
  private readonly i32: Int32Array;

  /** `bytes` starts at region offset 0 and spans at least the header. */
  constructor(bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.i32 = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }

  private u32(off: number): number {
    return this.dv.getUint32(off, true);
  }

  private atomic(off: number): number {
    return Atomics.load(this.i32, off >>> 2) >>> 0;
  }

  get magic(): number { return this.u32(HDR_MAGIC); }
  get layoutVersion(): number { return this.u32(HDR_LAYOUT_VERSION); }
  get coreHash(): number { return this.u32(HDR_CORE_HASH); }
  get regionSize(): number { return this.u32(HDR_REGION_SIZE); }
  get heapOffset(): number { return this.u32(HDR_HEAP_OFF); }
  get heapPages(): number { return this.u32(HDR_HEAP_PAGES); }
  get pageMapOffset(): number { return this.u32(HDR_PAGEMAP_OFF); }
  /** Free heap bytes (the allocator keeps the page count). */
  get freeBytes(): number { return this.u32(HDR_FREE_PAGES) * HEAP_PAGE_SIZE; }
  get heapBytes(): number { return this.heapPages * HEAP_PAGE_SIZE; }

  /** Is this an nvme-wasm region at all (the magic word)? */
  get hasMagic(): boolean { return this.magic === REGION_MAGIC; }

  get state(): RegionState { return this.atomic(HDR_STATE) as RegionState; }
  /** Publish a state; Ready last of all the primary writes (a secondary that sees it sees the rest). */
  set state(s: RegionState) { Atomics.store(this.i32, HDR_STATE >>> 2, s); }

  /** Slot of the primary, -1 for none. */
  get primarySlot(): number { return this.atomic(HDR_PRIMARY) - 1; }
  set primarySlot(slot: number) { Atomics.store(this.i32, HDR_PRIMARY >>> 2, slot + 1); }
  /** Make `slot` primary if the word still names `expected` (slots, -1 for none). */
  casPrimary(expected: number, slot: number): boolean {
    return Atomics.compareExchange(this.i32, HDR_PRIMARY >>> 2, expected + 1, slot + 1) === expected + 1;
  }

  get iova(): bigint { return BigInt(this.u32(HDR_IOVA_LO)) | (BigInt(this.u32(HDR_IOVA_HI)) << 32n); }
  get iovaLo(): number { return this.u32(HDR_IOVA_LO); }
  get iovaHi(): number { return this.u32(HDR_IOVA_HI); }

  /** Region offset of the DMA page table (uio), 0 for linear addresses. */
  get dmaTable(): number { return this.u32(HDR_DMA_TABLE); }
  set dmaTable(off: number) { this.dv.setUint32(HDR_DMA_TABLE, off, true); }

  /** Region offset of the shadow doorbell page (EventIdx page after it), 0 when off. */
  get shadowDoorbells(): number { return this.u32(HDR_SHADOW_DB); }
  set shadowDoorbells(off: number) { this.dv.setUint32(HDR_SHADOW_DB, off, true); }

  /** The group's transport ID, as the primary stored it. */
  get trid(): string {
    return Buffer.from(this.dv.buffer, this.dv.byteOffset + HDR_TRID, HDR_TRID_LEN).toString('latin1').replace(/\0.*$/s, '');
  }
  set trid(text: string) {
    const b = Buffer.from(text, 'latin1').subarray(0, HDR_TRID_LEN - 1);
    const dst = new Uint8Array(this.dv.buffer, this.dv.byteOffset + HDR_TRID, HDR_TRID_LEN);
    dst.fill(0);
    dst.set(b);
  }

  // ---- the group lock's words (host/group.ts) ----

  /** Holder of the admin (group) lock: slot + 1, 0 = free. */
  get adminLockWord(): number { return this.atomic(HDR_ADMIN_LOCK); }
  /** Holder of the allocator lock: slot + 1, 0 = free. */
  get allocLockWord(): number { return this.atomic(HDR_ALLOC_LOCK); }
  /** The process the lock is reserved for (slot + 1), 0 = none: the others leave it the lock. */
  get lockWant(): number { return this.atomic(HDR_LOCK_WANT); }
  /** Reserve the lock for `value` (slot + 1) if the word still says `expected`, stamping the time (`atUs`). */
  casLockWant(expected: number, value: number, atUs = 0): boolean {
    if (value !== 0) Atomics.store(this.i32, HDR_LOCK_WANT_AT >>> 2, atUs | 0);
    return Atomics.compareExchange(this.i32, HDR_LOCK_WANT >>> 2, expected, value) === expected;
  }
  /** When the reservation was made (monoUs() of the process that made it). */
  get lockWantAt(): number { return this.atomic(HDR_LOCK_WANT_AT); }

  /** Is process `slot` marked as waiting for the lock? */
  lockWaiting(slot: number): boolean {
    return ((this.atomic(slot < 32 ? HDR_LOCK_WAIT_LO : HDR_LOCK_WAIT_HI) >>> (slot & 31)) & 1) !== 0;
  }
  /** Mark process `slot` as waiting for the lock, or not. */
  setLockWaiting(slot: number, on: boolean): void {
    const i = (slot < 32 ? HDR_LOCK_WAIT_LO : HDR_LOCK_WAIT_HI) >>> 2;
    const bit = 1 << (slot & 31);
    if (on) Atomics.or(this.i32, i, bit);
    else Atomics.and(this.i32, i, ~bit);
  }
  /** The waiting mask: slots 0..31, 32..62. */
  get lockWaitLo(): number { return this.atomic(HDR_LOCK_WAIT_LO); }
  get lockWaitHi(): number { return this.atomic(HDR_LOCK_WAIT_HI); }

  /**
   * The one version check: the layout version and the core build a primary
   * wrote must be this process's, or the two cannot share the region.
   * Throws ControllerError('unsupported') naming both.
   */
  checkVersion(what: string, coreHash: number): void {
    const layout = this.layoutVersion;
    const hash = this.coreHash;
    if (layout !== REGION_LAYOUT_VERSION || hash !== coreHash) {
      const hex = (h: number) => h.toString(16).padStart(8, '0');
      throw new ControllerError(
        `version mismatch: ${what} runs layout ${layout} core ${hex(hash)}, this process is layout ${REGION_LAYOUT_VERSION} core ${hex(coreHash)}`,
        'unsupported',
      );
    }
  }
}

/** Region offsets of the two lock words: the core's lock functions and the futex take them. */
export const ADMIN_LOCK: number = HDR_ADMIN_LOCK;
export const ALLOC_LOCK: number = HDR_ALLOC_LOCK;
