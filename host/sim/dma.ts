// The simulated controller's view of host memory: one IOVA window
// [iova, iova + len) backed by the driver's region file, mapped on request
// through the ctl page (ctl.ts DMA_*). It plays the IOMMU: every queue and
// PRP address is translated here, anything outside the window is a DMA
// fault (Data Transfer Error, or Controller Fatal Status for queue memory).
import fs from 'node:fs';
import { createSharedMemory, alignedOffset, mapFixed, unmapFixed } from '../../hal/mmap.js';
import { openFile, closeFd, O_RDWR, O_NOFOLLOW } from '../../hal/fd.js';
import { HalError } from '../../hal/errors.js';
import { EACCES, EINVAL, ENOMEM } from '../../hal/errno.js';
import { checkTrustedFile } from '../trust.js';
import { UnsafePathError } from '../errors.js';

import { PAGE_SIZE } from '../../assembly/nvme/regs.js';

/** hugetlbfs files must be mapped at 2 MiB aligned addresses and lengths. */
export const DMA_MAP_ALIGN = 2 * 1024 * 1024;
const WASM_PAGE = 65536;
const WASM_MAX_PAGES = 65536;

/** IOVAs are held as numbers: exact below 2^53, which the window must stay under. */
export const IOVA_LIMIT = 2 ** 53;

export class DmaWindow {
  /** First IOVA of the window. */
  iova = 0;
  /** Bytes in the window; 0 = nothing mapped, every access faults. */
  len = 0;
  /** Bytes of the window (Buffer so copies need no temporary views). */
  buf: Buffer = Buffer.alloc(0);
  /** Dwords of the window: SQ entries, CQ entries, PRP list entries. */
  u32: Uint32Array = new Uint32Array(0);
  /** Bumped on every (un)map so holders of offsets know to recompute them. */
  generation = 0;

  private memory: WebAssembly.Memory | undefined;
  private base = 0n;
  private memOff = 0;
  private mapLen = 0;

  /** A window over plain memory (tests; no file behind it). */
  static fromBuffer(iova: number, bytes: ArrayBuffer | SharedArrayBuffer): DmaWindow {
    const w = new DmaWindow();
    w.iova = iova;
    w.len = bytes.byteLength;
    w.buf = Buffer.from(bytes);
    w.u32 = new Uint32Array(bytes, 0, bytes.byteLength >>> 2);
    return w;
  }

  /** True if [addr, addr + n) lies inside the window. */
  contains(addr: number, n: number): boolean {
    const off = addr - this.iova;
    return off >= 0 && off + n <= this.len;
  }

  /**
   * Map `len` bytes of the file at `path` as IOVA [iova, iova + len).
   * Returns 0 or an errno; the previous mapping is dropped either way.
   */
  map(path: string, iova: number, len: number): number {
    this.unmap();
    if (len <= 0 || iova < 0 || iova + len >= IOVA_LIMIT || iova % PAGE_SIZE !== 0) return EINVAL;
    const mapLen = Math.ceil(len / DMA_MAP_ALIGN) * DMA_MAP_ALIGN;
    const pages = Math.ceil((mapLen + DMA_MAP_ALIGN) / WASM_PAGE);
    if (pages > WASM_MAX_PAGES) return ENOMEM;
    let fd = -1;
    try {
      fd = openFile(path, O_RDWR | O_NOFOLLOW);
      // The driver's DMA window must be a file of a trusted owner: another user's would read or feed the I/O.
      checkTrustedFile(path, fs.fstatSync(fd));
      // Touching a mapping beyond the end of its file raises SIGBUS: refuse
      // a window larger than the file.
      if (fs.fstatSync(fd).size < len) return EINVAL;
      const { memory, base } = createSharedMemory(pages * WASM_PAGE);
      const memOff = alignedOffset(base, 0, DMA_MAP_ALIGN);
      mapFixed(base, memOff, mapLen, fd, 0);
      this.memory = memory;
      this.base = base;
      this.memOff = memOff;
      this.mapLen = mapLen;
      this.iova = iova;
      this.len = len;
      this.buf = Buffer.from(memory.buffer, memOff, len);
      this.u32 = new Uint32Array(memory.buffer, memOff, len >>> 2);
      this.generation++;
      return 0;
    } catch (e) {
      return e instanceof HalError ? e.errno : e instanceof UnsafePathError ? EACCES : EINVAL;
    } finally {
      if (fd >= 0) closeFd(fd);
    }
  }

  /** Drop the mapping: afterwards every DMA faults. */
  unmap(): void {
    if (this.memory) unmapFixed(this.base, this.memOff, this.mapLen);
    this.memory = undefined;
    this.iova = 0;
    this.len = 0;
    this.buf = Buffer.alloc(0);
    this.u32 = new Uint32Array(0);
    this.generation++;
  }
}
