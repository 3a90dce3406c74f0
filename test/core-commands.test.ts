// Every command builder's submission entry, checked field by field against
// the spec's layout with literal byte offsets and bit positions (NVMe 1.4,
// 4.2 and chapters 5 and 6), not against the shared constants the core uses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QP_SQ_TAIL } from '../assembly/abi/qpair.js';
import { makeHarness, makeQp } from './helpers/core-harness.js';
import { IOVA_BASE } from '../host/transport.js';

const h = makeHarness();
const admin = makeQp(h, { qid: 0, qsize: 64, ownerBits: 6, maxXfer: 64 * 1024 });
const io = makeQp(h, { qid: 3, qsize: 64, maxXfer: 128 * 1024 });
const buf = h.region.allocDma(128 * 1024).regionOffset;
const ring = h.region.allocDma(4096).regionOffset;

interface Sqe {
  opc: number;
  flags: number;
  cid: number;
  nsid: number;
  cdw2: number;
  cdw3: number;
  mptr: bigint;
  prp1: bigint;
  prp2: bigint;
  cdw: number[]; // cdw10..cdw15
}

function lastSqe(q: { desc: number; sq: number; qsize: number }): Sqe {
  const tail = h.dv.getUint32(q.desc + QP_SQ_TAIL, true);
  const e = q.sq + ((tail + q.qsize - 1) % q.qsize) * 64;
  const dv = h.dv;
  return {
    opc: dv.getUint8(e),
    flags: dv.getUint8(e + 1),
    cid: dv.getUint16(e + 2, true),
    nsid: dv.getUint32(e + 4, true),
    cdw2: dv.getUint32(e + 8, true),
    cdw3: dv.getUint32(e + 12, true),
    mptr: dv.getBigUint64(e + 16, true),
    prp1: dv.getBigUint64(e + 24, true),
    prp2: dv.getBigUint64(e + 32, true),
    cdw: [40, 44, 48, 52, 56, 60].map((o) => dv.getUint32(e + o, true)),
  };
}

function expectCommon(s: Sqe, slot: number, q: { desc: number }, opc: number, nsid: number): void {
  assert.ok(slot >= 0, `submission failed with ${slot}`);
  assert.is(s.opc, opc, 'CDW0 OPC (bits 7:0)');
  assert.is(s.flags, 0, 'CDW0 FUSE (9:8) = 0 and PSDT (15:14) = 0: PRPs');
  assert.is(s.cid, h.core.slotCid(q.desc, slot), 'CDW0 CID (31:16)');
  assert.is(s.nsid, nsid >>> 0, 'NSID');
  assert.is(s.cdw2, 0);
  assert.is(s.cdw3, 0);
  assert.is(s.mptr, 0n, 'MPTR unused');
}

const dma = (off: number) => IOVA_BASE + BigInt(off);

test('Read (6.9): SLBA in CDW10-11, NLB 0-based in CDW12 15:0, FUA bit 30', () => {
  const slot = h.core.submitRw(io.desc, 0x02, 7, 0x1_2345_6789, 8, buf, 4096, 1 << 30);
  const s = lastSqe(io);
  expectCommon(s, slot, io, 0x02, 7);
  assert.is(s.prp1, dma(buf));
  assert.is(s.prp2, 0n);
  assert.equal(s.cdw, [0x2345_6789, 0x1, 7 | (1 << 30), 0, 0, 0]);
});

test('Write (6.15): same layout, opcode 01h', () => {
  const slot = h.core.submitRw(io.desc, 0x01, 1, 4096, 16, buf, 8192, 0);
  const s = lastSqe(io);
  expectCommon(s, slot, io, 0x01, 1);
  assert.is(s.prp1, dma(buf));
  assert.is(s.prp2, dma(buf + 4096));
  assert.equal(s.cdw, [4096, 0, 15, 0, 0, 0]);
});

