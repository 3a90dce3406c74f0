// The shared region file: where it lives (hugetlbfs when mounted with enough
// free pages, /dev/shm otherwise), mapping it over the window of a process's
// memory, formatting it, and the DMA allocator on top of the core's.
import fs from 'node:fs';
import {
  openFile, truncateFile, closeFd, mapFixed, unmapFixed, hugetlbfsMount, hugePagesFree, O_RDWR, O_CREAT, O_EXCL, HalError,
} from '../hal/index.js';
import {
  REGION_ALIGN, REGION_MIN_SIZE, REGION_MAX_SIZE, REGION_MAGIC, REGION_LAYOUT_VERSION,
  HDR_MAGIC, HDR_LAYOUT_VERSION, HDR_CORE_HASH, HDR_REGION_SIZE, HDR_FREE_PAGES, HDR_HEAP_PAGES, HDR_HEAP_OFF,
  HDR_PAGEMAP_OFF, PM_USED, PM_OWNER_SHIFT, PM_OWNER_MASK, HDR_DMA_TABLE, DMA_PAGE_SIZE, DMA_TABLE_ENTRY, GROUP_OWNER,
} from '../assembly/abi/region.js';
import { CoreStatus } from '../assembly/abi/status.js';
import type { CoreExports } from './core.js';
import type { MemoryLayout } from './memory.js';
import { DmaBuffer, type DmaOwner } from './dma.js';
import { InvalidArgumentError, ResourceError } from './errors.js';

export type HugepagePolicy = 'auto' | 'never' | 'require';

export interface RegionFile {
  path: string;
  fd: number;
  size: number;
  hugetlbfs: boolean;
}

const HUGEPAGE = 2 * 1024 * 1024;

export function checkRegionSize(size: number): number {
  if (!Number.isInteger(size) || size < REGION_MIN_SIZE || size > REGION_MAX_SIZE) {
    throw new InvalidArgumentError('regionSize', `an integer number of bytes from ${REGION_MIN_SIZE} to ${REGION_MAX_SIZE}`, size);
  }
  return Math.ceil(size / REGION_ALIGN) * REGION_ALIGN;
}

/** Pick the directory for a region file of `size` bytes. */
export function regionDirectory(size: number, policy: HugepagePolicy): { dir: string; hugetlbfs: boolean } {
  if (policy !== 'never') {
    const mount = hugetlbfsMount();
    const free = hugePagesFree();
    if (mount && free * HUGEPAGE >= size) return { dir: mount, hugetlbfs: true };
    if (policy === 'require') {
      throw new ResourceError(
        mount
          ? `hugepages required but only ${free} free 2 MiB pages for a ${size / HUGEPAGE}-page region: reserve more (echo N > /proc/sys/vm/nr_hugepages, or nvme-wasm setup)`
          : 'hugepages required but no hugetlbfs is mounted: mount -t hugetlbfs nodev /dev/hugepages (or nvme-wasm setup)',
        'dma',
      );
    }
  }
  return { dir: '/dev/shm', hugetlbfs: false };
}

/** Create a region file (mode 0600) exclusively; an existing file of the same name is replaced. */
export function createRegionFile(name: string, size: number, policy: HugepagePolicy): RegionFile {
  const file = createRegionFileExclusive(name, size, policy);
  if (file) return file;
  fs.rmSync(`${regionDirectory(size, policy).dir}/${name}`, { force: true });
  return createRegionFileExclusive(name, size, policy)!;
}

/** Create a group's region file, or undefined if it exists already (another process created it). */
export function createRegionFileExclusive(name: string, size: number, policy: HugepagePolicy): RegionFile | undefined {
  const { dir, hugetlbfs } = regionDirectory(size, policy);
  const path = `${dir}/${name}`;
  let fd: number;
  try {
    fd = openFile(path, O_RDWR | O_CREAT | O_EXCL, 0o600);
  } catch (e) {
    if (e instanceof HalError && e.code === 'EEXIST') return undefined;
    throw e;
  }
  try {
    truncateFile(fd, size);
  } catch (e) {
    closeFd(fd);
    fs.rmSync(path, { force: true });
    throw e;
  }
  return { path, fd, size, hugetlbfs };
}

