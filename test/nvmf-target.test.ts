// The NVMe/TCP target on the embedded simulated controller, driven by a raw
// NVMe/TCP client (test/helpers/nvmf-client.ts): ICReq, Connect, properties,
// Identify as the kernel reads it, verified I/O in-capsule and by R2T, with
// and without digests; discovery; host NQN checks; Keep Alive; queues given
// back on Disconnect.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTarget, type RunningTarget } from '../host/nvmf/target/index.js';
import { adminAssociation, ioQueue, RawNvmfClient, HOSTNQN } from './helpers/nvmf-client.js';
import { DISCOVERY_NQN, FabricsSc, IDC_IOCCSZ, IDC_IORCSZ, IDC_ICDOFF, IDC_CNTRLTYPE, IDC_KAS } from '../assembly/nvme/fabrics.js';
import { IDC_CNTLID, IDC_SGLS, IDC_SUBNQN, IDC_MAXCMD, IDC_MDTS, IDC_NN } from '../assembly/nvme/identify.js';
import { Fes } from '../assembly/nvme/tcp.js';
import { pattern } from './helpers/rand.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:test';
const OTHER = 'nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555';

let rt: RunningTarget;
let port = 0;
const logs: string[] = [];

test.before(async () => {
  rt = await startTarget({
    listen: ['127.0.0.1:0'],
    devices: [{ name: 'sim', regionSize: 128 * 1024 * 1024, sim: { mdts: 5, namespaces: [{ lbaSize: 512, blocks: 65536 }] } }],
    subsystems: [{ nqn: NQN, hosts: [HOSTNQN], serialNumber: 'NVMFTEST1', maxIoQueuesPerHost: 4 }],
    log: (m) => logs.push(m),
  });
  port = rt.listeners[0]!.port;
});

test.after(async () => {
  await rt.stop();
});

const dev = () => rt.devices.get('sim')!;

test('ICResp: PFV 0, CPDA 0, MAXH2CDATA; digests as asked', async () => {
  for (const [hd, dd] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const c = await RawNvmfClient.connect(port, { hdgst: hd, ddgst: dd });
    assert.is(c.cpda, 0);
    assert.is(c.maxH2CData, 128 * 1024);
    assert.is(c.dig.hdgst, hd);
    assert.is(c.dig.ddgst, dd);
    await c.close();
  }
});

test('admin Connect, Property Get/Set (CAP, VS, CC.EN -> CSTS.RDY, CC.SHN -> CSTS.SHST), Identify with the fabric fields', async () => {
  const c = await RawNvmfClient.connect(port);
  const r = await c.connectCmd({ qid: 0, sqsize: 31, kato: 5000, subnqn: NQN });
  assert.is(r.status, 0);
  const cntlid = r.dw0 & 0xffff;
  assert.ok(cntlid >= 1 && cntlid <= 0xffef);
  const cap = await c.propGet(0x00, true);
  assert.is(cap.status, 0);
  assert.is(cap.dw0 & 0xffff, 127, 'MQES: 128 entries');
  assert.is((cap.dw1 >>> 5) & 1, 1, 'CSS: NVM');
  assert.is((await c.propGet(0x08, false)).dw0, 0x10400);
  assert.is((await c.propGet(0x1c, false)).dw0 & 1, 0, 'not ready before CC.EN');
  assert.is((await c.propSet(0x14, 0x460001)).status, 0);
  assert.is((await c.propGet(0x1c, false)).dw0 & 1, 1, 'CSTS.RDY');
  assert.is((await c.propGet(0x14, false)).dw0, 0x460001);
  assert.is((await c.propGet(0x00, false)).status & 0xff, 0x02, 'CAP is 8 bytes: a 4-byte get is Invalid Field');
  const id = await c.identify(1);
  assert.is(id.status, 0);
  const d = id.data!;
  assert.is(d.readUInt16LE(IDC_CNTLID), cntlid, 'CNTLID as Connect gave');
  assert.is(d[IDC_CNTRLTYPE], 1);
  assert.is(d.readUInt16LE(IDC_KAS), 1);
  assert.is(d.readUInt32LE(IDC_IOCCSZ), (64 + 16384) / 16);
  assert.is(d.readUInt32LE(IDC_IORCSZ), 1);
  assert.is(d.readUInt16LE(IDC_ICDOFF), 0);
  assert.is(d.readUInt32LE(IDC_SGLS) & 3, 1);
  assert.is(d.subarray(IDC_SUBNQN, IDC_SUBNQN + NQN.length).toString(), NQN);
  assert.is(d[IDC_SUBNQN + NQN.length], 0);
  assert.is(d.readUInt16LE(IDC_MAXCMD), 128);
  assert.is(d[IDC_MDTS], 5);
  assert.is(d.readUInt32LE(IDC_NN), 1);
  assert.is(d.subarray(4, 24).toString().trim(), 'NVMFTEST1');
  const nsl = await c.identify(2);
  assert.is(nsl.data!.readUInt32LE(0), 1);
  assert.is(nsl.data!.readUInt32LE(4), 0);
  const ns = await c.identify(0, 1);
  assert.is(ns.data!.readBigUInt64LE(0), 65536n);
  const desc = await c.identify(3, 1);
  assert.is(desc.data![0], 2, 'an NGUID descriptor');
  assert.ok(!desc.data!.subarray(4, 20).every((x) => x === 0));
  const nq = await c.admin(0x09, { cdw10: 7, cdw11: 0x003f003f });
  assert.is(nq.dw0, 0x00030003, 'Number of Queues: the per-host quota (4)');
  assert.is((await c.admin(0x18)).status, 0, 'Keep Alive');
  const smart = await c.getLogPage(2, 512);
  assert.is(smart.status, 0, 'SMART log passed through');
  assert.is((await c.admin(0x80, { nsid: 1 })).status & 0xff, 0x15, 'Format refused (Operation Denied)');
  assert.is((await c.admin(0x01)).status & 0xff, 0x01, 'Create I/O SQ: not on a fabric');
  assert.is((await c.propSet(0x14, 0x464001)).status, 0);
  assert.is(((await c.propGet(0x1c, false)).dw0 >>> 2) & 3, 2, 'CSTS.SHST: shutdown complete');
  await c.close();
});

