// The shared region file: where it lives (hugetlbfs when mounted with enough
// free pages, /dev/shm otherwise), mapping it over the window of a process's
// memory, formatting it, and the DMA allocator on top of the core's.
import fs from 'node:fs';
import {
  openFile, truncateFile, allocateFile, closeFd, mapFixed, unmapFixed, hugetlbfsMount, hugePagesFree, O_RDWR, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, HalError,
  flockShared, tryFlockExclusive,
} from '../hal/index.js';
import {
  REGION_ALIGN, REGION_MIN_SIZE, REGION_MAX_SIZE, DMA_PAGE_SIZE, DMA_TABLE_ENTRY, GROUP_OWNER, CTRL_OFF, CTRL_SIZE,
} from '../assembly/abi/region.js';
import { CoreStatus } from '../assembly/abi/status.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import type { CoreExports } from './core.js';
import type { MemoryLayout } from './memory.js';
import { DmaBuffer, type DmaOwner } from './dma.js';
import { InvalidArgumentError, ResourceError, ControllerError, coreError } from './errors.js';
import { RegionHeader } from './layout/header.js';
import { ControllerBlock } from './layout/ctrl-block.js';
import { ProcTable } from './layout/proc-table.js';
import { pagesByOwner, writeDmaTable } from './layout/page-map.js';
import { openTrusted } from './trust.js';

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
  return createExclusiveAt(`${dir}/${name}`, dir, size, hugetlbfs);
}

