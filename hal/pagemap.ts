// Physical addresses of this process's memory, from /proc/self/pagemap
// (Documentation/admin-guide/mm/pagemap.rst), for devices that DMA without
// an IOMMU (uio_pci_generic). One u64 per 4 KiB virtual page:
//
//   bit 63     page present
//   bit 62     swapped
//   bits 54:0  page frame number (PFN), zero unless CAP_SYS_ADMIN
//
// Huge pages: each 2 MiB page is physically contiguous, so one lookup per
// huge page gives the address of all of it. Pages are locked first (mlock)
// so they are present, and hugetlbfs pages are never swapped.
import fs from 'node:fs';
import { c, fail } from './libc.js';

const VPAGE = 4096;
const ENTRY = 8;
const PRESENT = 1n << 63n;
const PFN_MASK = (1n << 55n) - 1n;

export class PagemapError extends Error {
  override readonly name = 'PagemapError';
}

/** Fault in and lock [addr, addr + len) so every page is present and stays put. */
export function lockMemory(addr: bigint, len: number): void {
  if ((c.mlock(addr, len) as number) !== 0) fail('mlock', `${len} bytes at 0x${addr.toString(16)} (raise ulimit -l, or run as root)`);
}

/** Physical address of the byte at virtual address `addr` of this process. */
export function physicalAddress(addr: bigint): bigint {
  return physicalPages(addr - (addr % BigInt(VPAGE)), VPAGE, VPAGE)[0]! + (addr % BigInt(VPAGE));
}

/**
 * Physical address of each `pageSize` page of [addr, addr + len) (addr
 * page-aligned). With pageSize > 4 KiB, checks that the last 4 KiB of each
 * page follows its first contiguously (it is a real huge page).
 */
export function physicalPages(addr: bigint, len: number, pageSize: number): bigint[] {
  if (addr % BigInt(pageSize) !== 0n) throw new PagemapError(`0x${addr.toString(16)} is not ${pageSize}-byte aligned`);
  const fd = fs.openSync('/proc/self/pagemap', 'r');
  try {
    const entry = Buffer.alloc(ENTRY);
    const frame = (va: bigint): bigint => {
      if (fs.readSync(fd, entry, 0, ENTRY, Number((va / BigInt(VPAGE)) * BigInt(ENTRY))) !== ENTRY) {
        throw new PagemapError(`short read of /proc/self/pagemap at 0x${va.toString(16)}`);
      }
      const e = entry.readBigUInt64LE(0);
      if ((e & PRESENT) === 0n) throw new PagemapError(`page at 0x${va.toString(16)} is not present (lock it first)`);
      const pfn = e & PFN_MASK;
      if (pfn === 0n) {
        throw new PagemapError('/proc/self/pagemap shows no frame numbers: reading physical addresses needs root (CAP_SYS_ADMIN)');
      }
      return pfn * BigInt(VPAGE);
    };
    const out: bigint[] = [];
    for (let off = 0; off < len; off += pageSize) {
      const va = addr + BigInt(off);
      const pa = frame(va);
      if (pageSize > VPAGE) {
        const last = frame(va + BigInt(pageSize - VPAGE));
        if (last !== pa + BigInt(pageSize - VPAGE)) {
          throw new PagemapError(`memory at 0x${va.toString(16)} is not one physically contiguous ${pageSize}-byte page (not hugetlbfs?)`);
        }
      }
      out.push(pa);
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}
