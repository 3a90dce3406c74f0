// Command-level behaviour of the simulated controller through a hand-built
// host (sim-harness.ts): the checks and status codes of chapter 5 and 6
// commands, faults, AERs, CQ-full holding and latency. The driver's own
// tests cover the same device from the other side.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimHarness, sqe, IOVA, DATA_OFF, sleep } from './sim-harness.js';
import { AdminOpc, NvmOpc, FeatureId, LogId, CQE_SIZE } from '../assembly/nvme/cmd.js';
import { Sct, GenericSc, CommandSpecificSc, MediaSc, statusField } from '../assembly/nvme/status.js';
import * as I from '../assembly/nvme/identify.js';
import * as R from '../assembly/nvme/regs.js';

const g = (sc: GenericSc, dnr = true) => statusField(Sct.Generic, sc, dnr);
const cs = (sc: CommandSpecificSc, dnr = true) => statusField(Sct.CommandSpecific, sc, dnr);
const BUF = IOVA + DATA_OFF;
const buf = (off = 0) => DATA_OFF + off;
let h: SimHarness;

test.before(async () => {
  h = await SimHarness.start({
    name: `cmd-${process.pid}`,
    maxIoQueuePairs: 4,
    mqes: 255,
    mdts: 3,
    aerl: 1,
    namespaces: [{ lbaSize: 512, blocks: 4096 }, { lbaSize: 4096, blocks: 256 }],
  });
  await h.enable();
  await h.createQueuePair(1, 64, 0x10000, 0x20000);
});
test.after(async () => {
  await h.stop();
});

const admin = (opc: number, nsid: number, f: Parameters<typeof sqe>[2] = {}) => h.cmd(0, sqe(opc, nsid, f));
const io = (opc: number, nsid: number, f: Parameters<typeof sqe>[2] = {}) => h.cmd(1, sqe(opc, nsid, f));

test('Identify: controller, namespace, active list, descriptors, bad CNS / NSID', async () => {
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: BUF, cdw10: 1 })).sf, 0);
  const r = h.region;
  assert.is(r.toString('latin1', buf(I.IDC_SN), buf(I.IDC_SN + I.IDC_SN_LEN)).trim(), 'NVMW00000001');
  assert.is(r.readUInt8(buf(I.IDC_MDTS)), 3);
  assert.is(r.readUInt32LE(buf(I.IDC_NN)), 2);
  assert.is(r.readUInt8(buf(I.IDC_SQES)), 0x66);
  assert.is(r.readUInt8(buf(I.IDC_CQES)), 0x44);
  assert.is(r.readUInt32LE(buf(I.IDC_VER)), R.VS_1_4);
  assert.is(r.readUInt8(buf(I.IDC_AERL)), 1);
  assert.ok(r.readUInt16LE(buf(I.IDC_ONCS)) & I.ONCS_DSM);
  assert.is((await admin(AdminOpc.Identify, 2, { prp1: BUF, cdw10: 0 })).sf, 0);
  assert.is(r.readUInt32LE(buf(I.IDNS_NSZE)), 256);
  assert.is(r.readUInt8(buf(I.IDNS_FLBAS)), 1, '4096-byte format is index 1');
  assert.is((r.readUInt32LE(buf(I.IDNS_LBAF0 + 4)) >>> I.LBAF_LBADS_SHIFT) & 0xff, 12);
  assert.is((await admin(AdminOpc.Identify, 1, { prp1: BUF, cdw10: 2 })).sf, 0);
  assert.equal([r.readUInt32LE(buf(0)), r.readUInt32LE(buf(4))], [2, 0], 'NSIDs above 1');
  assert.is((await admin(AdminOpc.Identify, 1, { prp1: BUF, cdw10: 3 })).sf, 0);
  assert.is(r.readUInt8(buf(0)), 1, 'EUI-64 descriptor');
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: BUF, cdw10: 0 })).sf, g(GenericSc.InvalidNamespaceOrFormat));
  assert.is((await admin(AdminOpc.Identify, 3, { prp1: BUF, cdw10: 0 })).sf, g(GenericSc.InvalidNamespaceOrFormat));
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: BUF, cdw10: 0x10 })).sf, g(GenericSc.InvalidField));
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: BUF + 2, cdw10: 1 })).sf, g(GenericSc.PrpOffsetInvalid));
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: 0x1000, cdw10: 1 })).sf, g(GenericSc.DataTransferError, false));
  assert.is((await admin(0xc0, 0)).sf, g(GenericSc.InvalidOpcode), 'unknown admin opcode');
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: BUF, cdw10: 1, flags: 1 })).sf, g(GenericSc.InvalidField), 'FUSE');
  assert.is((await admin(AdminOpc.Identify, 0, { prp1: BUF, cdw10: 1, flags: 0x40 })).sf, g(GenericSc.InvalidField), 'PSDT (SGL)');
});

