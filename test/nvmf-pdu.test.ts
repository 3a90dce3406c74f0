// The NVMe/TCP PDU layer: every PDU type's encoding byte by byte against
// the offsets of the NVMe/TCP Transport Specification 1.0 (written out here
// independently of assembly/nvme/tcp.ts), the CRC32C vectors of RFC 3720
// B.4 on every implementation, and the framer against a model: random PDU
// streams cut at random chunk boundaries, with and without one corruption.
// NVMF_FUZZ_RUNS sets the property test's runs (npm run fuzz:nvmf: 20000).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { instantiateSync } from '@assemblyscript/loader';
import { crc32c, crc32cJs, crc32cNative, type WasmCrc32c } from '../host/nvmf/crc32c.js';
import {
  encodeICReq, encodeICResp, encodeTermReq, encodeCapsuleCmd, encodeCapsuleResp, encodeC2HData, encodeH2CData, encodeR2T,
  type PduDigests,
} from '../host/nvmf/pdu/encode.js';
import { PduFramer, type PduSink } from '../host/nvmf/pdu/framer.js';
import { PduType, Fes } from '../assembly/nvme/tcp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const zeros = (n: number) => new Array<number>(n).fill(0);
const NOD: PduDigests = { hdgst: false, ddgst: false, pda: 0 };

// ---- CRC32C ----

const wasm = (() => {
  const bytes = fs.readFileSync(fileURLToPath(new URL('../../build/core.wasm', import.meta.url)));
  const memory = new WebAssembly.Memory({ initial: 18, maximum: 65536, shared: true });
  const core = instantiateSync(new WebAssembly.Module(bytes) as never, { env: { memory } } as never).exports as unknown as WasmCrc32c & { setRegionWindow(b: number, s: number): void };
  core.setRegionWindow(17 * 65536, 65536);
  const mem = new Uint8Array(memory.buffer, 17 * 65536, 65536);
  return (data: Uint8Array, seed = 0) => {
    mem.set(data);
    return core.crc32c(0, data.length, seed) >>> 0;
  };
})();

