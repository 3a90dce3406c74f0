// A register-level host for testing the simulated controller without the
// driver: it maps BAR0 and a DMA region file itself, pokes registers, and
// builds SQEs by hand. Deliberately naive (one outstanding admin command at
// a time, queues at fixed region offsets).
import fs from 'node:fs';
import { createSharedMemory, alignedOffset, mapFixed } from '../hal/mmap.js';
import { openFile, truncateFile, closeFd, O_RDWR, O_CREAT } from '../hal/fd.js';
import * as R from '../assembly/nvme/regs.js';
import { SQE_SIZE, CQE_SIZE, CQE_DW3_P_SHIFT, CQE_DW3_SF_SHIFT, AdminOpc } from '../assembly/nvme/cmd.js';
import { startSimWorker, type SimHandle } from '../host/sim/embedded.js';
import type { SimConfigInput } from '../host/sim/config.js';

export const IOVA = 0x1_0000_0000; // above 4 GiB: 64-bit PRPs
export const REGION_SIZE = 4 * 1024 * 1024;
export const ASQ_OFF = 0x0000;
export const ACQ_OFF = 0x1000;
export const AQ_ENTRIES = 32;
/** Data buffers start here in the region. */
export const DATA_OFF = 0x100000;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Cqe {
  dw0: number;
  sqhd: number;
  sqid: number;
  cid: number;
  /** Status field (15 bits). */
  sf: number;
}

export class SimHarness {
  readonly bar: Uint32Array;
  readonly region: Buffer;
  readonly regionU32: Uint32Array;
  readonly regionPath: string;
  private readonly queues = new Map<number, { sqOff: number; cqOff: number; size: number; tail: number; head: number; phase: number }>();
  private cid = 1;

  private constructor(
    readonly sim: SimHandle,
    readonly memory: WebAssembly.Memory,
    barOff: number,
    regionOff: number,
    regionPath: string,
  ) {
    this.bar = new Uint32Array(memory.buffer, barOff, sim.client.barSize >>> 2);
    this.region = Buffer.from(memory.buffer, regionOff, REGION_SIZE);
    this.regionU32 = new Uint32Array(memory.buffer, regionOff, REGION_SIZE >>> 2);
    this.regionPath = regionPath;
  }

  static async start(cfg: SimConfigInput, mapDma = true): Promise<SimHarness> {
    const sim = await startSimWorker(cfg);
    const { memory, base } = createSharedMemory(sim.client.barSize + REGION_SIZE + 4 * 1024 * 1024);
    const barOff = alignedOffset(base, 0, 4096);
    const regionOff = alignedOffset(base, barOff + sim.client.barSize, 2 * 1024 * 1024);
    let fd = openFile(sim.client.barPath, O_RDWR);
    mapFixed(base, barOff, sim.client.barSize, fd);
    closeFd(fd);
    const regionPath = `/dev/shm/nvme-wasm-simtest-${process.pid}-${sim.config.name}.region`;
    fd = openFile(regionPath, O_RDWR | O_CREAT);
    truncateFile(fd, REGION_SIZE);
    mapFixed(base, regionOff, REGION_SIZE, fd);
    closeFd(fd);
    const h = new SimHarness(sim, memory, barOff, regionOff, regionPath);
    if (mapDma) await sim.client.mapDma(regionPath, BigInt(IOVA), REGION_SIZE);
    return h;
  }

  async stop(): Promise<void> {
    await this.sim.stop();
    fs.rmSync(this.regionPath, { force: true });
  }

  reg(off: number): number {
    return Atomics.load(this.bar, off >>> 2);
  }
  setReg(off: number, v: number): void {
    Atomics.store(this.bar, off >>> 2, v >>> 0);
  }