test('Create / Delete I/O queues: QEMU checks and status codes', async () => {
  const cq = (qid: number, qsize: number, prp1: number, cdw11 = 1) => admin(AdminOpc.CreateIoCq, 0, { prp1, cdw10: qid | (qsize << 16), cdw11 });
  const sq = (qid: number, qsize: number, prp1: number, cqid: number, pc = 1) => admin(AdminOpc.CreateIoSq, 0, { prp1, cdw10: qid | (qsize << 16), cdw11: pc | (cqid << 16) });
  const at = IOVA + 0x40000;
  assert.is((await cq(0, 15, at)).sf, cs(CommandSpecificSc.InvalidQueueId));
  assert.is((await cq(5, 15, at)).sf, cs(CommandSpecificSc.InvalidQueueId), 'above maxIoQueuePairs');
  assert.is((await cq(1, 15, at)).sf, cs(CommandSpecificSc.InvalidQueueId), 'exists');
  assert.is((await cq(2, 0, at)).sf, cs(CommandSpecificSc.InvalidQueueSize));
  assert.is((await cq(2, 256, at)).sf, cs(CommandSpecificSc.InvalidQueueSize), 'above MQES');
  assert.is((await cq(2, 15, at + 0x100)).sf, g(GenericSc.PrpOffsetInvalid));
  assert.is((await cq(2, 15, at, 1 | (64 << 16))).sf, cs(CommandSpecificSc.InvalidInterruptVector), "IV beyond the 64 vectors");
  assert.is((await cq(2, 15, at, 0)).sf, g(GenericSc.InvalidField), 'PC = 0');
  assert.is((await cq(2, 15, 0x1000)).sf, g(GenericSc.DataTransferError, false), 'outside the DMA window');
  assert.is((await sq(2, 15, at, 3)).sf, cs(CommandSpecificSc.CompletionQueueInvalid));
  assert.is((await sq(2, 15, at, 0)).sf, cs(CommandSpecificSc.CompletionQueueInvalid), 'the admin CQ');
  assert.is((await sq(1, 15, at, 1)).sf, cs(CommandSpecificSc.InvalidQueueId), 'exists');
  assert.is((await sq(2, 15, at, 1, 0)).sf, g(GenericSc.InvalidField), 'PC = 0');
  assert.is((await cq(2, 15, at)).sf, 0);
  assert.is((await sq(2, 15, at + 0x1000, 2)).sf, 0);
  assert.is((await admin(AdminOpc.DeleteIoCq, 0, { cdw10: 2 })).sf, cs(CommandSpecificSc.InvalidQueueDeletion, false));
  assert.is((await admin(AdminOpc.DeleteIoSq, 0, { cdw10: 3 })).sf, cs(CommandSpecificSc.InvalidQueueId));
  assert.is((await admin(AdminOpc.DeleteIoSq, 0, { cdw10: 0 })).sf, cs(CommandSpecificSc.InvalidQueueId));
  assert.is((await admin(AdminOpc.DeleteIoSq, 0, { cdw10: 2 })).sf, 0);
  assert.is((await admin(AdminOpc.DeleteIoCq, 0, { cdw10: 2 })).sf, 0);
  assert.is((await admin(AdminOpc.DeleteIoCq, 0, { cdw10: 2 })).sf, cs(CommandSpecificSc.CompletionQueueInvalid));
});

