// PRP walking, NVMe 1.4 section 4.3 ("Physical Region Page Entry and List").
//
// A transfer of `len` bytes is described by PRP1 and PRP2:
//   - PRP1: first data page, may start at any dword offset in its page;
//   - if the data ends inside PRP1's page and the next one, PRP2 is that
//     second page (page offset 0);
//   - if more pages are needed, PRP2 points to a PRP list (qword aligned):
//     entries of page offset 0, one per page; when a list page is not
//     enough, its last entry points to the next list page.
// The walk yields window offsets of the data, merged when contiguous, so
// the copy loops do one move per contiguous run (the driver's region is
// mapped linearly, so consecutive pages usually merge).
import { PAGE_SIZE } from '../../assembly/nvme/regs.js';
import { PRP_ENTRY_SIZE, PRP_ENTRIES_PER_PAGE } from '../../assembly/nvme/cmd.js';
import { Sct, GenericSc, statusField } from '../../assembly/nvme/status.js';
import type { DmaWindow } from './dma.js';

const SF_PRP_OFFSET_INVALID = statusField(Sct.Generic, GenericSc.PrpOffsetInvalid, true);
const SF_DATA_TRANSFER_ERROR = statusField(Sct.Generic, GenericSc.DataTransferError, false);
const DWORD_ALIGN = 4;

export class PrpWalker {
  /** Segments found by the last walk: window byte offset and length. */
  readonly segOff: Uint32Array;
  readonly segLen: Uint32Array;
  count = 0;
  /** Bytes described by the last successful walk. */
  total = 0;

  /** `maxBytes`: the largest transfer this walker will be asked to describe. */
  constructor(readonly maxBytes: number) {
    const maxSegs = Math.ceil(maxBytes / PAGE_SIZE) + 2;
    this.segOff = new Uint32Array(maxSegs);
    this.segLen = new Uint32Array(maxSegs);
  }

  /**
   * Describe `len` bytes (> 0, <= maxBytes) at PRP1/PRP2 (IOVAs as numbers).
   * Returns 0, or the status field of PRP Offset Invalid | DNR or Data
   * Transfer Error.
   */
  walk(win: DmaWindow, prp1: number, prp2: number, len: number): number {
    this.count = 0;
    this.total = 0;
    // 4.3: PRP1 bits 1:0 shall be 00b (dword aligned data).
    if (prp1 % DWORD_ALIGN !== 0) return SF_PRP_OFFSET_INVALID;
    const first = Math.min(len, PAGE_SIZE - (prp1 % PAGE_SIZE));
    if (!this.add(win, prp1, first)) return SF_DATA_TRANSFER_ERROR;
    let remaining = len - first;
    if (remaining === 0) return 0;
    if (remaining <= PAGE_SIZE) {
      // PRP2 is the second (and last) data page.
      if (prp2 % PAGE_SIZE !== 0) return SF_PRP_OFFSET_INVALID;
      return this.add(win, prp2, remaining) ? 0 : SF_DATA_TRANSFER_ERROR;
    }
    return this.walkList(win, prp2, remaining);
  }

  /** PRP2 is a PRP list pointer: one entry per page, chained by the last slot. */
  private walkList(win: DmaWindow, listAddr: number, remaining: number): number {
    if (listAddr % PRP_ENTRY_SIZE !== 0) return SF_PRP_OFFSET_INVALID;
    // The first list may start mid-page: it has slots up to its page's end.
    let slots = (PAGE_SIZE - (listAddr % PAGE_SIZE)) / PRP_ENTRY_SIZE;
    while (remaining > 0) {
      if (!win.contains(listAddr, PRP_ENTRY_SIZE)) return SF_DATA_TRANSFER_ERROR;
      const i = (listAddr - win.iova) >>> 2;
      const entry = win.u32[i + 1]! * 2 ** 32 + win.u32[i]!;
      if (entry % PAGE_SIZE !== 0) return SF_PRP_OFFSET_INVALID;
      if (slots === 1 && remaining > PAGE_SIZE) {
        // Last slot of a list page while more than one page is left: it
        // points to the next list page.
        listAddr = entry;
        slots = PRP_ENTRIES_PER_PAGE;
        continue;
      }
      const n = remaining < PAGE_SIZE ? remaining : PAGE_SIZE;
      if (!this.add(win, entry, n)) return SF_DATA_TRANSFER_ERROR;
      remaining -= n;
      listAddr += PRP_ENTRY_SIZE;
      slots--;
    }
    return 0;
  }

  private add(win: DmaWindow, addr: number, n: number): boolean {
    const off = addr - win.iova;
    if (off < 0 || off + n > win.len) return false;
    const c = this.count;
    if (c > 0 && this.segOff[c - 1]! + this.segLen[c - 1]! === off) {
      this.segLen[c - 1] += n;
    } else {
      this.segOff[c] = off;
      this.segLen[c] = n;
      this.count = c + 1;
    }
    this.total += n;
    return true;
  }
}
