// Hostile NVMe/TCP peers against the target: each framing or sequencing
// error is answered with a C2HTermReq carrying the spec's FES (and FEI) and
// the connection closed; a bad data digest fails only its command; stalled
// and silent connections are closed after a bounded time; while all this
// happens another host's I/O queue keeps being served.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTarget, type RunningTarget } from '../host/nvmf/target/index.js';
import { adminAssociation, ioQueue, RawNvmfClient, type Completion } from './helpers/nvmf-client.js';
import { encodeCapsuleCmd, encodeH2CData } from '../host/nvmf/pdu/encode.js';
import { crc32c } from '../host/nvmf/crc32c.js';
import { Fes } from '../assembly/nvme/tcp.js';
import { pattern } from './helpers/rand.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:hostile';
let rt: RunningTarget;
let port = 0;
let good: { admin: RawNvmfClient; q: RawNvmfClient; round: number };

test.before(async () => {
  rt = await startTarget({
    listen: ['127.0.0.1:0'], stallTimeoutMs: 300, icTimeoutMs: 300,
    devices: [{ name: 'sim', regionSize: 64 * 1024 * 1024, sim: { namespaces: [{ lbaSize: 512, blocks: 32768 }] } }],
    subsystems: [{ nqn: NQN, allowAnyHost: true }],
  });
  port = rt.listeners[0]!.port;
  const { admin, cntlid } = await adminAssociation(port, NQN);
  good = { admin, q: await ioQueue(port, NQN, cntlid, 1), round: 0 };
});

test.after(async () => {
  await good.q.close();
  await good.admin.close();
  await rt.stop();
});

/** The well-behaved host: a verified write and read. */
async function goodHostServed(): Promise<void> {
  const r = ++good.round;
  const data = pattern(r * 16, 16, 512, r);
  assert.is((await good.q.rw(true, 1, r * 16, 16, data)).status, 0);
  const back = await good.q.rw(false, 1, r * 16, 16);
  assert.ok(back.data!.equals(data), 'the other host is still served');
}

async function expectTermReq(c: RawNvmfClient, fes: Fes, fei?: number): Promise<void> {
  await c.closed;
  assert.ok(c.termReq, 'a C2HTermReq came before the close');
  assert.is(c.termReq!.fes, fes, `FES ${Fes[c.termReq!.fes]}`);
  if (fei !== undefined) assert.is(c.termReq!.fei, fei, 'FEI');
  await goodHostServed();
}

/** A ready I/O queue of a new association (and its admin queue). */
async function freshIoQueue(o: { hdgst?: boolean; ddgst?: boolean } = {}): Promise<{ admin: RawNvmfClient; q: RawNvmfClient }> {
  const { admin, cntlid } = await adminAssociation(port, NQN, o);
  return { admin, q: await ioQueue(port, NQN, cntlid, 1, o) };
}

test('bad HLEN: FES Invalid PDU Header Field, FEI 2', async () => {
  const c = await RawNvmfClient.connect(port);
  const b = Buffer.alloc(72);
  encodeCapsuleCmd(b, 0, c.dig);
  b[2] = 64;
  c.send(b);
  await expectTermReq(c, Fes.InvalidPduHeaderField, 2);
});

test('bad PLEN: a CapsuleCmd shorter than its header: FEI 4', async () => {
  const c = await RawNvmfClient.connect(port);
  const b = Buffer.alloc(72);
  encodeCapsuleCmd(b, 0, c.dig);
  b.writeUInt32LE(70, 4);
  c.send(b);
  await expectTermReq(c, Fes.InvalidPduHeaderField, 4);
});

test('an ICReq of the wrong length (PLEN 129): FEI 4', async () => {
  const c = await RawNvmfClient.open(port);
  const b = Buffer.alloc(129);
  b[2] = 128;
  b.writeUInt32LE(129, 4);
  c.send(b);
  await expectTermReq(c, Fes.InvalidPduHeaderField, 4);
});

test('unknown PDU type (0x0A), and a controller-to-host type (C2HData) from a host: FEI 0', async () => {
  for (const type of [0x0a, 0x07, 0xff]) {
    const c = await RawNvmfClient.connect(port);
    const b = Buffer.alloc(24);
    b[0] = type;
    b[2] = 24;
    b.writeUInt32LE(24, 4);
    c.send(b);
    await expectTermReq(c, Fes.InvalidPduHeaderField, 0);
  }
});

test('ICReq with PFV 1: FES Unsupported Parameter, FEI 8', async () => {
  const c = await RawNvmfClient.open(port);
  const b = Buffer.alloc(128);
  b[2] = 128;
  b.writeUInt32LE(128, 4);
  b.writeUInt16LE(1, 8);
  c.send(b);
  await expectTermReq(c, Fes.UnsupportedParameter, 8);
});

test('bad header digest: FES Header Digest Error, FEI the digest received', async () => {
  const { admin, q } = await freshIoQueue({ hdgst: true });
  const b = Buffer.alloc(80);
  b[8] = 0x02;
  encodeCapsuleCmd(b, 0, q.dig);
  b.writeUInt32LE(0xdeadbeef, 72);
  q.send(b.subarray(0, 76));
  await expectTermReq(q, Fes.HeaderDigestError, 0xdeadbeef);
  await admin.close();
});