const vectors: Array<[string, Uint8Array, number]> = [
  ['32 zero bytes', new Uint8Array(32), 0x8a9136aa],
  ['32 0xFF bytes', new Uint8Array(32).fill(0xff), 0x62a8ab43],
  ['ascending 0..31', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
  ['descending 31..0', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
  ['"123456789"', new TextEncoder().encode('123456789'), 0xe3069283],
];
const impls: Array<[string, (d: Uint8Array, seed?: number) => number]> = [
  ['js', (d, s) => crc32cJs(d, s)],
  ['wasm core', wasm],
  ['crc32c (the one the PDU layer uses)', (d, s) => crc32c(d, s)],
];
if (crc32cNative) impls.push(['@node-rs/crc32', (d, s) => crc32cNative!(Buffer.from(d), s) >>> 0]);

for (const [iname, f] of impls) {
  test(`crc32c ${iname}: RFC 3720 B.4 vectors`, () => {
    for (const [name, data, want] of vectors) assert.is(f(data) >>> 0, want, `${name}: 0x${(f(data) >>> 0).toString(16)}`);
  });
  test(`crc32c ${iname}: seeds chain and every length agrees with the bytewise definition`, () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
    for (const n of [0, 1, 7, 8, 9, 63, 64, 255, 256, 257, 1000]) {
      const d = data.subarray(0, n);
      let c = ~0;
      for (const b of d) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      assert.is(f(d) >>> 0, ~c >>> 0, `length ${n}`);
      const cut = n >> 1;
      assert.is(f(d.subarray(cut), f(d.subarray(0, cut))) >>> 0, ~c >>> 0, `length ${n} in two parts`);
    }
  });
}

// ---- encodings, byte by byte (TCP 1.0 section 3.6.2) ----

test('ICReq: CH type 0, HLEN 128, PDO 0, PLEN 128; PFV at 8, HPDA 10, DGST 11, MAXR2T 12, reserved to 128', () => {
  const b = Buffer.alloc(160, 0xee);
  const n = encodeICReq(b, { hpda: 3, hdgst: true, ddgst: true, maxr2t: 0x01020304 });
  assert.is(n, 128);
  assert.is(hex(b.subarray(0, 128)), hex(Uint8Array.from([0x00, 0x00, 128, 0, ...le32(128), ...le16(0), 3, 0x03, ...le32(0x01020304), ...zeros(112)])));
  assert.is(b[128], 0xee, 'nothing written past the PDU');
});

test('ICResp: CH type 1; PFV 8, CPDA 10, DGST 11 (header digest only), MAXH2CDATA 12', () => {
  const b = Buffer.alloc(128);
  assert.is(encodeICResp(b, { hdgst: true, ddgst: false, maxh2cdata: 0x20000 }), 128);
  assert.is(hex(b), hex(Uint8Array.from([0x01, 0x00, 128, 0, ...le32(128), ...le16(0), 0, 0x01, ...le32(0x20000), ...zeros(112)])));
});

test('C2HTermReq / H2CTermReq: HLEN 24, PDO 0, PLEN 24 + data; FES at 8 (u16), FEI at 10 (u32), the offending header as data', () => {
  const b = Buffer.alloc(152);
  const bad = Uint8Array.from([0x04, 0x00, 0x11, 0x00, 0x48, 0, 0, 0]);
  assert.is(encodeTermReq(b, PduType.C2HTermReq, Fes.InvalidPduHeaderField, 2, bad), 32);
  assert.is(hex(b.subarray(0, 32)), hex(Uint8Array.from([0x03, 0x00, 24, 0, ...le32(32), ...le16(1), ...le32(2), ...zeros(10), ...bad])));
  const long = new Uint8Array(200).fill(7);
  assert.is(encodeTermReq(b, PduType.H2CTermReq, Fes.HeaderDigestError, 0xdeadbeef, long), 152, 'data cut at 128 bytes');
  assert.is(hex(b.subarray(0, 24)), hex(Uint8Array.from([0x02, 0x00, 24, 0, ...le32(152), ...le16(3), ...le32(0xdeadbeef), ...zeros(10)])));
});

test('CapsuleCmd: HLEN 72, SQE at 8; in-capsule data at PDO; with digests: HDGST at 72 (CRC32C of bytes 0..71), PDO 76, DDGST after the data', () => {
  const b = Buffer.alloc(128);
  const sqe = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
  b.set(sqe, 8);
  assert.is(encodeCapsuleCmd(b, 0, NOD), 72);
  assert.is(hex(b.subarray(0, 72)), hex(Uint8Array.from([0x04, 0x00, 72, 0, ...le32(72), ...sqe])));
  assert.is(encodeCapsuleCmd(b, 512, NOD), 72);
  assert.is(hex(b.subarray(0, 8)), hex(Uint8Array.from([0x04, 0x00, 72, 72, ...le32(72 + 512)])));
  assert.is(encodeCapsuleCmd(b, 512, { hdgst: true, ddgst: true, pda: 0 }), 76);
  assert.is(hex(b.subarray(0, 8)), hex(Uint8Array.from([0x04, 0x03, 72, 76, ...le32(76 + 512 + 4)])));
  assert.is(b.readUInt32LE(72), crc32cJs(b, 0, 0, 72));
  assert.is(encodeCapsuleCmd(b, 512, { hdgst: true, ddgst: false, pda: 3 }), 80, 'PDO aligned to (PDA + 1) dwords, padding zeroed');
  assert.is(hex(b.subarray(0, 8)), hex(Uint8Array.from([0x04, 0x01, 72, 80, ...le32(80 + 512)])));
  assert.is(hex(b.subarray(76, 80)), '00000000');
});

test('CapsuleResp: HLEN 24, CQE at 8, PLEN 24 (28 with HDGST)', () => {
  const b = Buffer.alloc(32);
  const cqe = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  b.set(cqe, 8);
  assert.is(encodeCapsuleResp(b, NOD), 24);
  assert.is(hex(b.subarray(0, 24)), hex(Uint8Array.from([0x05, 0x00, 24, 0, ...le32(24), ...cqe])));
  assert.is(encodeCapsuleResp(b, { hdgst: true, ddgst: true, pda: 0 }), 28);
  assert.is(hex(b.subarray(0, 8)), hex(Uint8Array.from([0x05, 0x01, 24, 0, ...le32(28)])), 'no DDGSTF without data');
  assert.is(b.readUInt32LE(24), crc32cJs(b, 0, 0, 24));
});

test('C2HData: CCCID 8, reserved 10, DATAO 12, DATAL 16, reserved 20; LAST_PDU 0x04, SUCCESS 0x08 (only with LAST_PDU)', () => {
  const b = Buffer.alloc(32);
  assert.is(encodeC2HData(b, 0x1234, 0x1000, 0x2000, true, true, NOD), 24);
  assert.is(hex(b.subarray(0, 24)), hex(Uint8Array.from([0x07, 0x0c, 24, 24, ...le32(24 + 0x2000), ...le16(0x1234), 0, 0, ...le32(0x1000), ...le32(0x2000), ...zeros(4)])));
  encodeC2HData(b, 1, 0, 512, false, true, { hdgst: true, ddgst: true, pda: 0 });
  assert.is(hex(b.subarray(0, 8)), hex(Uint8Array.from([0x07, 0x03, 24, 28, ...le32(28 + 512 + 4)])), 'no SUCCESS without LAST_PDU');
});

test('H2CData: CCCID 8, TTAG 10, DATAO 12, DATAL 16; LAST_PDU', () => {
  const b = Buffer.alloc(32);
  assert.is(encodeH2CData(b, 7, 0xbeef, 0x10000, 0x8000, true, NOD), 24);
  assert.is(hex(b.subarray(0, 24)), hex(Uint8Array.from([0x06, 0x04, 24, 24, ...le32(24 + 0x8000), ...le16(7), ...le16(0xbeef), ...le32(0x10000), ...le32(0x8000), ...zeros(4)])));
});

test('R2T: CCCID 8, TTAG 10, R2TO 12, R2TL 16, PLEN 24 (28 with HDGST), PDO 0', () => {
  const b = Buffer.alloc(32);
  assert.is(encodeR2T(b, 9, 3, 0x4000, 0x1c000, NOD), 24);
  assert.is(hex(b.subarray(0, 24)), hex(Uint8Array.from([0x09, 0x00, 24, 0, ...le32(24), ...le16(9), ...le16(3), ...le32(0x4000), ...le32(0x1c000), ...zeros(4)])));
  assert.is(encodeR2T(b, 9, 3, 0, 4096, { hdgst: true, ddgst: true, pda: 0 }), 28);
  assert.is(b.readUInt32LE(24), crc32cJs(b, 0, 0, 24));
});

// ---- the framer against a model ----

type Spec =
  | { t: 'icreq'; hpda: number; dgst: number; maxr2t: number }
  | { t: 'cmd'; sqe: Uint8Array; data: Uint8Array }
  | { t: 'h2c'; cccid: number; ttag: number; datao: number; data: Uint8Array; last: boolean }
  | { t: 'term'; fes: number; fei: number; data: Uint8Array };

const MAX_CAPSULE = 300;
const MAX_H2C = 300;

/** One PDU on the wire: its bytes, the header's length and where its data starts. */
function wire(s: Spec, d: PduDigests): { bytes: Buffer; hlen: number; dataAt: number; dataLen: number; type: PduType } {
  const h = Buffer.alloc(160);
  let head: number;
  let data: Uint8Array = new Uint8Array(0);
  let type: PduType;
  switch (s.t) {
    case 'icreq':
      head = encodeICReq(h, { hpda: s.hpda, hdgst: (s.dgst & 1) !== 0, ddgst: (s.dgst & 2) !== 0, maxr2t: s.maxr2t });
      type = PduType.ICReq;
      break;
    case 'cmd':
      h.set(s.sqe, 8);
      data = s.data;
      head = encodeCapsuleCmd(h, data.length, d);
      type = PduType.CapsuleCmd;
      break;
    case 'h2c':
      data = s.data;
      head = encodeH2CData(h, s.cccid, s.ttag, s.datao, data.length, s.last, d);
      type = PduType.H2CData;
      break;
    case 'term': {
      const n = encodeTermReq(h, PduType.H2CTermReq, s.fes, s.fei, s.data);
      return { bytes: Buffer.from(h.subarray(0, n)), hlen: 24, dataAt: 24, dataLen: n - 24, type: PduType.H2CTermReq };
    }
  }
  const dd = d.ddgst && data.length > 0;
  const parts = [h.subarray(0, head), data];
  if (dd) parts.push(Buffer.from(le32(crc32c(data))));
  return { bytes: Buffer.concat(parts), hlen: h[2]!, dataAt: head, dataLen: data.length, type };
}

const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ t: fc.constant('icreq' as const), hpda: fc.integer({ min: 0, max: 31 }), dgst: fc.integer({ min: 0, max: 3 }), maxr2t: fc.nat() }),
  fc.record({ t: fc.constant('cmd' as const), sqe: fc.uint8Array({ minLength: 64, maxLength: 64 }), data: fc.uint8Array({ maxLength: MAX_CAPSULE }) }),
  fc.record({
    t: fc.constant('h2c' as const), cccid: fc.integer({ min: 0, max: 0xffff }), ttag: fc.integer({ min: 0, max: 0xffff }), datao: fc.nat(),
    data: fc.uint8Array({ minLength: 1, maxLength: MAX_H2C }), last: fc.boolean(),
  }),
  fc.record({ t: fc.constant('term' as const), fes: fc.integer({ min: 1, max: 6 }), fei: fc.nat(), data: fc.uint8Array({ maxLength: 140 }) }),
);