for (const [hd, dd] of [[false, false], [true, true], [true, false], [false, true]] as const) {
  test(`I/O: writes in-capsule and by R2T/H2CData, reads by C2HData, data verified (hdgst ${hd}, ddgst ${dd})`, async () => {
    const { admin, cntlid } = await adminAssociation(port, NQN, { hdgst: hd, ddgst: dd });
    const before = dev().ioQueuePairs.length;
    const q = await ioQueue(port, NQN, cntlid, 1, { hdgst: hd, ddgst: dd, sqsize: 127 });
    assert.is(dev().ioQueuePairs.length, before + 1, 'a device queue pair of its own');
    const sizes = [1, 8, 32, 33, 255, 256]; // blocks of 512: in-capsule up to 16 KiB, then R2T (maxh2cdata 128 KiB)
    let lba = 0;
    for (const n of sizes) {
      const data = pattern(lba, n, 512, n);
      const w = await q.rw(true, 1, lba, n, data);
      assert.is(w.status, 0, `write ${n}`);
      const r = await q.rw(false, 1, lba, n);
      assert.is(r.status, 0, `read ${n}`);
      assert.ok(r.data!.equals(data), `${n} blocks read back intact`);
      lba += n;
    }
    // The same data seen locally, through the driver.
    // Many at once (64, within the queue's 128 entries).
    const all = await Promise.all(Array.from({ length: 64 }, (_, i) => q.rw(true, 1, 10000 + i * 8, 8, pattern(10000 + i * 8, 8, 512, 7))));
    assert.ok(all.every((x) => x.status === 0));
    const back = await Promise.all(Array.from({ length: 64 }, (_, i) => q.rw(false, 1, 10000 + i * 8, 8)));
    back.forEach((x, i) => assert.ok(x.data!.equals(pattern(10000 + i * 8, 8, 512, 7)), `concurrent ${i}`));
    const oob = await q.rw(false, 1, 65536 - 4, 8);
    assert.is(oob.status & 0xff, 0x80, 'LBA out of range');
    const badNs = await q.rw(false, 7, 0, 1);
    assert.is(badNs.status & 0xff, 0x0b, 'invalid namespace');
    assert.is((await q.disconnect()).status, 0);
    await q.closed;
    await admin.disconnect();
    await admin.closed;
    for (let i = 0; i < 200 && dev().ioQueuePairs.length !== before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(dev().ioQueuePairs.length, before, 'the device queue pair given back on Disconnect');
    const local = await dev().namespace(1).readBlocks(0, 1); // (makes the controller's default queue pair: after the count)
    assert.ok(local.equals(pattern(0, 1, 512, 1)), 'what the host wrote, read locally through the driver');
  });
}

test('Connect refusals: host not allowed (0x84), unknown subsystem (0x82, IPO 256 in data), bad format (0x80), I/O queue beyond the quota (0x82 on QID), unknown controller', async () => {
  const c = await RawNvmfClient.connect(port);
  const r = await c.connectCmd({ qid: 0, sqsize: 31, subnqn: NQN, hostnqn: OTHER });
  assert.is(r.sct, 1);
  assert.is(r.sc, FabricsSc.ConnectInvalidHost);
  const u = await c.connectCmd({ qid: 0, sqsize: 31, subnqn: 'nqn.2026-12.io.nvme-wasm:nope' });
  assert.is(u.sc, FabricsSc.ConnectInvalidParameters);
  assert.is(u.dw0, (1 << 16) | 256);
  const f = await c.connectCmd({ qid: 0, sqsize: 31, subnqn: NQN, recfmt: 1 });
  assert.is(f.sc, FabricsSc.ConnectIncompatibleFormat);
  const z = await c.connectCmd({ qid: 0, sqsize: 0, subnqn: NQN });
  assert.is(z.sc, FabricsSc.ConnectInvalidParameters);
  assert.is(z.dw0, 44, 'IPO: SQSIZE in the SQE');
  await c.close();
  const { admin, cntlid } = await adminAssociation(port, NQN);
  const q5 = await RawNvmfClient.connect(port);
  const r5 = await q5.connectCmd({ qid: 5, sqsize: 31, cntlid, subnqn: NQN });
  assert.is(r5.sc, FabricsSc.ConnectInvalidParameters);
  assert.is(r5.dw0, 42, 'IPO: QID');
  const r6 = await q5.connectCmd({ qid: 1, sqsize: 31, cntlid: cntlid + 100, subnqn: NQN });
  assert.is(r6.sc, FabricsSc.ConnectInvalidParameters);
  assert.is(r6.dw0, (1 << 16) | 16, 'IPO: CNTLID in the data');
  await q5.close();
  await admin.close();
});

test('discovery: log page 70h lists the discovery subsystem and each subsystem on each listener', async () => {
  const { admin } = await adminAssociation(port, DISCOVERY_NQN);
  const id = await admin.identify(1);
  assert.is(id.data![IDC_CNTRLTYPE], 2);
  const hdr = await admin.getLogPage(0x70, 1024);
  const numrec = Number(hdr.data!.readBigUInt64LE(8));
  assert.is(numrec, 2);
  const all = await admin.getLogPage(0x70, 1024 * (1 + numrec));
  const e = (i: number) => all.data!.subarray(1024 * (1 + i), 1024 * (2 + i));
  assert.is(e(0)[2], 3, 'subtype 3: this discovery subsystem');
  assert.is(e(1)[0], 3, 'trtype TCP');
  assert.is(e(1)[1], 1, 'IPv4');
  assert.is(e(1)[2], 2, 'subtype 2: NVM subsystem');
  assert.is(e(1).subarray(256, 256 + NQN.length).toString(), NQN);
  assert.is(e(1).subarray(512, 521).toString(), '127.0.0.1');
  assert.is(e(1).subarray(32, 64).toString().trim(), String(port));
  await admin.close();
});

test('Keep Alive: an association without commands for KATO ends (its queues closed, device queues given back)', async () => {
  const before = dev().ioQueuePairs.length;
  const { admin, cntlid } = await adminAssociation(port, NQN, { kato: 300 });
  const q = await ioQueue(port, NQN, cntlid, 1);
  assert.is(dev().ioQueuePairs.length, before + 1);
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 150));
    assert.is((await admin.admin(0x18)).status, 0, 'kept alive');
  }
  await Promise.all([admin.closed, q.closed]);
  assert.ok(logs.some((l) => l.includes('keep alive timeout')));
  for (let i = 0; i < 200 && dev().ioQueuePairs.length !== before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(dev().ioQueuePairs.length, before);
});

