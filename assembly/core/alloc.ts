// DMA memory allocator over the region's heap: page granular (4 KiB), first
// fit from a rotating hint, any power-of-two alignment up to 2 MiB, optional
// zeroing, and an owner per allocation so a dead process's buffers can be
// reclaimed. State lives in the region (header + page map) and is changed
// only under the allocator lock, so every process of a group shares one heap.
//
//   page map, one u32 per heap page
//   +------+------+------+------+------+------+
//   | H 3  | U    | U    | 0    | H 1  | 0    |   H = PM_USED|PM_HEAD|owner|pages
//   +------+------+------+------+------+------+   U = PM_USED|owner, 0 = free
//
// Offsets returned are region offsets of the run's first page.
import {
  HDR_HEAP_OFF, HDR_HEAP_PAGES, HDR_PAGEMAP_OFF, HDR_ALLOC_LOCK, HDR_ALLOC_HINT, HDR_FREE_PAGES,
  PM_USED, PM_HEAD, PM_OWNER_SHIFT, PM_OWNER_MASK, PM_PAGES_MASK, HEAP_PAGE_SHIFT, HEAP_PAGE_SIZE, REGION_ALIGN,
} from '../abi/region';
import { CoreStatus } from '../abi/status';
import { r32, w32, rAddr } from './mem';
import { lockTry, lockRelease } from './lock';

// @ts-ignore: decorator
@inline function pmOff(page: u32): u32 {
  return r32(HDR_PAGEMAP_OFF) + (page << 2);
}

/** Is the run [page, page + n) free? Returns n if so, else the index just past the first used page found. */
function runFree(page: u32, n: u32): u32 {
  for (let i: u32 = 0; i < n; i++) {
    const e = r32(pmOff(page + i));
    if (e != 0) {
      // Skip the whole used run when we landed on its head.
      const skip: u32 = (e & PM_HEAD) != 0 ? (e & PM_PAGES_MASK) : 1;
      return page + i + skip;
    }
  }
  return 0xffffffff;
}

function findRun(from: u32, to: u32, n: u32, alignPages: u32, heapPage0: u32): i32 {
  // heapPage0 is the heap's first page index counted from region offset 0,
  // so alignment holds for region offsets (and so for IOVAs and addresses:
  // the window and the IOVA base are both 2 MiB aligned).
  let p = from;
  while (true) {
    const abs = heapPage0 + p;
    const aligned = (abs + alignPages - 1) & ~(alignPages - 1);
    p = aligned - heapPage0;
    if (p + n > to) return -1;
    const r = runFree(p, n);
    if (r == 0xffffffff) return <i32>p;
    p = r;
  }
}

/**
 * Allocate `bytes` (rounded up to pages) aligned to `align` (a power of two;
 * anything below a page is page aligned anyway), owned by process slot
 * `owner`. Returns the region offset, or a CoreStatus: NoMemory, Busy (the
 * allocator lock is held elsewhere: retry), BadArgument.
 */
export function dmaAlloc(bytes: u32, align: u32, zero: bool, owner: u32): i32 {
  if (bytes == 0 || align == 0 || (align & (align - 1)) != 0 || align > REGION_ALIGN) return CoreStatus.BadArgument;
  if (owner > PM_OWNER_MASK) return CoreStatus.BadArgument;
  const n = (bytes + HEAP_PAGE_SIZE - 1) >> HEAP_PAGE_SHIFT;
  if (lockTry(HDR_ALLOC_LOCK, owner) != 0) return CoreStatus.Busy;
  const heapOff = r32(HDR_HEAP_OFF);
  const pages = r32(HDR_HEAP_PAGES);
  const alignPages: u32 = align <= HEAP_PAGE_SIZE ? 1 : align >> HEAP_PAGE_SHIFT;
  const page0 = heapOff >> HEAP_PAGE_SHIFT;
  let hint = r32(HDR_ALLOC_HINT);
  if (hint >= pages) hint = 0;
  let p = findRun(hint, pages, n, alignPages, page0);
  if (p < 0) p = findRun(0, pages, n, alignPages, page0);
  if (p < 0) {
    lockRelease(HDR_ALLOC_LOCK);
    return CoreStatus.NoMemory;
  }
  const first = <u32>p;
  const tag = PM_USED | (owner << PM_OWNER_SHIFT);
  w32(pmOff(first), tag | PM_HEAD | n);
  for (let i: u32 = 1; i < n; i++) w32(pmOff(first + i), tag);
  w32(HDR_ALLOC_HINT, first + n);
  w32(HDR_FREE_PAGES, r32(HDR_FREE_PAGES) - n);
  lockRelease(HDR_ALLOC_LOCK);
  const off = heapOff + (first << HEAP_PAGE_SHIFT);
  if (zero) memory.fill(rAddr(off), 0, <usize>n << HEAP_PAGE_SHIFT);
  return <i32>off;
}

