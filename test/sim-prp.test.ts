// The simulated controller's PRP walk (NVMe 1.4, 4.3): one page, two pages,
// a list, a chained list, the offset rules and the DMA window bounds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PrpWalker } from '../host/sim/prp.js';
import { DmaWindow } from '../host/sim/dma.js';
import { Sct, GenericSc, statusField } from '../assembly/nvme/status.js';

const PAGE = 4096;
const IOVA = 0x2_0000_0000;
const WIN_PAGES = 2048; // 8 MiB
const win = DmaWindow.fromBuffer(IOVA, new ArrayBuffer(WIN_PAGES * PAGE));
const PRP_OFFSET_INVALID = statusField(Sct.Generic, GenericSc.PrpOffsetInvalid, true);
const DATA_TRANSFER_ERROR = statusField(Sct.Generic, GenericSc.DataTransferError, false);
const walker = new PrpWalker(4 * 1024 * 1024);
const at = (page: number, off = 0) => IOVA + page * PAGE + off;

/** Write PRP entries (IOVAs) at window byte offset `off`. */
function putList(off: number, entries: number[]): void {
  entries.forEach((v, i) => {
    win.u32[(off >>> 2) + 2 * i] = v % 2 ** 32;
    win.u32[(off >>> 2) + 2 * i + 1] = Math.floor(v / 2 ** 32);
  });
}
function segments(): Array<[number, number]> {
  return Array.from({ length: walker.count }, (_, i) => [walker.segOff[i]!, walker.segLen[i]!]);
}

test('one page: PRP1 only, any dword offset', () => {
  assert.is(walker.walk(win, at(3, 0x100), 0, 512), 0);
  assert.equal(segments(), [[3 * PAGE + 0x100, 512]]);
  assert.is(walker.walk(win, at(3, 0x1000 - 4), 0xdead, 4), 0, 'PRP2 unused when the data fits in PRP1');
});

test('two pages: PRP2 is the second page', () => {
  assert.is(walker.walk(win, at(10, 0x200), at(20), PAGE), 0);
  assert.equal(segments(), [[10 * PAGE + 0x200, PAGE - 0x200], [20 * PAGE, 0x200]]);
  assert.is(walker.walk(win, at(10), at(11), 2 * PAGE), 0);
  assert.equal(segments(), [[10 * PAGE, 2 * PAGE]], 'contiguous pages merge');
});

test('a PRP list: one entry per page after the first', () => {
  putList(100 * PAGE, [at(30), at(40), at(41)]);
  assert.is(walker.walk(win, at(5), at(100), 4 * PAGE), 0);
  assert.equal(segments(), [[5 * PAGE, PAGE], [30 * PAGE, PAGE], [40 * PAGE, 2 * PAGE]]);
  assert.is(walker.total, 4 * PAGE);
});

test('a list pointer with an offset: its list ends at its page end', () => {
  // Two slots left in the first list page: the last one chains.
  const listOff = 101 * PAGE + PAGE - 16;
  putList(listOff, [at(50), at(102)]);
  putList(102 * PAGE, [at(51), at(52)]);
  assert.is(walker.walk(win, at(49), IOVA + listOff, 4 * PAGE), 0);
  assert.equal(segments(), [[49 * PAGE, 4 * PAGE]]);
});

test('a chained list: the last entry of a full list page points to the next', () => {
  const pages = 600; // > 512 entries
  const first = Array.from({ length: 511 }, (_, i) => at(200 + i));
  putList(110 * PAGE, [...first, at(111)]);
  putList(111 * PAGE, Array.from({ length: pages - 1 - 511 }, (_, i) => at(200 + 511 + i)));
  assert.is(walker.walk(win, at(199), at(110), pages * PAGE), 0);
  assert.equal(segments(), [[199 * PAGE, pages * PAGE]]);
  // Exactly 513 pages: 512 list entries fit one list page, no chaining.
  putList(112 * PAGE, Array.from({ length: 512 }, (_, i) => at(1000 + i)));
  assert.is(walker.walk(win, at(999), at(112), 513 * PAGE), 0);
  assert.equal(segments(), [[999 * PAGE, 513 * PAGE]]);
});

test('PRP Offset Invalid: PRP1 not dword aligned, PRP2 or entries with an offset', () => {
  assert.is(walker.walk(win, at(3, 2), 0, 512), PRP_OFFSET_INVALID, 'PRP1 bits 1:0');
  assert.is(walker.walk(win, at(3), at(4, 8), 2 * PAGE), PRP_OFFSET_INVALID, 'PRP2 data page offset');
  assert.is(walker.walk(win, at(3), at(100, 4), 3 * PAGE), PRP_OFFSET_INVALID, 'list pointer not qword aligned');
  putList(120 * PAGE, [at(30, 512), at(31)]);
  assert.is(walker.walk(win, at(3), at(120), 3 * PAGE), PRP_OFFSET_INVALID, 'list entry offset');
  putList(121 * PAGE, [...Array.from({ length: 511 }, (_, i) => at(200 + i)), at(122, 8)]);
  assert.is(walker.walk(win, at(199), at(121), 600 * PAGE), PRP_OFFSET_INVALID, 'chain pointer offset');
});

test('outside the DMA window: Data Transfer Error', () => {
  assert.is(walker.walk(win, IOVA - PAGE, 0, 512), DATA_TRANSFER_ERROR, 'below');
  assert.is(walker.walk(win, at(WIN_PAGES - 1), 0, PAGE), 0, 'last page is inside');
  assert.is(walker.walk(win, at(WIN_PAGES - 1, 0x800), at(WIN_PAGES), PAGE), DATA_TRANSFER_ERROR, 'PRP2 past the end');
  assert.is(walker.walk(win, at(3), IOVA + WIN_PAGES * PAGE, 3 * PAGE), DATA_TRANSFER_ERROR, 'list outside');
  putList(130 * PAGE, [at(31), 0x1000]);
  assert.is(walker.walk(win, at(3), at(130), 3 * PAGE), DATA_TRANSFER_ERROR, 'list entry outside');
  assert.is(walker.walk(win, 2 ** 60, 0, 512), DATA_TRANSFER_ERROR, 'a 64-bit address far away');
  const empty = new DmaWindow();
  assert.is(walker.walk(empty, 0x1000, 0, 512), DATA_TRANSFER_ERROR, 'no window mapped');
});

test.run();