type Corruption = 'none' | 'type' | 'hlen' | 'hdgst' | 'ddgst' | 'oversize';
type Event = { kind: 'pdu'; type: PduType; hdr: string; data: string } | { kind: 'ddgst'; type: PduType } | { kind: 'fatal'; fes: Fes; fei: number };

class Recorder implements PduSink {
  events: Event[] = [];
  header(_h: Buffer, _t: PduType, n: number): Uint8Array | null {
    return Buffer.alloc(n);
  }
  pdu(h: Buffer, type: PduType, data: Uint8Array | null, n: number): void {
    this.events.push({ kind: 'pdu', type, hdr: hex(h.subarray(0, h[2]!)), data: data ? hex(data.subarray(0, n)) : '' });
  }
  dataDigestError(_h: Buffer, type: PduType): void {
    this.events.push({ kind: 'ddgst', type });
  }
  fatal(fes: Fes, fei: number): void {
    this.events.push({ kind: 'fatal', fes, fei });
  }
}

const runs = Number(process.env.NVMF_FUZZ_RUNS ?? 300);

test(`framer: random PDU streams in random chunks, one corruption at most, match the model (${runs} runs)`, () => {
  fc.assert(
    fc.property(
      fc.array(specArb, { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom<Corruption>('none', 'none', 'type', 'hlen', 'hdgst', 'ddgst', 'oversize'),
      fc.nat(),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 0, max: 255 }),
      (specs, hdgst, ddgst, corruption, which, cuts, noise) => {
        const d: PduDigests = { hdgst, ddgst, pda: 0 };
        const pdus = specs.map((s) => wire(s, d));
        const expected: Event[] = [];
        const k = which % pdus.length;
        const p = pdus[k]!;
        const hasHd = hdgst && (p.type === PduType.CapsuleCmd || p.type === PduType.H2CData);
        let applied: Corruption = 'none';
        if (corruption === 'type') {
          const bad = [0x01, 0x03, 0x05, 0x07, 0x08, 0x09, 0x0a, 0x1f, 0x20, 0xff];
          p.bytes[0] = bad[noise % bad.length]!;
          applied = corruption;
        } else if (corruption === 'hlen') {
          p.bytes[2] = p.hlen ^ (1 + (noise % 254));
          applied = corruption;
        } else if (corruption === 'hdgst' && hasHd) {
          p.bytes[8 + (noise % (p.hlen - 8))]! ^= 1 << (noise & 7);
          applied = corruption;
        } else if (corruption === 'ddgst' && ddgst && p.dataLen > 0 && p.type !== PduType.H2CTermReq) {
          p.bytes[p.dataAt + (noise % p.dataLen)]! ^= 1 << (noise & 7);
          applied = corruption;
        } else if (corruption === 'oversize' && p.type === PduType.CapsuleCmd && !hasHd) {
          p.bytes.writeUInt32LE(p.dataAt + MAX_CAPSULE + 1 + (ddgst ? 4 : 0), 4);
          if (p.dataLen === 0) p.bytes[3] = 72; // PDO of a capsule with data
          p.bytes[1] = ddgst ? p.bytes[1]! | 2 : p.bytes[1]!;
          applied = corruption;
        }
        for (let i = 0; i < pdus.length; i++) {
          const q = pdus[i]!;
          if (i === k && applied !== 'none') {
            if (applied === 'type') expected.push({ kind: 'fatal', fes: Fes.InvalidPduHeaderField, fei: 0 });
            else if (applied === 'hlen') expected.push({ kind: 'fatal', fes: Fes.InvalidPduHeaderField, fei: 2 });
            else if (applied === 'hdgst') expected.push({ kind: 'fatal', fes: Fes.HeaderDigestError, fei: q.bytes.readUInt32LE(q.hlen) });
            else if (applied === 'oversize') expected.push({ kind: 'fatal', fes: Fes.DataTransferLimitExceeded, fei: 4 });
            if (applied !== 'ddgst') break;
            expected.push({ kind: 'ddgst', type: q.type });
            continue;
          }
          expected.push({ kind: 'pdu', type: q.type, hdr: hex(q.bytes.subarray(0, q.hlen)), data: hex(q.bytes.subarray(q.dataAt, q.dataAt + q.dataLen)) });
        }
        // The stream, cut where `cuts` says.
        const stream = Buffer.concat(pdus.map((q) => q.bytes));
        const rec = new Recorder();
        const fr = new PduFramer(rec, 'target', { maxCapsuleData: MAX_CAPSULE, maxDataPdu: MAX_H2C });
        fr.hdgst = hdgst;
        fr.ddgst = ddgst;
        let at = 0;
        for (let c = 0; at < stream.length; c++) {
          const n = cuts[c % cuts.length]!;
          fr.push(stream.subarray(at, at + n));
          at += n;
        }
        assert.equal(rec.events, expected);
        if (applied === 'none' || applied === 'ddgst') assert.ok(!fr.midPdu, 'nothing left half read');
      },
    ),
    { numRuns: runs },
  );
});