test('Get / Set Features', async () => {
  const get = (fid: number, sel = 0, cdw11 = 0, nsid = 0) => admin(AdminOpc.GetFeatures, nsid, { cdw10: fid | (sel << 8), cdw11 });
  const set = (fid: number, cdw11: number, sv = 0, nsid = 0) => admin(AdminOpc.SetFeatures, nsid, { cdw10: fid | (sv << 31), cdw11 });
  assert.is((await get(FeatureId.NumberOfQueues)).dw0, 0x00030003);
  assert.is((await set(FeatureId.NumberOfQueues, 0x00ff00ff)).sf, g(GenericSc.CommandSequenceError), 'after I/O queues exist');
  assert.is((await set(FeatureId.Arbitration, 3, 1)).sf, cs(CommandSpecificSc.FeatureNotSaveable));
  assert.is((await get(0x7f)).sf, g(GenericSc.InvalidField));
  assert.is((await get(FeatureId.Arbitration, 4)).sf, g(GenericSc.InvalidField), 'reserved SEL');
  assert.is((await get(FeatureId.VolatileWriteCache, 3)).dw0, 1 << 2, 'SEL 3: changeable');
  assert.is((await set(FeatureId.VolatileWriteCache, 0)).sf, 0);
  assert.is((await get(FeatureId.VolatileWriteCache)).dw0, 0);
  assert.is((await get(FeatureId.VolatileWriteCache, 1)).dw0, 1, 'default');
  assert.is((await set(FeatureId.VolatileWriteCache, 1)).sf, 0);
  assert.is((await set(FeatureId.TemperatureThreshold, 350)).sf, 0);
  assert.is((await get(FeatureId.TemperatureThreshold)).dw0, 350);
  assert.is((await set(FeatureId.TemperatureThreshold, 350 | (2 << 20))).sf, g(GenericSc.InvalidField), 'THSEL 2');
  assert.is((await set(FeatureId.PowerManagement, 1)).sf, g(GenericSc.InvalidField), 'PS > NPSS');
  assert.is((await get(FeatureId.ErrorRecovery, 0, 0, 0)).sf, g(GenericSc.InvalidNamespaceOrFormat), 'namespace specific');
  assert.is((await set(FeatureId.Arbitration, 3, 0, 1)).sf, cs(CommandSpecificSc.FeatureNotNamespaceSpecific));
});

test('Read / Write / Compare through a PRP list; range, MDTS, NSID, opcode checks', async () => {
  const r = h.region;
  // 3 pages + 512 bytes at an odd page offset: PRP1 + a PRP list.
  const len = 4 * 4096 - 512;
  const data = Buffer.alloc(len);
  for (let i = 0; i < len; i++) data[i] = (i * 7 + 3) & 0xff;
  const list = DATA_OFF + 0x40000;
  const pages = [0x50000, 0x52000, 0x54000].map((o) => DATA_OFF + o);
  const putList = () => pages.forEach((p, i) => r.writeBigUInt64LE(BigInt(IOVA + p), list + 8 * i));
  putList();
  const first = DATA_OFF + 0x60000 + 512;
  const scatter = (d: Buffer) => {
    d.copy(r, first, 0, 4096 - 512);
    pages.forEach((p, i) => d.copy(r, p, 4096 - 512 + i * 4096, 4096 - 512 + (i + 1) * 4096));
  };
  const gather = () => Buffer.concat([r.subarray(first, first + 4096 - 512), ...pages.map((p) => r.subarray(p, p + 4096))]).subarray(0, len);
  scatter(data);
  const nlb = len / 512;
  assert.is((await io(NvmOpc.Write, 1, { prp1: IOVA + first, prp2: IOVA + list, cdw10: 100, cdw12: nlb - 1 })).sf, 0);
  scatter(Buffer.alloc(len));
  assert.is((await io(NvmOpc.Read, 1, { prp1: IOVA + first, prp2: IOVA + list, cdw10: 100, cdw12: nlb - 1 })).sf, 0);
  assert.ok(gather().equals(data));
  assert.is((await io(NvmOpc.Compare, 1, { prp1: IOVA + first, prp2: IOVA + list, cdw10: 100, cdw12: nlb - 1 })).sf, 0);
  r[first + 5] ^= 1;
  assert.is((await io(NvmOpc.Compare, 1, { prp1: IOVA + first, prp2: IOVA + list, cdw10: 100, cdw12: nlb - 1 })).sf, statusField(Sct.MediaError, MediaSc.CompareFailure, true));
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF, cdw10: 4095, cdw12: 1 })).sf, g(GenericSc.LbaOutOfRange));
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF, cdw10: 0, cdw12: 64 })).sf, g(GenericSc.InvalidField), '65 blocks > MDTS 32 KiB');
  assert.is((await io(NvmOpc.Read, 3, { prp1: BUF })).sf, g(GenericSc.InvalidNamespaceOrFormat));
  assert.is((await io(NvmOpc.Read, 0xffffffff, { prp1: BUF })).sf, g(GenericSc.InvalidNamespaceOrFormat));
  assert.is((await io(NvmOpc.Flush, 0xffffffff)).sf, 0);
  assert.is((await io(0x7e, 1)).sf, g(GenericSc.InvalidOpcode));
  assert.is((await io(AdminOpc.Identify, 1)).sf, g(GenericSc.InvalidOpcode), 'admin opcodes are not NVM opcodes');
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF + 4096 - 512, prp2: BUF + 4096 + 8, cdw12: 1 })).sf, g(GenericSc.PrpOffsetInvalid));
  assert.is((await io(NvmOpc.Verify, 1, { cdw10: 0, cdw12: 0xffff })).sf, g(GenericSc.LbaOutOfRange));
  assert.is((await io(NvmOpc.Verify, 1, { cdw10: 0, cdw12: 7 })).sf, 0);
});