/** Create, lock (shared) and size a region file at `path`, or undefined if the name exists. */
function createExclusiveAt(path: string, dir: string, size: number, hugetlbfs: boolean): RegionFile | undefined {
  let fd: number;
  try {
    fd = openFile(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (e) {
    if (e instanceof HalError && e.code === 'EEXIST') return undefined;
    throw e;
  }
  try {
    flockShared(fd); // held while this process uses the region: the kernel's proof that it does
    truncateFile(fd, size);
    // Every page now: a full /dev/shm or too few hugepages is a typed error here, not a SIGBUS mid-I/O.
    allocateFile(fd, size);
  } catch (e) {
    closeFd(fd);
    fs.rmSync(path, { force: true });
    if (e instanceof HalError && e.code === 'ENOSPC') {
      throw new ResourceError(`no room for a ${size}-byte region in ${dir}${hugetlbfs ? ' (free hugepages: nvme-wasm setup, or a smaller regionSize)' : ' (free space in /dev/shm, or a smaller regionSize)'}`, 'dma');
    }
    throw e;
  }
  return { path, fd, size, hugetlbfs };
}

/** The region file name of group `shmId` of `prefix` (checked: it becomes a path). */
export function groupRegionName(prefix: string, shmId: number): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new InvalidArgumentError('filePrefix', 'letters, digits, _ . - (1 to 64)', prefix);
  return `${prefix}_${shmId}.region`;
}

/** Where an existing group region file is (hugetlbfs first, then /dev/shm). */
export function findRegionFile(name: string): string | undefined {
  const dirs = [hugetlbfsMount(), '/dev/shm'].filter((d): d is string => d !== undefined);
  // lstat: a link planted under the name is found (and then refused on open), never followed.
  for (const d of dirs) if (fs.lstatSync(`${d}/${name}`, { throwIfNoEntry: false })) return `${d}/${name}`;
  return undefined;
}

/** Open an existing region file (a trusted owner's, never through a link: host/trust.ts). */
export function openRegionFile(path: string): RegionFile {
  const fd = openTrusted(path, O_RDWR);
  try {
    flockShared(fd); // every member holds one, until it closes or dies
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  const size = fs.fstatSync(fd).size;
  const mount = hugetlbfsMount();
  return { path, fd, size, hugetlbfs: mount !== undefined && path.startsWith(`${mount}/`) };
}

/**
 * Open the region file at `path` and take an exclusive flock on it, proof
 * that no process uses it; the descriptor, still the file under the name
 * (not one created there meanwhile). 'in-use': someone holds it; 'gone': it
 * was removed or replaced. The caller closes the descriptor (dropping the lock).
 */
function lockUnused(path: string, flags: number): number | 'in-use' | 'gone' {
  let fd: number;
  try {
    fd = openTrusted(path, flags);
  } catch (e) {
    if (e instanceof HalError && e.code === 'ENOENT') return 'gone';
    throw e;
  }
  const why = !tryFlockExclusive(fd) ? 'in-use' : fs.lstatSync(path, { throwIfNoEntry: false })?.ino !== fs.fstatSync(fd).ino ? 'gone' : undefined;
  if (why === undefined) return fd;
  closeFd(fd);
  return why;
}

/**
 * Replace a dead group's region file (`path`) with a new, empty one for a
 * new group, in one step if it can: a process that looks for the group
 * meanwhile always finds a file under the name, the dead one or the new one
 * (whose creator is then initialising it), never none. Otherwise a process
 * that came in the moment between removing and creating would start a group
 * of its own on the default device. As removeUnusedRegion, it is done only
 * if no process uses the dead file (an exclusive flock, held until the new
 * file is in place: two processes cannot both replace it). The new file is
 * made beside the dead one under a temporary name and renamed over it; when
 * the new one belongs elsewhere (hugepages now free, or no longer), the dead
 * one is removed first instead. The dead file is emptied first (ftruncate to
 * 0), so that its hugepages or /dev/shm pages are free for the new one: a
 * pool sized for one group has no room for two (CI's VM suite restarts a
 * killed target in 128 hugepages). A process that reads its header
 * meanwhile finds it too short and waits, as for a file being created.
 * 'in-use' and 'gone' as removeUnusedRegion.
 */
export function replaceUnusedRegion(path: string, name: string, size: number, policy: HugepagePolicy): RegionFile | 'in-use' | 'gone' {
  const old = lockUnused(path, O_RDWR);
  if (typeof old === 'string') return old;
  try {
    truncateFile(old, 0); // its pages back to the pool before the new file takes its own
    const { dir, hugetlbfs } = regionDirectory(size, policy);
    const target = `${dir}/${name}`;
    if (target !== path) {
      fs.rmSync(path, { force: true });
      return createExclusiveAt(target, dir, size, hugetlbfs) ?? 'gone';
    }
    const tmp = `${dir}/.${name}.${process.pid}.new`;
    try {
      fs.rmSync(tmp, { force: true }); // ours: a run of this pid that died here
    } catch {
      /* another user's: the create below fails, and the caller looks again */
    }
    const file = createExclusiveAt(tmp, dir, size, hugetlbfs);
    if (!file) return 'gone';
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      closeFd(file.fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    return { ...file, path: target };
  } finally {
    closeFd(old);
  }
}

/**
 * Remove a group's region file only if no process uses it: every member
 * holds a shared flock on it (the kernel drops it when the member dies), so
 * an exclusive one that succeeds proves there is none. 'in-use': live
 * processes hold it (a damaged header or table is never taken for a dead
 * group); 'gone': it was removed meanwhile.
 */
export function removeUnusedRegion(path: string): 'removed' | 'in-use' | 'gone' {
  const fd = lockUnused(path, O_RDONLY);
  if (typeof fd === 'string') return fd;
  try {
    fs.rmSync(path, { force: true });
    return 'removed';
  } finally {
    closeFd(fd);
  }
}

/** A region file's header and process table as read from the file (not mapped). */
export interface RegionFileHead {
  header: RegionHeader;
  procs: ProcTable;
  /** The inode they came from. */
  ino: number;
}

/**
 * The first pages of a region file (header and process table), read without
 * mapping it, and the inode they came from: the name may meanwhile be
 * removed and created again for a new group, which a later open must notice.
 */
export function readRegionHeader(path: string): RegionFileHead | undefined {
  let fd: number;
  try {
    fd = openTrusted(path, O_RDONLY); // another user's file, or a link, is an UnsafePathError: never read, never removed
  } catch (e) {
    if (e instanceof HalError && e.code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    // The header and the process table: everything below the controller block.
    const b = Buffer.alloc(CTRL_OFF);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    return n === b.length ? { header: new RegionHeader(b), procs: new ProcTable(b), ino: fs.fstatSync(fd).ino } : undefined;
  } finally {
    closeFd(fd);
  }
}

/** The region as one process sees it: the mapping, its views, and the allocator. */
export class Region implements DmaOwner {
  readonly u8: Uint8Array;
  readonly dv: DataView;
  /** The header's words (layout/header.ts). */
  readonly hdr: RegionHeader;
  /** The controller block's words (layout/ctrl-block.ts). */
  readonly ctrl: ControllerBlock;
  /** The process table (layout/proc-table.ts). */
  readonly procs: ProcTable;
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
    this.hdr = new RegionHeader(this.u8);
    this.ctrl = new ControllerBlock(this.u8.subarray(0, CTRL_OFF + CTRL_SIZE));
    this.procs = new ProcTable(this.u8.subarray(0, CTRL_OFF));
  }

  get size(): number {
    return this.file.size;
  }

  /** Lay out a fresh region (primary only). */
  format(coreHash: number, iova: bigint): void {
    const heapPages = this.core.regionFormat(coreHash, Number(iova & 0xffffffffn), Number(iova >> 32n));
    if (heapPages < 0) throw new ResourceError(`${this.file.path}: a ${this.size}-byte region has no room for its tables (${CoreStatus[heapPages] ?? heapPages})`, 'dma');
  }

  /** Check the header a primary wrote: magic, layout version, core build, size. */
  validate(coreHash: number): void {
    if (!this.hdr.hasMagic) throw new ControllerError(`${this.file.path} is not an nvme-wasm region (magic 0x${this.hdr.magic.toString(16)})`, 'unsupported');
    this.hdr.checkVersion(`region ${this.file.path}`, coreHash);
    if (this.hdr.regionSize !== this.file.size) throw new ControllerError(`${this.file.path}: size ${this.file.size} does not match its header's ${this.hdr.regionSize}`, 'state');
  }

  /** Set by the group: take over the allocator lock if its holder died. */
  allocLockRecovery: (() => boolean) | undefined;

  /**
   * Run an allocator operation of the core, retrying while another process
   * holds the allocator lock (it is only ever held for a page-map scan), and
   * now and then checking that its holder is alive (taking it over if not).
   * The one retry loop of the allocator.
   */
  allocatorOp(op: () => number): number {
    for (let tries = 1; ; tries++) {
      const r = op();
      if (r !== CoreStatus.Busy || tries > 5_000_000) return r;
      if (tries % 10_000 === 0) this.allocLockRecovery?.();
    }
  }

  /** Allocate DMA memory in the region (page granular). */
  allocDma(bytes: number, opts: { align?: number; zero?: boolean; owner?: number; contiguous?: boolean } = {}): DmaBuffer {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes > this.size) throw new InvalidArgumentError('bytes', `an integer from 1 to ${this.size}`, bytes);
    if (opts.contiguous && bytes > DMA_PAGE_SIZE) throw new InvalidArgumentError('bytes', `at most ${DMA_PAGE_SIZE} for device-contiguous memory`, bytes);
    // Device-contiguous (queues, shadow doorbells): aligned to its size's
    // power of two, it never crosses a DMA page (physically contiguous on uio).
    const align = opts.contiguous ? Math.max(opts.align ?? PAGE_SIZE, 2 ** Math.ceil(Math.log2(bytes))) : opts.align ?? PAGE_SIZE;
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0 || align > REGION_ALIGN) {
      throw new InvalidArgumentError('align', `a power of two up to ${REGION_ALIGN}`, align);
    }
    const off = this.allocatorOp(() => this.core.dmaAlloc(bytes, align, opts.zero ? 1 : 0, opts.owner ?? this.self));
    if (off < 0) {
      if (off === CoreStatus.NoMemory) {
        throw new ResourceError(`no ${bytes}-byte run of DMA memory left in the region (${this.freeBytes()} bytes free in all)`, 'dma');
      }
      throw coreError(off, 'DMA allocation');
    }
    return new DmaBuffer(this, off, bytes, this.u8.subarray(off, off + bytes));
  }

  /**
   * Device addresses that are not IOVA base + offset (uio): store the
   * address of each DMA_PAGE_SIZE page in a table in the region (for every
   * process of the group) and make the core use it.
   */
  setDmaTable(pages: bigint[]): void {
    if (pages.length * DMA_PAGE_SIZE < this.size) throw new InvalidArgumentError('DMA table', `at least ${Math.ceil(this.size / DMA_PAGE_SIZE)} pages for a ${this.size}-byte region`, pages.length);
    const t = this.allocDma(pages.length * DMA_TABLE_ENTRY, { owner: GROUP_OWNER });
    writeDmaTable(this.dv, t.regionOffset, pages);
    this.hdr.dmaTable = t.regionOffset;
    this.core.setDmaTable(t.regionOffset);
  }

  /** A joining process: use the table the primary stored, if any. */
  useDmaTable(): void {
    this.core.setDmaTable(this.hdr.dmaTable);
  }

  freeDma(buf: DmaBuffer): void {
    const r = this.allocatorOp(() => this.core.dmaFree(buf.regionOffset, this.self));
    if (r < 0) throw new ResourceError(`freeing the DMA buffer at region offset ${buf.regionOffset}: ${CoreStatus[r] ?? r} (freed twice, or not from this region?)`, 'dma');
  }

  /** Pages in use per owner (process slot, or GROUP_OWNER), read from the page map. */
  pagesByOwner(): Map<number, number> {
    return pagesByOwner(this.dv, this.hdr);
  }

  freeBytes(): number {
    return this.hdr.freeBytes;
  }

  heapBytes(): number {
    return this.hdr.heapBytes;
  }

  heapOffset(): number {
    return this.hdr.heapOffset;
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
