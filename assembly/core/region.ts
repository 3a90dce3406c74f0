// Laying out a fresh region (the primary does this once per group).
import {
  REGION_MAGIC, REGION_LAYOUT_VERSION, REGION_MIN_SIZE, REGION_MAX_SIZE, REGION_ALIGN,
  HDR_MAGIC, HDR_LAYOUT_VERSION, HDR_CORE_HASH, HDR_REGION_SIZE, HDR_STATE, HDR_HEAP_OFF, HDR_HEAP_PAGES,
  HDR_PAGEMAP_OFF, HDR_ALLOC_HINT, HDR_FREE_PAGES, HDR_IOVA_LO, HDR_IOVA_HI, HDR_GENERATION,
  PAGEMAP_OFF, HEAP_ALIGN, HEAP_PAGE_SHIFT, RegionState,
} from '../abi/region';
import { CoreStatus } from '../abi/status';
import { r32, w32, rAddr, regionSize } from './mem';

/**
 * Format the region this process has mapped: header, empty process table and
 * controller block, an all-free page map. Returns the number of heap pages.
 * The caller publishes HDR_STATE once the rest of initialisation is done.
 */
export function regionFormat(coreHash: u32, iovaLo: u32, iovaHi: u32): i32 {
  const size = regionSize;
  if (size < REGION_MIN_SIZE || size > REGION_MAX_SIZE || (size & (REGION_ALIGN - 1)) != 0) return CoreStatus.BadArgument;
  const generation = r32(HDR_MAGIC) == REGION_MAGIC ? r32(HDR_GENERATION) + 1 : 1;
  const regionPages = size >> HEAP_PAGE_SHIFT;
  const heapOff = (PAGEMAP_OFF + (regionPages << 2) + HEAP_ALIGN - 1) & ~(HEAP_ALIGN - 1);
  const heapPages = (size - heapOff) >> HEAP_PAGE_SHIFT;
  memory.fill(rAddr(0), 0, <usize>heapOff);
  w32(HDR_LAYOUT_VERSION, REGION_LAYOUT_VERSION);
  w32(HDR_CORE_HASH, coreHash);
  w32(HDR_REGION_SIZE, size);
  w32(HDR_HEAP_OFF, heapOff);
  w32(HDR_HEAP_PAGES, heapPages);
  w32(HDR_PAGEMAP_OFF, PAGEMAP_OFF);
  w32(HDR_ALLOC_HINT, 0);
  w32(HDR_FREE_PAGES, heapPages);
  w32(HDR_IOVA_LO, iovaLo);
  w32(HDR_IOVA_HI, iovaHi);
  w32(HDR_GENERATION, generation);
  w32(HDR_STATE, RegionState.Initialising);
  // Magic last: a process that sees it sees a laid-out header.
  atomic.store<u32>(rAddr(HDR_MAGIC), REGION_MAGIC);
  return <i32>heapPages;
}
