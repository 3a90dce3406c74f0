// Accessors for the heap's tables (assembly/abi/region.ts): the page map
// (PM_*, one u32 per heap page, written by the core's allocator) and the
// DMA page table (one u64 device address per DMA_PAGE_SIZE page, uio only).
// The only module outside the core that reads or writes them.
import { PM_USED, PM_OWNER_SHIFT, PM_OWNER_MASK, DMA_TABLE_ENTRY } from '../../assembly/abi/region.js';
import type { RegionHeader } from './header.js';

/** Heap pages in use per owner (process slot, or GROUP_OWNER). */
export function pagesByOwner(dv: DataView, hdr: RegionHeader): Map<number, number> {
  const pm = hdr.pageMapOffset;
  const pages = hdr.heapPages;
  const out = new Map<number, number>();
  for (let p = 0; p < pages; p++) {
    const e = dv.getUint32(pm + p * 4, true);
    if ((e & PM_USED) === 0) continue;
    const owner = (e >>> PM_OWNER_SHIFT) & PM_OWNER_MASK;
    out.set(owner, (out.get(owner) ?? 0) + 1);
  }
  return out;
}

/** Write the DMA page table at region offset `table`. */
export function writeDmaTable(dv: DataView, table: number, pages: bigint[]): void {
  pages.forEach((pa, i) => dv.setBigUint64(table + i * DMA_TABLE_ENTRY, pa, true));
}