function pageOf(off: u32): i32 {
  const heapOff = r32(HDR_HEAP_OFF);
  if (off < heapOff || (off & (HEAP_PAGE_SIZE - 1)) != 0) return -1;
  const page = (off - heapOff) >> HEAP_PAGE_SHIFT;
  if (page >= r32(HDR_HEAP_PAGES)) return -1;
  return <i32>page;
}

function releaseRun(page: u32, n: u32): void {
  for (let i: u32 = 0; i < n; i++) w32(pmOff(page + i), 0);
  w32(HDR_FREE_PAGES, r32(HDR_FREE_PAGES) + n);
}

/** Free the allocation starting at region offset `off`. Returns its size in bytes, or BadFree / Busy. */
export function dmaFree(off: u32, who: u32): i32 {
  const page = pageOf(off);
  if (page < 0) return CoreStatus.BadFree;
  if (lockTry(HDR_ALLOC_LOCK, who) != 0) return CoreStatus.Busy;
  const e = r32(pmOff(<u32>page));
  if ((e & (PM_USED | PM_HEAD)) != (PM_USED | PM_HEAD)) {
    lockRelease(HDR_ALLOC_LOCK);
    return CoreStatus.BadFree;
  }
  const n = e & PM_PAGES_MASK;
  releaseRun(<u32>page, n);
  lockRelease(HDR_ALLOC_LOCK);
  return <i32>(n << HEAP_PAGE_SHIFT);
}

/** Size in bytes of the allocation at `off`, or BadFree if it is not one. */
export function dmaSize(off: u32): i32 {
  const page = pageOf(off);
  if (page < 0) return CoreStatus.BadFree;
  const e = r32(pmOff(<u32>page));
  if ((e & (PM_USED | PM_HEAD)) != (PM_USED | PM_HEAD)) return CoreStatus.BadFree;
  return <i32>((e & PM_PAGES_MASK) << HEAP_PAGE_SHIFT);
}

/** Free every allocation owned by process slot `owner` (crash cleanup). Returns pages freed, or Busy. */
export function dmaFreeOwner(owner: u32, who: u32): i32 {
  if (lockTry(HDR_ALLOC_LOCK, who) != 0) return CoreStatus.Busy;
  const pages = r32(HDR_HEAP_PAGES);
  let freed: u32 = 0;
  let p: u32 = 0;
  while (p < pages) {
    const e = r32(pmOff(p));
    if ((e & PM_HEAD) != 0) {
      const n = e & PM_PAGES_MASK;
      if (((e >> PM_OWNER_SHIFT) & PM_OWNER_MASK) == owner) {
        releaseRun(p, n);
        freed += n;
      }
      p += n;
    } else p++;
  }
  lockRelease(HDR_ALLOC_LOCK);
  return <i32>freed;
}

/**
 * Check the page map (under the allocator lock, as `who`): every used page
 * belongs to a head whose run covers it and the free count matches. Returns
 * the number of free pages, BadArgument when the map is inconsistent, Busy
 * when the lock is held elsewhere.
 */
export function dmaCheck(who: u32): i32 {
  if (lockTry(HDR_ALLOC_LOCK, who) != 0) return CoreStatus.Busy;
  const r = checkPageMap();
  lockRelease(HDR_ALLOC_LOCK);
  return r;
}

function checkPageMap(): i32 {
  const pages = r32(HDR_HEAP_PAGES);
  let free: u32 = 0;
  let p: u32 = 0;
  while (p < pages) {
    const e = r32(pmOff(p));
    if (e == 0) {
      free++;
      p++;
      continue;
    }
    if ((e & PM_HEAD) == 0) return CoreStatus.BadArgument;
    const n = e & PM_PAGES_MASK;
    if (n == 0 || p + n > pages) return CoreStatus.BadArgument;
    const tag = e & ~(PM_HEAD | PM_PAGES_MASK);
    for (let i: u32 = 1; i < n; i++) if (r32(pmOff(p + i)) != tag) return CoreStatus.BadArgument;
    p += n;
  }
  if (free != r32(HDR_FREE_PAGES)) return CoreStatus.BadArgument;
  return <i32>free;
}

/**
 * Repair the page map after taking the allocator lock from a process that
 * died holding it (call with the lock held): a run whose continuation pages
 * were not all written is completed, used pages no head covers are freed,
 * and the free count is recomputed. Returns the number of free pages.
 */
export function dmaRepair(): i32 {
  const pages = r32(HDR_HEAP_PAGES);
  let free: u32 = 0;
  let p: u32 = 0;
  while (p < pages) {
    const e = r32(pmOff(p));
    if ((e & PM_HEAD) != 0) {
      let n = e & PM_PAGES_MASK;
      if (n == 0 || p + n > pages) {
        // A torn head: drop it.
        w32(pmOff(p), 0);
        free++;
        p++;
        continue;
      }
      const tag = e & ~(PM_HEAD | PM_PAGES_MASK);
      for (let i: u32 = 1; i < n; i++) w32(pmOff(p + i), tag);
      p += n;
    } else {
      if (e != 0) w32(pmOff(p), 0); // orphan continuation page
      free++;
      p++;
    }
  }
  w32(HDR_FREE_PAGES, free);
  return <i32>free;
}