  /** Poll CSTS until `pred` holds; false on timeout. */
  async waitCsts(pred: (csts: number) => boolean, ms = 2000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (pred(this.reg(R.REG_CSTS))) return true;
      await sleep(1);
    }
    return pred(this.reg(R.REG_CSTS));
  }

  /** A CC value with the fields the sim requires (NVM, 4 KiB pages, 64/16-byte entries). */
  static ccValue(en: boolean): number {
    return ((en ? 1 : 0) << R.CC_EN_SHIFT) | (R.SQES_LOG2 << R.CC_IOSQES_SHIFT) | (R.CQES_LOG2 << R.CC_IOCQES_SHIFT);
  }

  /** Program AQA/ASQ/ACQ and set CC.EN = 1 (does not wait). */
  setupAdmin(cc = SimHarness.ccValue(true), asq = IOVA + ASQ_OFF): void {
    this.region.fill(0, ACQ_OFF, ACQ_OFF + AQ_ENTRIES * CQE_SIZE);
    this.setReg(R.REG_AQA, ((AQ_ENTRIES - 1) << R.AQA_ACQS_SHIFT) | (AQ_ENTRIES - 1));
    this.setReg(R.REG_ASQ, asq % 2 ** 32);
    this.setReg(R.REG_ASQ_HI, Math.floor(asq / 2 ** 32));
    this.setReg(R.REG_ACQ, (IOVA + ACQ_OFF) % 2 ** 32);
    this.setReg(R.REG_ACQ_HI, Math.floor((IOVA + ACQ_OFF) / 2 ** 32));
    this.queues.set(0, { sqOff: ASQ_OFF, cqOff: ACQ_OFF, size: AQ_ENTRIES, tail: 0, head: 0, phase: 1 });
    this.setReg(R.REG_CC, cc);
  }

  async enable(): Promise<void> {
    this.setupAdmin();
    if (!(await this.waitCsts((c) => (c & 1) === 1))) throw new Error('CSTS.RDY did not come');
  }

  /** Register an I/O queue pair already created on the device (or about to be). */
  addQueue(qid: number, sqOff: number, cqOff: number, size: number): void {
    this.region.fill(0, cqOff, cqOff + size * CQE_SIZE);
    this.queues.set(qid, { sqOff, cqOff, size, tail: 0, head: 0, phase: 1 });
  }

  /** Write an SQE (dwords 0..15; CID filled in) and ring the tail doorbell. Returns the CID. */
  submit(qid: number, dwords: number[]): number {
    const q = this.queues.get(qid)!;
    const cid = this.cid++ & 0xffff;
    const e = (q.sqOff + q.tail * SQE_SIZE) >>> 2;
    for (let i = 0; i < 16; i++) this.regionU32[e + i] = (dwords[i] ?? 0) >>> 0;
    this.regionU32[e] = ((dwords[0]! & 0xffff) | (cid << 16)) >>> 0;
    q.tail = (q.tail + 1) % q.size;
    this.setReg(R.doorbellOffset(qid, false, this.sim.config.dstrd), q.tail);
    return cid;
  }

  /** The next completion of queue `qid`, or undefined after `ms`. Rings the CQ head doorbell. */
  async reap(qid: number, ms = 2000): Promise<Cqe | undefined> {
    const q = this.queues.get(qid)!;
    const end = Date.now() + ms;
    for (;;) {
      const i = (q.cqOff + q.head * CQE_SIZE) >>> 2;
      const dw3 = Atomics.load(this.regionU32, i + 3);
      if (((dw3 >>> CQE_DW3_P_SHIFT) & 1) === q.phase) {
        const dw2 = this.regionU32[i + 2]!;
        q.head = (q.head + 1) % q.size;
        if (q.head === 0) q.phase ^= 1;
        this.setReg(R.doorbellOffset(qid, true, this.sim.config.dstrd), q.head);
        return { dw0: this.regionU32[i]!, sqhd: dw2 & 0xffff, sqid: dw2 >>> 16, cid: dw3 & 0xffff, sf: dw3 >>> CQE_DW3_SF_SHIFT };
      }
      if (Date.now() > end) return undefined;
      await sleep(0);
    }
  }

  /** Submit and wait for the completion (asserting its CID). */
  async cmd(qid: number, dwords: number[], ms = 2000): Promise<Cqe> {
    const cid = this.submit(qid, dwords);
    const c = await this.reap(qid, ms);
    if (c === undefined) throw new Error(`no completion for cid ${cid} on qid ${qid}`);
    if (c.cid !== cid) throw new Error(`completion for cid ${c.cid}, expected ${cid}`);
    return c;
  }

  /** Create I/O CQ + SQ `qid` with `size` entries at region offsets. */
  async createQueuePair(qid: number, size: number, sqOff: number, cqOff: number): Promise<void> {
    this.addQueue(qid, sqOff, cqOff, size);
    const cq = await this.cmd(0, sqe(AdminOpc.CreateIoCq, 0, { prp1: IOVA + cqOff, cdw10: qid | ((size - 1) << 16), cdw11: 1 }));
    if (cq.sf !== 0) throw new Error(`Create I/O CQ failed: 0x${cq.sf.toString(16)}`);
    const sq = await this.cmd(0, sqe(AdminOpc.CreateIoSq, 0, { prp1: IOVA + sqOff, cdw10: qid | ((size - 1) << 16), cdw11: 1 | (qid << 16) }));
    if (sq.sf !== 0) throw new Error(`Create I/O SQ failed: 0x${sq.sf.toString(16)}`);
  }
}

export interface SqeFields {
  flags?: number;
  prp1?: number;
  prp2?: number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
}

/** SQE dwords for opcode `opc` on namespace `nsid`. */
export function sqe(opc: number, nsid: number, f: SqeFields = {}): number[] {
  const d = new Array<number>(16).fill(0);
  d[0] = opc | ((f.flags ?? 0) << 8);
  d[1] = nsid;
  const prp1 = f.prp1 ?? 0;
  const prp2 = f.prp2 ?? 0;
  d[6] = prp1 % 2 ** 32;
  d[7] = Math.floor(prp1 / 2 ** 32);
  d[8] = prp2 % 2 ** 32;
  d[9] = Math.floor(prp2 / 2 ** 32);
  d[10] = f.cdw10 ?? 0;
  d[11] = f.cdw11 ?? 0;
  d[12] = f.cdw12 ?? 0;
  d[13] = f.cdw13 ?? 0;
  d[14] = f.cdw14 ?? 0;
  d[15] = f.cdw15 ?? 0;
  return d;
}