/** Where an existing group region file is (hugetlbfs first, then /dev/shm). */
export function findRegionFile(name: string): string | undefined {
  const dirs = [hugetlbfsMount(), '/dev/shm'].filter((d): d is string => d !== undefined);
  for (const d of dirs) if (fs.existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return undefined;
}

/** Open an existing region file. */
export function openRegionFile(path: string): RegionFile {
  const fd = openFile(path, O_RDWR);
  const size = fs.fstatSync(fd).size;
  const mount = hugetlbfsMount();
  return { path, fd, size, hugetlbfs: mount !== undefined && path.startsWith(`${mount}/`) };
}

/**
 * The first pages of a region file (header and process table), read without
 * mapping it, and the inode they came from: the name may meanwhile be
 * removed and created again for a new group, which a later open must notice.
 */
export function readRegionHeader(path: string): { dv: DataView; ino: number } | undefined {
  try {
    const fd = fs.openSync(path, 'r');
    try {
      // The header and the process table.
      const b = Buffer.alloc(0x2000);
      const n = fs.readSync(fd, b, 0, b.length, 0);
      return n === b.length ? { dv: new DataView(b.buffer, b.byteOffset, b.length), ino: fs.fstatSync(fd).ino } : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** The region as one process sees it: the mapping, its views, and the allocator. */
export class Region implements DmaOwner {
  readonly u8: Uint8Array;
  readonly dv: DataView;
  private closed = false;

  constructor(
    readonly file: RegionFile,
    readonly layout: MemoryLayout,
    readonly core: CoreExports,
    /** This process's slot, the owner recorded on its allocations. */
    public self: number,
  ) {
    mapFixed(layout.base, layout.regionOff, file.size, file.fd);
    core.setRegionWindow(layout.regionOff, file.size);
    this.u8 = new Uint8Array(layout.memory.buffer, layout.regionOff, file.size);
    this.dv = new DataView(layout.memory.buffer, layout.regionOff, file.size);
  }

  get size(): number {
    return this.file.size;
  }

  /** Lay out a fresh region (primary only). */
  format(coreHash: number, iova: bigint): void {
    const heapPages = this.core.regionFormat(coreHash, Number(iova & 0xffffffffn), Number(iova >> 32n));
    if (heapPages < 0) throw new Error(`regionFormat failed: ${CoreStatus[heapPages] ?? heapPages}`);
  }

  /** Check the header a primary wrote: magic, layout version, core build. */
  validate(coreHash: number): void {
    const magic = this.dv.getUint32(HDR_MAGIC, true);
    if (magic !== REGION_MAGIC) throw new Error(`${this.file.path} is not an nvme-wasm region (magic 0x${magic.toString(16)})`);
    const layout = this.dv.getUint32(HDR_LAYOUT_VERSION, true);
    const hash = this.dv.getUint32(HDR_CORE_HASH, true);
    if (layout !== REGION_LAYOUT_VERSION || hash !== coreHash) {
      throw new Error(
        `version mismatch: region ${this.file.path} has layout ${layout} core ${hash.toString(16).padStart(8, '0')}, this process has layout ${REGION_LAYOUT_VERSION} core ${coreHash.toString(16).padStart(8, '0')}`,
      );
    }
    if (this.dv.getUint32(HDR_REGION_SIZE, true) !== this.file.size) throw new Error(`${this.file.path}: size does not match its header`);
  }

  /** Allocate DMA memory in the region (page granular). */
  /** Set by the group: take over the allocator lock if its holder died. */
  allocLockRecovery: (() => boolean) | undefined;

  allocDma(bytes: number, opts: { align?: number; zero?: boolean; owner?: number; contiguous?: boolean } = {}): DmaBuffer {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes > this.size) throw new InvalidArgumentError('bytes', `an integer from 1 to ${this.size}`, bytes);
    if (opts.contiguous && bytes > DMA_PAGE_SIZE) throw new InvalidArgumentError('bytes', `at most ${DMA_PAGE_SIZE} for device-contiguous memory`, bytes);
    // Device-contiguous (queues, shadow doorbells): aligned to its size's
    // power of two, it never crosses a DMA page (physically contiguous on uio).
    const align = opts.contiguous ? Math.max(opts.align ?? 4096, 2 ** Math.ceil(Math.log2(bytes))) : opts.align ?? 4096;
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0 || align > REGION_ALIGN) {
      throw new InvalidArgumentError('align', `a power of two up to ${REGION_ALIGN}`, align);
    }
    let off: number;
    // The allocator lock is only ever held for a page-map scan: spin, and
    // now and then check that its holder is still alive.
    for (let tries = 1; ; tries++) {
      off = this.core.dmaAlloc(bytes, align, opts.zero ? 1 : 0, opts.owner ?? this.self);
      if (off !== CoreStatus.Busy || tries > 5_000_000) break;
      if (tries % 10_000 === 0) this.allocLockRecovery?.();
    }
    if (off < 0) {
      if (off === CoreStatus.NoMemory) {
        throw new ResourceError(`no ${bytes}-byte run of DMA memory left in the region (${this.freeBytes()} bytes free in all)`, 'dma');
      }
      throw new Error(`dmaAlloc failed: ${CoreStatus[off] ?? off}`);
    }
    return new DmaBuffer(this, off, bytes, this.u8.subarray(off, off + bytes));
  }

  /**
   * Device addresses that are not IOVA base + offset (uio): store the
   * address of each DMA_PAGE_SIZE page in a table in the region (for every
   * process of the group) and make the core use it.
   */
  setDmaTable(pages: bigint[]): void {
    if (pages.length * DMA_PAGE_SIZE < this.size) throw new Error(`DMA table of ${pages.length} pages for a ${this.size}-byte region`);
    const t = this.allocDma(pages.length * DMA_TABLE_ENTRY, { owner: GROUP_OWNER });
    pages.forEach((pa, i) => this.dv.setBigUint64(t.regionOffset + i * DMA_TABLE_ENTRY, pa, true));
    this.dv.setUint32(HDR_DMA_TABLE, t.regionOffset, true);
    this.core.setDmaTable(t.regionOffset);
  }

  /** A joining process: use the table the primary stored, if any. */
  useDmaTable(): void {
    this.core.setDmaTable(this.dv.getUint32(HDR_DMA_TABLE, true));
  }

  freeDma(buf: DmaBuffer): void {
    let r: number;
    for (let tries = 1; ; tries++) {
      r = this.core.dmaFree(buf.regionOffset, this.self);
      if (r !== CoreStatus.Busy || tries > 5_000_000) break;
      if (tries % 10_000 === 0) this.allocLockRecovery?.();
    }
    if (r < 0) throw new Error(`dmaFree(${buf.regionOffset}) failed: ${CoreStatus[r] ?? r}`);
  }

  /** Pages in use per owner (process slot, or GROUP_OWNER), read from the page map. */
  pagesByOwner(): Map<number, number> {
    const pm = this.dv.getUint32(HDR_PAGEMAP_OFF, true);
    const pages = this.dv.getUint32(HDR_HEAP_PAGES, true);
    const out = new Map<number, number>();
    for (let p = 0; p < pages; p++) {
      const e = this.dv.getUint32(pm + p * 4, true);
      if ((e & PM_USED) === 0) continue;
      const owner = (e >>> PM_OWNER_SHIFT) & PM_OWNER_MASK;
      out.set(owner, (out.get(owner) ?? 0) + 1);
    }
    return out;
  }

  freeBytes(): number {
    return this.dv.getUint32(HDR_FREE_PAGES, true) * 4096;
  }

  heapBytes(): number {
    return this.dv.getUint32(HDR_HEAP_PAGES, true) * 4096;
  }

  heapOffset(): number {
    return this.dv.getUint32(HDR_HEAP_OFF, true);
  }

  /**
   * Drop this process's mapping of the region (anonymous memory takes the
   * window's place): the hugepages go back to the system once no process
   * maps the file, instead of when the Wasm memory is garbage-collected.
   */
  unmap(): void {
    if (this.unmapped) return;
    this.unmapped = true;
    unmapFixed(this.layout.base, this.layout.regionOff, this.file.size);
  }

  private unmapped = false;

  close(unlink: boolean): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.file.fd);
    if (unlink) fs.rmSync(this.file.path, { force: true });
  }
}