test('Write Zeroes and Dataset Management deallocate: zeroes read back, NUSE follows', async () => {
  const r = h.region;
  const nuse = async () => {
    await admin(AdminOpc.Identify, 1, { prp1: BUF, cdw10: 0 });
    return r.readUInt32LE(buf(I.IDNS_NUSE));
  };
  r.fill(0x5a, buf(), buf(4096));
  assert.is((await io(NvmOpc.Write, 1, { prp1: BUF, cdw10: 1000, cdw12: 7 })).sf, 0);
  const before = await nuse();
  assert.ok(before >= 8);
  // DSM deallocate blocks 1002..1003 (NR = 0: one range).
  r.fill(0, buf(0x8000), buf(0x8000 + 16));
  r.writeUInt32LE(2, buf(0x8000 + 4));
  r.writeUInt32LE(1002, buf(0x8000 + 8));
  assert.is((await io(NvmOpc.DatasetManagement, 1, { prp1: BUF + 0x8000, cdw10: 0, cdw11: 1 << 2 })).sf, 0);
  assert.is(await nuse(), before - 2);
  r.fill(0xff, buf(), buf(4096));
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF, cdw10: 1000, cdw12: 7 })).sf, 0);
  assert.is(r[buf(1024)], 0, 'deallocated reads as zero');
  assert.is(r[buf(512)], 0x5a);
  r.writeUInt32LE(4000, buf(0x8000 + 8));
  r.writeUInt32LE(200, buf(0x8000 + 4));
  assert.is((await io(NvmOpc.DatasetManagement, 1, { prp1: BUF + 0x8000, cdw10: 0, cdw11: 1 << 2 })).sf, g(GenericSc.LbaOutOfRange));
  assert.is((await io(NvmOpc.WriteZeroes, 1, { cdw10: 1000, cdw12: 0 | (1 << 25) })).sf, 0);
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF, cdw10: 1000, cdw12: 7 })).sf, 0);
  assert.is(r[buf(0)], 0);
  assert.is(r[buf(512)], 0x5a);
});