test('bad data digest on in-capsule data: that command fails with Transient Transport Error, the queue goes on', async () => {
  const { admin, q } = await freshIoQueue({ ddgst: true });
  const data = pattern(0, 8, 512, 99);
  const hdr = Buffer.alloc(80);
  const sqe = Buffer.alloc(64);
  sqe[0] = 0x01;
  sqe[1] = 0x40;
  sqe.writeUInt16LE(0x77, 2);
  sqe.writeUInt32LE(1, 4);
  sqe.writeUInt32LE(7, 48);
  sqe.writeUInt32LE(data.length, 32);
  sqe[39] = 0x01;
  sqe.copy(hdr, 8);
  const n = encodeCapsuleCmd(hdr, data.length, q.dig);
  const dg = Buffer.alloc(4);
  dg.writeUInt32LE((crc32c(data) ^ 1) >>> 0);
  const got = new Promise<Completion>((resolve) => {
    const orig = q.pdu.bind(q);
    q.pdu = (h, type, d, len) => {
      if (type === 5 && h.readUInt16LE(20) === 0x77) resolve({ status: h.readUInt16LE(22) >>> 1, sc: (h.readUInt16LE(22) >>> 1) & 0xff, sct: 0, dw0: 0, dw1: 0, sqhd: 0 });
      else orig(h, type, d, len);
    };
  });
  q.send(Buffer.concat([hdr.subarray(0, n), data, dg]));
  const c = await got;
  assert.is(c.sc, 0x22, 'Transient Transport Error');
  const w = await q.rw(true, 1, 0, 8, data);
  assert.is(w.status, 0, 'the queue still works');
  await q.close();
  await admin.close();
  await goodHostServed();
});

test('H2CData without an R2T: FES PDU Sequence Error', async () => {
  const { admin, q } = await freshIoQueue();
  q.sendH2C(5, 0, 0, Buffer.alloc(512), true);
  await expectTermReq(q, Fes.PduSequenceError);
  await admin.close();
});

test('data beyond the R2T (and the command\'s length): FES Data Transfer Out of Range', async () => {
  const { admin, q } = await freshIoQueue();
  // A 32 KiB write (beyond in-capsule: R2T), answered with 64 KiB of data.
  const big = Buffer.alloc(65536, 1);
  const r2t = new Promise<{ cccid: number; ttag: number }>((resolve) => {
    const orig = q.pdu.bind(q);
    q.pdu = (h, type, d, len) => (type === 9 ? resolve({ cccid: h.readUInt16LE(8), ttag: h.readUInt16LE(10) }) : orig(h, type, d, len));
  });
  void q.rw(true, 1, 0, 64, Buffer.alloc(32768)).catch(() => {});
  const { cccid, ttag } = await r2t;
  q.sendH2C(cccid, ttag, 0, big, true);
  await expectTermReq(q, Fes.DataTransferOutOfRange);
  await admin.close();
});

test('oversize in-capsule data: beyond IOCCSZ on an I/O queue, beyond 8 KiB on the admin queue: FES Data Transfer Limit Exceeded', async () => {
  const { admin, q } = await freshIoQueue();
  const hdr = Buffer.alloc(72);
  hdr[8] = 0x01;
  hdr.writeUInt32LE(16384 + 512, 8 + 32);
  hdr[8 + 39] = 0x01;
  const n = encodeCapsuleCmd(hdr, 16384 + 512, q.dig);
  q.send(Buffer.concat([hdr.subarray(0, n), Buffer.alloc(16384 + 512)]));
  await expectTermReq(q, Fes.DataTransferLimitExceeded);
  const n2 = encodeCapsuleCmd(hdr, 8192 + 4, admin.dig);
  admin.send(Buffer.concat([hdr.subarray(0, n2), Buffer.alloc(8196)]));
  await expectTermReq(admin, Fes.DataTransferLimitExceeded);
});

test('half a header, then silence: closed after the stall timeout; no ICReq at all: closed too', async () => {
  const c = await RawNvmfClient.connect(port);
  const b = Buffer.alloc(72);
  encodeCapsuleCmd(b, 0, c.dig);
  const t0 = Date.now();
  c.send(b.subarray(0, 30));
  await c.closed;
  assert.ok(Date.now() - t0 < 5000, 'closed within a bounded time');
  const silent = await RawNvmfClient.open(port);
  await silent.closed;
  await goodHostServed();
});

test('H2CData with LAST_PDU before the R2T is filled: FES Data Transfer Out of Range', async () => {
  const { admin, q } = await freshIoQueue();
  const r2t = new Promise<{ cccid: number; ttag: number }>((resolve) => {
    const orig = q.pdu.bind(q);
    q.pdu = (h, type, d, len) => (type === 9 ? resolve({ cccid: h.readUInt16LE(8), ttag: h.readUInt16LE(10) }) : orig(h, type, d, len));
  });
  void q.rw(true, 1, 0, 64, Buffer.alloc(32768)).catch(() => {});
  const { cccid, ttag } = await r2t;
  const hdr = Buffer.alloc(24);
  const n = encodeH2CData(hdr, cccid, ttag, 0, 4096, true, q.dig);
  q.send(Buffer.concat([hdr.subarray(0, n), Buffer.alloc(4096)]));
  await expectTermReq(q, Fes.DataTransferOutOfRange);
  await admin.close();
});

test.run();