test('Compare (6.6): opcode 05h', () => {
  const slot = h.core.submitRw(io.desc, 0x05, 1, 2, 1, buf, 512, 0);
  const s = lastSqe(io);
  expectCommon(s, slot, io, 0x05, 1);
  assert.equal(s.cdw, [2, 0, 0, 0, 0, 0]);
});

test('Write Zeroes (6.17): no data pointer, DEAC bit 25, 65536 blocks as NLB FFFFh', () => {
  const slot = h.core.submitRw(io.desc, 0x08, 1, 100, 65536, 0, 0, 1 << 25);
  const s = lastSqe(io);
  expectCommon(s, slot, io, 0x08, 1);
  assert.is(s.prp1, 0n);
  assert.is(s.prp2, 0n);
  assert.equal(s.cdw, [100, 0, 0xffff | (1 << 25), 0, 0, 0]);
});

test('Flush (6.8): opcode 00h, only NSID', () => {
  const slot = h.core.submitFlush(io.desc, 0xffffffff);
  const s = lastSqe(io);
  expectCommon(s, slot, io, 0x00, 0xffffffff);
  assert.equal(s.cdw, [0, 0, 0, 0, 0, 0]);
});

test('Dataset Management (6.7): NR 0-based in CDW10 7:0, AD bit 2 of CDW11, ranges by PRP', () => {
  const slot = h.core.submitDsm(io.desc, 1, 3, 1 << 2, buf);
  const s = lastSqe(io);
  expectCommon(s, slot, io, 0x09, 1);
  assert.is(s.prp1, dma(buf));
  assert.equal(s.cdw, [2, 4, 0, 0, 0, 0]);
});

test('Identify (5.15): CNS in CDW10 7:0, CNTID in 31:16, 4 KiB data', () => {
  const slot = h.core.submitIdentify(admin.desc, 0x01, 0, 0x1234, buf);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x06, 0);
  assert.is(s.prp1, dma(buf));
  assert.is(s.prp2, 0n, 'a page-aligned 4 KiB buffer needs no PRP2');
  assert.equal(s.cdw, [0x1 | (0x1234 << 16), 0, 0, 0, 0, 0]);
  for (const cns of [0x00, 0x02]) {
    const sl = h.core.submitIdentify(admin.desc, cns, cns === 0 ? 5 : 0, 0, buf);
    const t = lastSqe(admin);
    expectCommon(t, sl, admin, 0x06, cns === 0 ? 5 : 0);
    assert.is(t.cdw[0], cns);
  }
});

test('Get Features (5.13): FID in CDW10 7:0, SEL in 10:8, CDW11 passed', () => {
  const slot = h.core.submitGetFeatures(admin.desc, 0x07, 3, 0, 0xabcd, 0, 0);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x0a, 0);
  assert.equal(s.cdw, [0x07 | (3 << 8), 0xabcd, 0, 0, 0, 0]);
});

test('Set Features (5.21) Number of Queues: SV bit 31, NSQR 15:0 and NCQR 31:16 in CDW11', () => {
  const slot = h.core.submitSetFeatures(admin.desc, 0x07, 1, 0, (15 << 16) | 15, 0, 0, 0);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x09, 0);
  assert.equal(s.cdw, [(0x07 | (1 << 31)) >>> 0, (15 << 16) | 15, 0, 0, 0, 0]);
});

test('Create I/O CQ (5.3): QID 15:0, QSIZE-1 31:16; PC bit 0, IEN bit 1, IV 31:16; PRP1 = ring', () => {
  const slot = h.core.submitCreateIoCq(admin.desc, 5, 256, ring, 0, 0);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x05, 0);
  assert.is(s.prp1, dma(ring));
  assert.is(s.prp2, 0n);
  assert.equal(s.cdw, [5 | (255 << 16), 1, 0, 0, 0, 0]);
  const sl2 = h.core.submitCreateIoCq(admin.desc, 6, 2, ring, 1, 3);
  assert.equal(lastSqe(admin).cdw.slice(0, 2), [6 | (1 << 16), 1 | 2 | (3 << 16)]);
  assert.ok(sl2 >= 0);
});