test('Get Log Page: error log newest first, SMART, firmware slot, NUMD / LPO checks', async () => {
  const r = h.region;
  await io(NvmOpc.Read, 1, { prp1: BUF, cdw10: 4095, cdw12: 1 }); // an error to log
  const log = (lid: number, numd: number, lpo = 0, nsid = 0) => admin(AdminOpc.GetLogPage, nsid, { prp1: BUF, cdw10: lid | ((numd - 1) << 16), cdw12: lpo });
  assert.is((await log(LogId.ErrorInformation, 32)).sf, 0);
  const count0 = Number(r.readBigUInt64LE(buf(I.ERRLOG_COUNT)));
  const count1 = Number(r.readBigUInt64LE(buf(64 + I.ERRLOG_COUNT)));
  assert.is(count0, count1 + 1, 'newest first');
  assert.is(r.readUInt16LE(buf(I.ERRLOG_SQID)), 1);
  assert.is(r.readUInt16LE(buf(I.ERRLOG_STATUS)) >>> 1, g(GenericSc.LbaOutOfRange));
  assert.is((await log(LogId.SmartHealth, 128, 0, 0xffffffff)).sf, 0);
  assert.is(r.readUInt16LE(buf(I.SMART_TEMPERATURE)), 300);
  assert.is(r.readUInt8(buf(I.SMART_AVAIL_SPARE)), 100);
  assert.ok(Number(r.readBigUInt64LE(buf(I.SMART_HOST_READS))) > 0);
  assert.is(Number(r.readBigUInt64LE(buf(I.SMART_NUM_ERR_LOG_ENTRIES))), count0);
  assert.is((await log(LogId.SmartHealth, 128, 0, 7)).sf, g(GenericSc.InvalidNamespaceOrFormat));
  assert.is((await log(LogId.FirmwareSlot, 128)).sf, 0);
  assert.is(r.readUInt8(buf(I.FWSLOT_AFI)), 1);
  assert.is(r.toString('latin1', buf(I.FWSLOT_FRS1), buf(I.FWSLOT_FRS1 + 5)), '0.1.0');
  assert.is((await log(0x70, 1)).sf, cs(CommandSpecificSc.InvalidLogPage));
  assert.is((await log(LogId.SmartHealth, 1, 2)).sf, g(GenericSc.InvalidField), 'LPO not dword aligned');
  assert.is((await log(LogId.SmartHealth, 1, 512)).sf, g(GenericSc.InvalidField), 'LPO beyond the log');
  r.fill(0xee, buf(), buf(8));
  assert.is((await log(LogId.SmartHealth, 1, 4)).sf, 0);
  assert.is(r.readUInt32LE(buf(4)), 0xeeeeeeee, 'only NUMD dwords are written');
});

test('faults: status, drop + Abort, delay; Abort of nothing held', async () => {
  const c = h.sim.client;
  c.injectFault({ kind: 'status', qid: 1, opcode: NvmOpc.Read, status: { sct: Sct.MediaError, sc: MediaSc.UnrecoveredReadError } });
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF })).sf, statusField(Sct.MediaError, MediaSc.UnrecoveredReadError, false));
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF })).sf, 0, 'count 1 by default');
  c.injectFault({ kind: 'drop', qid: 1, opcode: NvmOpc.Read });
  const cid = h.submit(1, sqe(NvmOpc.Read, 1, { prp1: BUF }));
  assert.is(await h.reap(1, 50), undefined, 'dropped');
  const ab = await admin(AdminOpc.Abort, 0, { cdw10: 1 | (cid << 16) });
  assert.is(ab.sf, 0);
  assert.is(ab.dw0 & 1, 0, 'aborted');
  const aborted = await h.reap(1);
  assert.is(aborted?.cid, cid);
  assert.is(aborted?.sf, g(GenericSc.AbortRequested, false));
  assert.is((await admin(AdminOpc.Abort, 0, { cdw10: 1 | (cid << 16) })).dw0 & 1, 1, 'nothing to abort');
  assert.is((await admin(AdminOpc.Abort, 0, { cdw10: 3 })).sf, g(GenericSc.InvalidField), 'no such SQ');
  c.injectFault({ kind: 'delay', qid: 1, delayUs: 100_000 });
  const t0 = performance.now();
  assert.is((await io(NvmOpc.Read, 1, { prp1: BUF })).sf, 0);
  assert.ok(performance.now() - t0 >= 95);
});

test('AER: held until an event, limited to AERL + 1', async () => {
  const c1 = h.submit(0, sqe(AdminOpc.AsyncEventRequest, 0));
  const c2 = h.submit(0, sqe(AdminOpc.AsyncEventRequest, 0));
  const over = await admin(AdminOpc.AsyncEventRequest, 0);
  assert.is(over.sf, cs(CommandSpecificSc.AsyncEventRequestLimitExceeded, false));
  await h.sim.client.postAsyncEvent(0x00020102);
  const e1 = await h.reap(0);
  assert.is(e1?.cid, c1);
  assert.is(e1?.dw0, 0x00020102);
  await h.sim.client.postAsyncEvent(0x00030001);
  await h.sim.client.postAsyncEvent(0x00040002); // queued: no AER left after c2
  const e2 = await h.reap(0);
  assert.equal([e2?.cid, e2?.dw0], [c2, 0x00030001]);
  const c3 = h.submit(0, sqe(AdminOpc.AsyncEventRequest, 0));
  const e3 = await h.reap(0);
  assert.equal([e3?.cid, e3?.dw0], [c3, 0x00040002]);
});