test('Keep Alive: I/O commands keep an association alive without Keep Alive commands (traffic based); silence ends it within 2 x KATO', async () => {
  const kato = 300;
  const { admin, cntlid } = await adminAssociation(port, NQN, { kato });
  const q = await ioQueue(port, NQN, cntlid, 1);
  let closedAt = 0;
  void admin.closed.then(() => (closedAt = performance.now()));
  const until = performance.now() + 4 * kato;
  let lastCommand = 0;
  while (performance.now() < until) {
    const ended = q.closed.then(() => assert.unreachable(`the association ended after ${(performance.now() + 4 * kato - until).toFixed(0)} ms of reads`));
    assert.is((await Promise.race([q.rw(false, 1, 0, 1), ended]))!.status, 0, 'read');
    lastCommand = performance.now(); // its answer came: the target saw it before
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.is(closedAt, 0, 'alive after 4 x KATO of reads alone');
  await Promise.all([admin.closed, q.closed]);
  const quiet = closedAt - lastCommand;
  assert.ok(quiet >= kato - 20 && quiet <= 2 * kato + 250, `ended ${quiet.toFixed(0)} ms after the last command (KATO ${kato} ms)`);
});

test('hostile: a PDU other than ICReq first is a PDU Sequence Error TermReq', async () => {
  const c = await RawNvmfClient.open(port);
  const b = Buffer.alloc(72);
  b[0] = 4;
  b[2] = 72;
  b.writeUInt32LE(72, 4);
  c.send(b);
  await c.closed;
  assert.equal(c.termReq, { fes: Fes.PduSequenceError, fei: 0 });
});

test.run();
