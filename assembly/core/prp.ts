// Physical Region Page entries (NVMe 1.4, 4.3). With a 4 KiB memory page:
//
//   len fits in PRP1's page        PRP1 = buf           PRP2 = 0
//   len spans exactly two pages    PRP1 = buf           PRP2 = 2nd page
//   more                           PRP1 = buf           PRP2 = list page
//
//   list page (512 entries)                   next list page
//   +--------+--------+-----+----------+      +--------+-----+
//   | page 2 | page 3 | ... | -> next  | ---> | page N | ... |
//   +--------+--------+-----+----------+      +--------+-----+
//   The last entry of a list page points to the next list page only when more
//   than one entry is still to come; otherwise it holds the final data page.
//
// Each command slot owns QP_PRP_PAGES list pages, so building needs no
// allocation. Buffers are region offsets; entries are device addresses.
import { PAGE_SIZE, PAGE_SHIFT } from '../nvme/regs';
import { SQE_PRP1, SQE_PRP2, PRP_ENTRIES_PER_PAGE, PRP_ENTRY_SIZE } from '../nvme/cmd';
import { HDR_HEAP_OFF } from '../abi/region';
import { QP_PRP, QP_PRP_PAGES } from '../abi/qpair';
import { CoreStatus } from '../abi/status';
import { r32, w64, dmaAddr, regionSize } from './mem';

/** PRP list pages one command needs for transfers up to maxXfer bytes at any dword offset. */
export function prpPagesFor(maxXfer: u32): u32 {
  // Worst case: data starting 4 bytes before a page end spans
  // ceil((maxXfer - 4) / PAGE) more pages after PRP1's.
  const entries = (maxXfer + PAGE_SIZE - 1) >> PAGE_SHIFT;
  if (entries <= 1) return 0;
  if (entries <= PRP_ENTRIES_PER_PAGE) return 1;
  // Every page but the last gives up its final entry to the chain pointer.
  // 1 + ceil((entries - 512) / 511)
  return 1 + (entries - PRP_ENTRIES_PER_PAGE + PRP_ENTRIES_PER_PAGE - 2) / (PRP_ENTRIES_PER_PAGE - 1);
}

/** Validate a data buffer for one command: dword aligned (4.3), non-empty, within maxXfer, inside the heap. */
export function prpCheck(buf: u32, len: u32, maxXfer: u32): i32 {
  if (len == 0 || len > maxXfer) return CoreStatus.BadLength;
  if ((buf & 3) != 0) return CoreStatus.Misaligned;
  if (buf < r32(HDR_HEAP_OFF) || <u64>buf + <u64>len > <u64>regionSize) return CoreStatus.OutOfRegion;
  return CoreStatus.Ok;
}

/**
 * Write PRP1/PRP2 of the entry at region offset `sqe` for [buf, buf + len),
 * using slot `slot`'s list pages of queue pair `qp`. prpCheck must have
 * passed. Returns Ok, or BadLength if the slot's list pages are too few.
 */
export function prpBuild(qp: u32, slot: u32, sqe: u32, buf: u32, len: u32): i32 {
  w64(sqe + SQE_PRP1, dmaAddr(buf));
  const first = PAGE_SIZE - (buf & (PAGE_SIZE - 1));
  if (len <= first) {
    w64(sqe + SQE_PRP2, 0);
    return CoreStatus.Ok;
  }
  const rest = len - first;
  let data = buf + first;
  if (rest <= PAGE_SIZE) {
    w64(sqe + SQE_PRP2, dmaAddr(data));
    return CoreStatus.Ok;
  }
  const entries = (rest + PAGE_SIZE - 1) >> PAGE_SHIFT;
  const pagesPerSlot = r32(qp + QP_PRP_PAGES);
  if (pagesPerSlot == 0) return CoreStatus.BadLength;
  let list = r32(qp + QP_PRP) + slot * pagesPerSlot * PAGE_SIZE;
  const lastList = list + (pagesPerSlot - 1) * PAGE_SIZE;
  w64(sqe + SQE_PRP2, dmaAddr(list));
  let e: u32 = 0;
  for (let i: u32 = 0; i < entries; i++) {
    if (e == PRP_ENTRIES_PER_PAGE - 1 && entries - i > 1) {
      if (list == lastList) return CoreStatus.BadLength;
      w64(list + e * PRP_ENTRY_SIZE, dmaAddr(list + PAGE_SIZE));
      list += PAGE_SIZE;
      e = 0;
    }
    w64(list + e * PRP_ENTRY_SIZE, dmaAddr(data));
    data += PAGE_SIZE;
    e++;
  }
  return CoreStatus.Ok;
}