test('a full CQ holds completions until the host moves its head', async () => {
  const qid = 3;
  h.addQueue(qid, 0x70000, 0x78000, 4);
  assert.is((await admin(AdminOpc.CreateIoCq, 0, { prp1: IOVA + 0x78000, cdw10: qid | (3 << 16), cdw11: 1 })).sf, 0);
  // An 8-entry SQ feeding a 4-entry CQ: at most 3 completions fit.
  assert.is((await admin(AdminOpc.CreateIoSq, 0, { prp1: IOVA + 0x70000, cdw10: qid | (7 << 16), cdw11: 1 | (qid << 16) })).sf, 0);
  const q = (h as unknown as { queues: Map<number, { size: number }> }).queues.get(qid)!;
  q.size = 8; // the harness's SQ ring is 8 entries; its CQ view is read by hand below
  for (let i = 0; i < 6; i++) h.submit(qid, sqe(NvmOpc.Flush, 1));
  const cqe = (i: number) => h.regionU32[((0x78000 + i * CQE_SIZE) >>> 2) + 3]!;
  const posted = () => [0, 1, 2, 3].filter((i) => ((cqe(i) >>> 16) & 1) === 1).length;
  // Waits end on what they wait for (bounded): a loaded machine may not run the simulator within a fixed 20 ms.
  const until = async (ok: () => boolean) => {
    for (const end = performance.now() + 5000; !ok() && performance.now() < end; ) await sleep(5);
  };
  await until(() => posted() === 3);
  await sleep(20); // and nothing more comes: the fourth entry must wait for the head
  assert.is(posted(), 3, 'one slot stays empty');
  h.setReg(R.doorbellOffset(qid, true, 0), 3); // release entries 0..2
  await until(() => ((cqe(3) >>> 16) & 1) === 1 && ((cqe(0) >>> 16) & 1) === 0);
  assert.is((cqe(3) >>> 16) & 1, 1, 'entry 3 posted with phase 1');
  assert.is((cqe(0) >>> 16) & 1, 0, 'entry 0 reposted with phase 0');
  assert.is((await admin(AdminOpc.DeleteIoSq, 0, { cdw10: qid })).sf, 0);
  assert.is((await admin(AdminOpc.DeleteIoCq, 0, { cdw10: qid })).sf, 0);
});

test('an out-of-range SQ tail doorbell is ignored', async () => {
  h.setReg(R.doorbellOffset(1, false, 0), 1000);
  await sleep(5);
  assert.is((await io(NvmOpc.Flush, 1)).sf, 0, 'the queue still works');
});

test('latency model: completions held until due; Abort and SQ deletion complete held commands', async () => {
  const l = await SimHarness.start({ name: `lat-${process.pid}`, latency: { mode: 'fixed', us: 300_000 } }); // long enough that a loaded machine fetches within the wait below
  try {
    await l.enable();
    await l.createQueuePair(1, 16, 0x10000, 0x20000);
    const t0 = performance.now();
    assert.is((await l.cmd(1, sqe(NvmOpc.Read, 1, { prp1: BUF }))).sf, 0);
    assert.ok(performance.now() - t0 >= 299, 'read held for the latency');
    const cid = l.submit(1, sqe(NvmOpc.Read, 1, { prp1: BUF }));
    await sleep(50); // fetched (SQs are served admin first: an Abort in the same pass would miss it), not yet due
    const ab = await l.cmd(0, sqe(AdminOpc.Abort, 0, { cdw10: 1 | (cid << 16) }));
    assert.is(ab.dw0 & 1, 0);
    assert.equal(await l.reap(1), { dw0: 0, sqhd: 2, sqid: 1, cid, sf: g(GenericSc.AbortRequested, false) });
    const c2 = l.submit(1, sqe(NvmOpc.Write, 1, { prp1: BUF }));
    await sleep(50);
    assert.is((await l.cmd(0, sqe(AdminOpc.DeleteIoSq, 0, { cdw10: 1 }))).sf, 0);
    const gone = await l.reap(1);
    assert.equal([gone?.cid, gone?.sf], [c2, g(GenericSc.AbortedSqDeletion, false)]);
  } finally {
    await l.stop();
  }
});

test('a namespace file that cannot be opened fails the start with its error', async () => {
  const e = await SimHarness.start({ name: `badns-${process.pid}`, namespaces: [{ backing: 'file', path: '/nonexistent-dir/x.img' }] }).catch((x: unknown) => x);
  assert.instance(e, Error);
  assert.match((e as Error).message, /ENOENT/);
});

test.run();