test('framer: a host-role framer takes CapsuleResp, R2T, C2HData and refuses a CapsuleCmd (FES 1, FEI 0)', () => {
  const rec = new Recorder();
  const fr = new PduFramer(rec, 'host', { maxCapsuleData: 0, maxDataPdu: 1 << 20 });
  const b = Buffer.alloc(64);
  const parts: Buffer[] = [];
  encodeCapsuleResp(b, NOD);
  parts.push(Buffer.from(b.subarray(0, 24)));
  encodeR2T(b, 1, 2, 0, 4096, NOD);
  parts.push(Buffer.from(b.subarray(0, 24)));
  encodeC2HData(b, 1, 0, 4, true, false, NOD);
  parts.push(Buffer.from(b.subarray(0, 24)), Buffer.from([1, 2, 3, 4]));
  encodeCapsuleCmd(b, 0, NOD);
  parts.push(Buffer.from(b.subarray(0, 72)));
  fr.push(Buffer.concat(parts));
  assert.equal(rec.events.map((e) => (e.kind === 'pdu' ? e.type : e)), [PduType.CapsuleResp, PduType.R2T, PduType.C2HData, { kind: 'fatal', fes: Fes.InvalidPduHeaderField, fei: 0 }]);
});

test('framer: bad PLEN per type (ICReq not 128, CapsuleResp-length CapsuleCmd, H2CData without data, DATAL disagreeing with PLEN)', () => {
  const cases: Array<[string, (b: Buffer) => void, number]> = [
    ['ICReq PLEN 129', (b) => { encodeICReq(b, {}); b.writeUInt32LE(129, 4); }, 4],
    ['CapsuleCmd PLEN 71', (b) => { encodeCapsuleCmd(b, 0, NOD); b.writeUInt32LE(71, 4); }, 4],
    ['H2CData PLEN 24', (b) => { encodeH2CData(b, 0, 0, 0, 4, true, NOD); b.writeUInt32LE(24, 4); }, 4],
    ['H2CData DATAL 8, PLEN 28', (b) => { encodeH2CData(b, 0, 0, 0, 4, true, NOD); b.writeUInt32LE(8, 16); }, 16],
    ['H2CData PDO 20', (b) => { encodeH2CData(b, 0, 0, 0, 4, true, NOD); b[3] = 20; }, 3],
    ['TermReq PLEN 153', (b) => { encodeTermReq(b, PduType.H2CTermReq, 1, 0); b.writeUInt32LE(153, 4); }, 4],
    ['HDGSTF set without header digests', (b) => { encodeCapsuleCmd(b, 0, NOD); b[1] = 1; }, 1],
  ];
  for (const [name, make, fei] of cases) {
    const rec = new Recorder();
    const fr = new PduFramer(rec, 'target', { maxCapsuleData: 8192, maxDataPdu: 8192 });
    const b = Buffer.alloc(256);
    make(b);
    fr.push(b);
    assert.equal(rec.events.at(-1), { kind: 'fatal', fes: Fes.InvalidPduHeaderField, fei }, name);
    assert.ok(fr.stopped, name);
  }
});

test.run();
