// PRP building (NVMe 1.4, 4.3) as the core does it, checked against the rules
// directly: PRP1 keeps the in-page offset, PRP2 is the second page or a list
// pointer, list pages chain through their last entry, every later entry has
// a zero page offset, and the entries cover the buffer page by page.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QP_SQ_TAIL, QP_CQ_HEAD, QP_CQ_PHASE, QP_HDR_SIZE, QP_SLOT_SIZE, SLOT_STATE, SLOT_CID, SlotState } from '../assembly/abi/qpair.js';
import { makeHarness, makeQp, type TestQp } from './helpers/core-harness.js';
import { CoreStatus } from '../assembly/abi/status.js';
import { NvmOpc } from '../assembly/nvme/cmd.js';
import { IOVA_BASE } from '../host/transport.js';

const h = makeHarness({ regionSize: 32 * 1024 * 1024 });
const BIG = 4 * 1024 * 1024;
const qp = makeQp(h, { qid: 1, qsize: 8, maxXfer: BIG });
const big = h.region.allocDma(BIG + 8192, { align: 4096 });
const iova = (off: number) => IOVA_BASE + BigInt(off);
const regionOff = (a: bigint) => Number(a - IOVA_BASE);

function post(q: TestQp, buf: number, len: number): { st: number; sqe: number } {
  // The SQ tail before posting is where the entry goes.
  const tail = h.dv.getUint32(q.desc + QP_SQ_TAIL, true);
  const st = h.core.submitRw(q.desc, NvmOpc.Read, 1, 0, Math.max(1, Math.ceil(len / 512)), buf, len, 0);
  return { st, sqe: q.sq + tail * 64 };
}

function drain(q: TestQp): void {
  // Release every slot: fake completions for whatever is outstanding.
  h.core.qpRing(q.desc);
  const qsize = q.qsize;
  let head = h.dv.getUint32(q.desc + QP_CQ_HEAD, true);
  let phase = h.dv.getUint32(q.desc + QP_CQ_PHASE, true);
  const tail = h.dv.getUint32(q.desc + QP_SQ_TAIL, true);
  for (let s = 0; s < q.nslots; s++) {
    if (h.dv.getUint16(q.desc + QP_HDR_SIZE + s * QP_SLOT_SIZE + SLOT_STATE, true) !== SlotState.Outstanding) continue;
    const cid = h.dv.getUint16(q.desc + QP_HDR_SIZE + s * QP_SLOT_SIZE + SLOT_CID, true);
    const e = q.cq + head * 16;
    h.dv.setUint32(e + 8, tail | (q.qid << 16), true);
    h.dv.setUint32(e + 12, cid | (phase << 16), true);
    head = (head + 1) % qsize;
    if (head === 0) phase ^= 1;
  }
  h.core.qpPoll(q.desc, 256);
}

/** The data pages a command's PRPs describe, as region offsets (PRP1's with its offset). */
function walk(sqe: number, len: number): { pages: number[]; listPages: number } {
  const prp1 = h.dv.getBigUint64(sqe + 24, true);
  const prp2 = h.dv.getBigUint64(sqe + 32, true);
  const first = regionOff(prp1);
  assert.is(first & 3, 0, 'PRP1 dword aligned');
  const pages = [first];
  let rest = len - (4096 - (first & 4095));
  if (rest <= 0) {
    assert.is(prp2, 0n, 'PRP2 unused when one page suffices');
    return { pages, listPages: 0 };
  }
  if (rest <= 4096) {
    assert.is(regionOff(prp2) & 4095, 0, 'PRP2 page aligned');
    pages.push(regionOff(prp2));
    return { pages, listPages: 0 };
  }
  let list = regionOff(prp2);
  assert.is(list & 7, 0, 'list pointer qword aligned');
  let listPages = 1;
  let i = 0;
  while (rest > 0) {
    const entry = regionOff(h.dv.getBigUint64(list + i * 8, true));
    if (i === 511 && rest > 4096) {
      list = entry; // chain to the next list page
      listPages++;
      i = 0;
      continue;
    }
    assert.is(entry & 4095, 0, 'list entry page aligned');
    pages.push(entry);
    rest -= 4096;
    i++;
  }
  return { pages, listPages };
}

function check(bufOff: number, len: number, expectList: number): void {
  const { st, sqe } = post(qp, bufOff, len);
  assert.ok(st >= 0, `submit failed: ${st}`);
  const { pages, listPages } = walk(sqe, len);
  assert.is(pages[0], bufOff);
  for (let i = 1; i < pages.length; i++) assert.is(pages[i], (bufOff & ~4095) + i * 4096, `page ${i} contiguous`);
  assert.is(pages.length, Math.ceil(((bufOff & 4095) + len) / 4096), 'one entry per page touched');
  assert.is(listPages, expectList);
  drain(qp);
}

const b = big.regionOffset;
test('PRP: 512 bytes, one page, PRP2 zero', () => check(b, 512, 0));
test('PRP: 4096 bytes aligned, PRP2 zero', () => check(b, 4096, 0));
test('PRP: 4104 bytes, PRP2 is the second page', () => check(b, 4104, 0));
test('PRP: 8192 bytes aligned, PRP2 is the second page', () => check(b, 8192, 0));
test('PRP: 8208 bytes, PRP2 points to a list', () => check(b, 8208, 1));
test('PRP: unaligned start (offset 100), 4096 bytes spans two pages', () => check(b + 100, 4096, 0));
test('PRP: unaligned start (offset 4092), 8192 bytes needs a list', () => check(b + 4092, 8192, 1));
test('PRP: exactly one full list page (512 entries)', () => check(b, 4096 + 512 * 4096, 1));
test('PRP: a list spanning two pages (513 entries, chained)', () => check(b, 4096 + 513 * 4096, 2));
test('PRP: the largest transfer at the worst offset (1024 entries: three chained list pages)', () => check(b + 4092, BIG, 3));

test('PRP: a misaligned buffer is refused, nothing posted', () => {
  const tail = h.dv.getUint32(qp.desc + QP_SQ_TAIL, true);
  assert.is(post(qp, b + 2, 4096).st, CoreStatus.Misaligned);
  assert.is(h.dv.getUint32(qp.desc + QP_SQ_TAIL, true), tail);
  assert.is(h.core.qpOutstanding(qp.desc), 0);
});

test('PRP: beyond the transfer limit (MDTS) is refused; zero length too', () => {
  assert.is(post(qp, b, BIG + 4).st, CoreStatus.BadLength);
  assert.is(post(qp, b, 0).st >= 0, true, 'len 0 posts no PRPs (a no-data command)');
  drain(qp);
});

test('PRP: buffers outside the heap are refused', () => {
  assert.is(post(qp, 0, 4096).st, CoreStatus.OutOfRegion);
  assert.is(post(qp, h.region.size - 4096, 8192).st, CoreStatus.OutOfRegion);
});

test('PRP: pages for a transfer limit', () => {
  assert.is(h.core.prpPagesFor(4096), 0);
  assert.is(h.core.prpPagesFor(8192), 1);
  assert.is(h.core.prpPagesFor(512 * 4096), 1);
  assert.is(h.core.prpPagesFor(513 * 4096), 2);
  assert.is(h.core.prpPagesFor(1023 * 4096), 2);
  assert.is(h.core.prpPagesFor(1024 * 4096), 3);
  void iova;
});

test.run();