test('Create I/O SQ (5.4): QID, QSIZE-1; PC bit 0, QPRIO 2:1, CQID 31:16; PRP1 = ring', () => {
  const slot = h.core.submitCreateIoSq(admin.desc, 5, 1024, ring, 9, 2);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x01, 0);
  assert.is(s.prp1, dma(ring));
  assert.equal(s.cdw, [5 | (1023 << 16), 1 | (2 << 1) | (9 << 16), 0, 0, 0, 0]);
});

test('Delete I/O SQ (5.6) and CQ (5.5): QID in CDW10 15:0', () => {
  let slot = h.core.submitDeleteIoSq(admin.desc, 77);
  let s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x00, 0);
  assert.equal(s.cdw, [77, 0, 0, 0, 0, 0]);
  slot = h.core.submitDeleteIoCq(admin.desc, 78);
  s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x04, 0);
  assert.equal(s.cdw, [78, 0, 0, 0, 0, 0]);
});

test('Get Log Page (5.14): LID 7:0, LSP 11:8, RAE 15, NUMDL 31:16, NUMDU, LPOL/LPOU', () => {
  const len = 64 * 1024; // 16384 dwords: NUMD 16383 = 0x3fff
  const slot = h.core.submitGetLogPage(admin.desc, 0x02, 0xffffffff, 1, 1, 0x2_0000_0040, buf, len);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x02, 0xffffffff);
  assert.equal(s.cdw, [(0x02 | (1 << 8) | (1 << 15) | (0x3fff << 16)) >>> 0, 0, 0x40, 0x2, 0, 0]);
  // More than 65536 dwords puts the upper bits in NUMDU.
  const io2 = makeQp(h, { qid: 0, qsize: 4, ownerBits: 6, maxXfer: 512 * 1024 });
  const big = h.region.allocDma(512 * 1024).regionOffset;
  assert.ok(h.core.submitGetLogPage(io2.desc, 0x01, 0, 0, 0, 0, big, 512 * 1024) >= 0);
  const t = lastSqe(io2);
  const numd = 512 * 1024 / 4 - 1; // 0x1ffff
  assert.is(t.cdw[0]! >>> 16, numd & 0xffff);
  assert.is(t.cdw[1], numd >>> 16);
  assert.is(h.core.submitGetLogPage(admin.desc, 2, 0, 0, 0, 0, buf, 6), -4, 'length not a dword multiple: BadLength');
});

test('Abort (5.1): SQID 15:0, CID 31:16', () => {
  const slot = h.core.submitAbort(admin.desc, 3, 0xbeef);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x08, 0);
  assert.equal(s.cdw, [(3 | (0xbeef << 16)) >>> 0, 0, 0, 0, 0, 0]);
});

test('Asynchronous Event Request (5.2): opcode 0Ch, no fields', () => {
  const slot = h.core.submitAsyncEventRequest(admin.desc);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0x0c, 0);
  assert.equal(s.cdw, [0, 0, 0, 0, 0, 0]);
});

test('Raw passthrough keeps every dword', () => {
  const slot = h.core.submitRaw(admin.desc, 0xc1, 9, buf, 4096, 1, 2, 3, 4, 5, 6);
  const s = lastSqe(admin);
  expectCommon(s, slot, admin, 0xc1, 9);
  assert.is(s.prp1, dma(buf));
  assert.equal(s.cdw, [1, 2, 3, 4, 5, 6]);
});

test('block counts outside 1..65536 are refused', () => {
  assert.is(h.core.submitRw(io.desc, 0x02, 1, 0, 0, buf, 512, 0), -8);
  assert.is(h.core.submitRw(io.desc, 0x02, 1, 0, 65537, buf, 512, 0), -8);
});

test.run();
