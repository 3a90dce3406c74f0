// The simulated NVMe controller (NVM Express Base Specification 1.4): the
// register state machine (3.1, 7.6), the queues and the arbitration loop
// (4.1, 4.11), completion posting (4.6), the DMA window, the latency model
// and fault injection. Command handlers live in admin.ts, features.ts and
// nvm.ts; they run synchronously at fetch time, and only the posting of
// the completion may be deferred (latency, Delay fault, full CQ).
//
// The hot path (serviceSq -> fetch -> nvmCommand -> post) allocates
// nothing: requests are preallocated per SQ, views are made once per DMA
// mapping, 64-bit addresses are assembled as numbers.
import * as R from '../../assembly/nvme/regs.js';
import {
  SQE_SIZE,
  CQE_SIZE,
  SQE_PRP1,
  SQE_PRP2,
  SQE_FLAGS,
  SQE_CID,
  CQE_DW2,
  CQE_SQID,
  FLAGS_FUSE_MASK,
  FLAGS_PSDT_MASK,
  FLAGS_PSDT_SHIFT,
  CQE_DW3_P_SHIFT,
  CQE_DW3_SF_SHIFT,
  RW_MAX_BLOCKS,
  DSM_MAX_RANGES,
  DSM_RANGE_SIZE,
} from '../../assembly/nvme/cmd.js';
import { SMART_LOG_SIZE, FWSLOT_LOG_SIZE } from '../../assembly/nvme/identify.js';
import {
  Malformation,
  CTL_STOP,
  CTL_STATE,
  CTL_HEARTBEAT,
  CTL_DMA_SEQ,
  CTL_DMA_ACK,
  CTL_DMA_RESULT,
  CTL_DMA_IOVA_LO,
  CTL_DMA_IOVA_HI,
  CTL_DMA_LEN,
  CTL_DMA_PATH,
  CTL_DMA_PATH_LEN,
  CTL_FAULT_SEQ,
  FLAG_FATAL,
  FLAG_NEVER_READY,
  FLAG_REMOVED,
  AEN_SEQ,
  AEN_DW0,
  SimState,
  FaultKind,
} from './ctl.js';
import { AEN_DW0_CONSUMED, AEN_QUEUE_MAX } from './ctl-protocol.js';
import type { SimConfig } from './config.js';
import { createDeviceFiles, removeDeviceFiles, type DeviceFiles } from './device-files.js';
import { DmaWindow } from './dma.js';
import { PrpWalker } from './prp.js';
import { Namespace } from './namespace.js';
import { FaultTable } from './faults.js';
import { ErrorLog } from './logs.js';
import { Features } from './features.js';
import { buildIdentifyController, SIM_ARB_BURST_LOG2 } from './identify-data.js';
import { CompletionQueue, SubmissionQueue, Request, ReqState, TimedHeap } from './queues.js';
import { adminCommand } from './admin.js';
import { nvmCommand } from './nvm.js';
import { SF_INVALID_FIELD, SF_ABORTED_SQ_DELETION, NO_COMPLETION } from './status-codes.js';
import { statusField } from '../../assembly/nvme/status.js';

const ARB_BURST = 1 << SIM_ARB_BURST_LOG2;
/** Busy iterations between two looks at CC and the ctl page. */
const CONTROL_EVERY_MASK = 15;
/** Idle polls before sleeping. */
const IDLE_SPINS = 4000;
const MIN_WAIT_US = 50;
const MAX_WAIT_US = 1000;
const FLAGS_REJECTED = FLAGS_FUSE_MASK | (FLAGS_PSDT_MASK << FLAGS_PSDT_SHIFT);
// CDW0 and CQE DW2 fields as bit positions of their dwords (cmd.ts gives byte offsets).
const BITS_PER_BYTE = 8;
const SQE_FLAGS_SHIFT = SQE_FLAGS * BITS_PER_BYTE; // FUSE / PSDT byte
const SQE_CID_SHIFT = SQE_CID * BITS_PER_BYTE;
const SQE_OPC_MASK = 0xff; // a byte
const CQE_SQID_SHIFT = (CQE_SQID - CQE_DW2) * BITS_PER_BYTE;
const U32 = 2 ** 32;
const CC_EN = R.CC_EN_MASK << R.CC_EN_SHIFT;
const CSTS_RDY = R.CSTS_RDY_MASK << R.CSTS_RDY_SHIFT;
const CSTS_CFS = R.CSTS_CFS_MASK << R.CSTS_CFS_SHIFT;
const CSTS_SHST = R.CSTS_SHST_MASK << R.CSTS_SHST_SHIFT;

enum Latency {
  None,
  Fixed,
  Random,
}

export class Controller {
  readonly files: DeviceFiles;
  readonly bar: Uint32Array;
  readonly ctl: Uint32Array;
  readonly win = new DmaWindow();
  readonly prp: PrpWalker;
  readonly faults: FaultTable;
  readonly errors = new ErrorLog();
  readonly features: Features;
  readonly identifyController: Buffer;
  /** Admin data buffer: Identify pages, log pages, DSM ranges. */
  readonly scratch: Buffer;
  /** Largest data transfer (MDTS), bytes. */
  readonly maxTransfer: number;
  readonly powerOnMs = performance.now();

  // Register state (3.1)
  private readonly capLo: number;
  private readonly capHi: number;
  private cc = 0;
  private csts = 0;
  /** performance.now() at which CC.EN = 1 takes effect, or -1. */
  private enableAt = -1;
  /** CC.EN = 1 is held back by FLAG_NEVER_READY. */
  private enableBlocked = false;
  /** CC.EN = 1 was refused with these admin registers (adminRegisters()). */
  private refusedWith: string | undefined;
  /** CSTS.RDY = 1 and the queues exist. */
  enabled = false;
  /** Commands are fetched and completions posted (enabled, not fatal, not shut down). */
  private processing = false;

  // Queues, indexed by queue id (0 = admin)
  readonly sqs: Array<SubmissionQueue | undefined>;
  readonly cqs: Array<CompletionQueue | undefined>;
  /** SQs in arbitration order; replaced (never mutated) when it changes. */
  private active: SubmissionQueue[] = [];
  /** Number of Queues may not be set once an I/O queue exists (5.21.1.7). */
  qsCreated = false;
  private readonly timed = new TimedHeap();
  private pendingCqs = 0;

  // Asynchronous events (5.2)
  readonly aers: Request[] = [];
  private readonly events: number[] = [];

  private readonly latency: Latency;
  private lastDmaSeq = 0;
  private lastFaultSeq = 0;
  private lastAenSeq = 0;
  private compareBuf: Buffer | undefined;

  private constructor(
    readonly cfg: SimConfig,
    readonly namespaces: Namespace[],
  ) {
    this.files = createDeviceFiles(cfg);
    this.bar = this.files.bar;
    this.ctl = this.files.ctl;
    this.maxTransfer = cfg.mdts > 0 ? R.PAGE_SIZE * 2 ** cfg.mdts : Infinity;
    const maxLba = Math.max(...namespaces.map((ns) => ns.lbaSize));
    this.prp = new PrpWalker(Math.min(this.maxTransfer, RW_MAX_BLOCKS * maxLba));
    this.faults = new FaultTable(this.ctl);
    this.features = new Features(cfg);
    this.identifyController = buildIdentifyController(cfg);
    this.scratch = Buffer.alloc(Math.max(R.PAGE_SIZE, ErrorLog.size, SMART_LOG_SIZE, FWSLOT_LOG_SIZE, DSM_MAX_RANGES * DSM_RANGE_SIZE));
    this.sqs = new Array(cfg.maxIoQueuePairs + 1);
    this.cqs = new Array(cfg.maxIoQueuePairs + 1);
    this.latency = cfg.latency.mode === 'fixed' ? Latency.Fixed : cfg.latency.mode === 'random' ? Latency.Random : Latency.None;
    // CQR = 1: queues must be physically contiguous; AMS = 0: round robin only.
    const cqr = R.CAP_CQR_MASK << R.CAP_CQR_SHIFT;
    this.capLo = (((cfg.mqes & R.CAP_MQES_MASK) << R.CAP_MQES_SHIFT) | cqr | ((cfg.timeout & R.CAP_TO_MASK) << R.CAP_TO_SHIFT)) >>> 0;
    // MPSMIN = MPSMAX = 0: 4 KiB pages only; NSSRS = 0; BPS = 0.
    this.capHi = (((cfg.dstrd & R.CAP_DSTRD_MASK) << R.CAP_DSTRD_SHIFT) | (R.CAP_CSS_NVM << R.CAP_CSS_SHIFT)) >>> 0;
    this.writeReadOnlyRegisters();
    Atomics.store(this.ctl, AEN_DW0 >>> 2, AEN_DW0_CONSUMED);
  }

  /** Open the namespaces, then create the device files (state Starting). */
  static create(cfg: SimConfig): Controller {
    const namespaces: Namespace[] = [];
    try {
      cfg.namespaces.forEach((nsCfg, i) => namespaces.push(Namespace.open(i + 1, nsCfg)));
      return new Controller(cfg, namespaces);
    } catch (e) {
      for (const ns of namespaces) ns.close();
      throw e;
    }
  }

  // ---------------------------------------------------------------------
  // Main loop
  // ---------------------------------------------------------------------

  /** CTL state Running: clients may attach (call right before run()). */
  markRunning(): void {
    Atomics.store(this.ctl, CTL_STATE >>> 2, SimState.Running);
  }

  /** Run until CTL_STOP = 1: busy while there is work, backing off when idle. */
  run(): void {
    const sleepCell = new Int32Array(new SharedArrayBuffer(4));
    let idle = 0;
    let waitUs = MIN_WAIT_US;
    let iter = 0;
    this.markRunning();
    for (;;) {
      const work = this.pollQueues();
      if (work > 0) {
        idle = 0;
        waitUs = MIN_WAIT_US;
        if ((++iter & CONTROL_EVERY_MASK) !== 0) continue;
        if (this.pollControl()) break;
        continue;
      }
      if (this.pollControl()) break;
      if (++idle < IDLE_SPINS) continue;
      let us = waitUs;
      if (this.timed.size > 0) {
        const dueUs = (this.timed.peek()!.due - performance.now()) * 1000;
        if (dueUs < us) {
          if (dueUs < MIN_WAIT_US) continue; // spin: a sleep would overshoot
          us = dueUs;
        }
      }
      Atomics.wait(sleepCell, 0, 0, us / 1000);
      waitUs = Math.min(waitUs * 2, MAX_WAIT_US);
    }
  }

  /** Clean stop: finish file I/O, drop the DMA mapping, remove the device files. */
  close(): void {
    Atomics.store(this.ctl, CTL_STATE >>> 2, SimState.Stopping);
    for (const ns of this.namespaces) {
      try {
        ns.backing.flush();
      } catch {
        /* best effort */
      }
      ns.close();
    }
    this.win.unmap();
    removeDeviceFiles(this.files);
  }

  /** One pass over the queues; returns how much was done (0 = idle). */
  pollQueues(): number {
    if (!this.processing) return 0;
    // Checked every pass so a fatal error set by a client stops the very next fetch.
    this.checkFatalFlag();
    let work = 0;
    const active = this.active;
    for (let i = 0; i < active.length; i++) work += this.serviceSq(active[i]!);
    if (this.timed.size > 0) work += this.postDue(performance.now());
    if (this.pendingCqs > 0) work += this.drainPending();
    return work;
  }

  private checkFatalFlag(): void {
    if (Atomics.load(this.ctl, FLAG_FATAL >>> 2) !== 0) {
      Atomics.store(this.ctl, FLAG_FATAL >>> 2, 0);
      this.fatal();
    }
  }

  private reloadFaults(): void {
    this.lastFaultSeq = Atomics.load(this.ctl, CTL_FAULT_SEQ >>> 2);
    this.faults.reload();
  }

  /** Registers and the ctl page; returns true when asked to stop. */
  pollControl(): boolean {
    const ctl = this.ctl;
    Atomics.add(ctl, CTL_HEARTBEAT >>> 2, 1);
    if (Atomics.load(ctl, CTL_STOP >>> 2) !== 0) return true;
    if (Atomics.load(ctl, FLAG_REMOVED >>> 2) !== 0) {
      // Gone from the bus: reads return all ones, writes go nowhere.
      this.processing = false;
      this.bar.fill(0xffffffff);
      return false;
    }
    const cc = Atomics.load(this.bar, R.REG_CC >>> 2);
    if (cc !== this.cc) this.ccWritten(cc);
    if (this.enableAt >= 0 && performance.now() >= this.enableAt) this.finishEnable();
    else if (this.enableBlocked && Atomics.load(ctl, FLAG_NEVER_READY >>> 2) === 0) this.finishEnable();
    else if (this.refusedWith !== undefined && this.adminRegisters() !== this.refusedWith) this.finishEnable();
    this.checkFatalFlag();
    const dmaSeq = Atomics.load(ctl, CTL_DMA_SEQ >>> 2);
    if (dmaSeq !== this.lastDmaSeq) this.dmaRequest(dmaSeq);
    if (Atomics.load(ctl, CTL_FAULT_SEQ >>> 2) !== this.lastFaultSeq) this.reloadFaults();
    const aenSeq = Atomics.load(ctl, AEN_SEQ >>> 2);
    if (aenSeq !== this.lastAenSeq) {
      this.lastAenSeq = aenSeq;
      const dw0 = Atomics.load(ctl, AEN_DW0 >>> 2);
      if (dw0 !== AEN_DW0_CONSUMED) {
        Atomics.store(ctl, AEN_DW0 >>> 2, AEN_DW0_CONSUMED);
        this.asyncEvent(dw0);
      }
    }
    this.writeReadOnlyRegisters();
    return false;
  }

  // ---------------------------------------------------------------------
  // Registers (3.1) and controller state (7.6)
  // ---------------------------------------------------------------------

  /** CAP and VS are read only: restore them if the host wrote over them. */
  private writeReadOnlyRegisters(): void {
    const bar = this.bar;
    if (bar[R.REG_CAP >>> 2] !== this.capLo) Atomics.store(bar, R.REG_CAP >>> 2, this.capLo);
    if (bar[R.REG_CAP_HI >>> 2] !== this.capHi) Atomics.store(bar, R.REG_CAP_HI >>> 2, this.capHi);
    if (bar[R.REG_VS >>> 2] !== R.VS_1_4) Atomics.store(bar, R.REG_VS >>> 2, R.VS_1_4);
    if (bar[R.REG_CSTS >>> 2] !== this.csts) Atomics.store(bar, R.REG_CSTS >>> 2, this.csts);
  }

  private setCsts(v: number): void {
    this.csts = v >>> 0;
    Atomics.store(this.bar, R.REG_CSTS >>> 2, this.csts);
  }

  /** 3.1.5: act on the CC fields that changed (EN, SHN); others are read at enable. */
  private ccWritten(cc: number): void {
    const old = this.cc;
    this.cc = cc;
    if ((old & CC_EN) !== 0 && (cc & CC_EN) === 0) this.controllerReset();
    else if ((old & CC_EN) === 0 && (cc & CC_EN) !== 0) this.startEnable();
    const shn = R.regField(cc, R.CC_SHN_SHIFT, R.CC_SHN_MASK);
    const oldShn = R.regField(old, R.CC_SHN_SHIFT, R.CC_SHN_MASK);
    if (shn !== R.CC_SHN_NONE && oldShn === R.CC_SHN_NONE) this.shutdown();
    else if (shn === R.CC_SHN_NONE && oldShn !== R.CC_SHN_NONE) {
      // Like QEMU: clearing SHN clears SHST; commands still wait for a reset.
      this.setCsts(this.csts & ~CSTS_SHST);
    }
  }

  /** CC.EN 0 -> 1: becomes effective after readyDelayMs (CAP.TO bounds the host's wait). */
  private startEnable(): void {
    // A fatal status latched while disabled does not outlive the next enable.
    this.setCsts(this.csts & ~(CSTS_CFS | CSTS_SHST));
    this.enableAt = performance.now() + this.cfg.readyDelayMs;
  }

  private finishEnable(): void {
    this.enableAt = -1;
    // Fault: RDY does not come while the flag is on (cleared: enable goes on).
    this.enableBlocked = Atomics.load(this.ctl, FLAG_NEVER_READY >>> 2) !== 0;
    if (this.enableBlocked) return;
    const why = this.checkEnable();
    if (why !== undefined) {
      // QEMU sets CFS here; we leave RDY = 0 and let the host's CAP.TO expire.
      // Registers rewritten later are checked again: a CC.EN 1 -> 0 -> 1 of
      // the host may fall between two polls.
      if (this.refusedWith === undefined) console.error(`nvme-wasm sim ${this.cfg.name}: CC.EN = 1 refused: ${why}`);
      this.refusedWith = this.adminRegisters();
      return;
    }
    this.refusedWith = undefined;
    this.createAdminQueues();
    this.enabled = true;
    this.processing = true;
    this.setCsts(this.csts | CSTS_RDY);
  }

  /** QEMU nvme_start_ctrl's checks, plus the admin queues inside the DMA window. */
  private checkEnable(): string | undefined {
    const cc = this.cc;
    const bar = this.bar;
    const aqa = Atomics.load(bar, R.REG_AQA >>> 2);
    const asq = this.reg64(R.REG_ASQ, R.REG_ASQ_HI);
    const acq = this.reg64(R.REG_ACQ, R.REG_ACQ_HI);
    const asqs = R.regField(aqa, R.AQA_ASQS_SHIFT, R.AQA_ASQS_MASK);
    const acqs = R.regField(aqa, R.AQA_ACQS_SHIFT, R.AQA_ACQS_MASK);
    const mps = R.regField(cc, R.CC_MPS_SHIFT, R.CC_MPS_MASK);
    const mpsMin = R.regField(this.capHi, R.CAP_MPSMIN_SHIFT, R.CAP_MPSMIN_MASK);
    const mpsMax = R.regField(this.capHi, R.CAP_MPSMAX_SHIFT, R.CAP_MPSMAX_MASK);
    if (asq === 0 || acq === 0) return 'ASQ or ACQ is 0';
    if (asq % R.PAGE_SIZE !== 0 || acq % R.PAGE_SIZE !== 0) return 'ASQ or ACQ not page aligned';
    if (R.regField(cc, R.CC_CSS_SHIFT, R.CC_CSS_MASK) !== R.CC_CSS_NVM) return 'CC.CSS is not the NVM command set';
    if (mps < mpsMin || mps > mpsMax) return `CC.MPS ${mps} outside CAP.MPSMIN..MPSMAX`;
    if (R.regField(cc, R.CC_AMS_SHIFT, R.CC_AMS_MASK) !== R.CC_AMS_RR) return 'CC.AMS is not round robin (CAP.AMS = 0)';
    if (R.regField(cc, R.CC_IOCQES_SHIFT, R.CC_IOCQES_MASK) !== R.CQES_LOG2) return `CC.IOCQES is not ${R.CQES_LOG2}`;
    if (R.regField(cc, R.CC_IOSQES_SHIFT, R.CC_IOSQES_MASK) !== R.SQES_LOG2) return `CC.IOSQES is not ${R.SQES_LOG2}`;
    if (asqs === 0 || acqs === 0) return 'AQA.ASQS or AQA.ACQS is 0';
    if (!this.win.contains(asq, (asqs + 1) * SQE_SIZE)) return 'the admin SQ is outside the DMA window';
    if (!this.win.contains(acq, (acqs + 1) * CQE_SIZE)) return 'the admin CQ is outside the DMA window';
    return undefined;
  }

  /** CC, AQA, ASQ, ACQ as one comparable value (slow path only). */
  private adminRegisters(): string {
    const b = this.bar;
    return [R.REG_CC, R.REG_AQA, R.REG_ASQ, R.REG_ASQ_HI, R.REG_ACQ, R.REG_ACQ_HI].map((r) => Atomics.load(b, r >>> 2)).join(',');
  }

  private reg64(lo: number, hi: number): number {
    return Atomics.load(this.bar, hi >>> 2) * U32 + Atomics.load(this.bar, lo >>> 2);
  }

  private createAdminQueues(): void {
    const aqa = Atomics.load(this.bar, R.REG_AQA >>> 2);
    const cq = this.newCq(0, R.regField(aqa, R.AQA_ACQS_SHIFT, R.AQA_ACQS_MASK) + 1, this.reg64(R.REG_ACQ, R.REG_ACQ_HI));
    this.newSq(0, R.regField(aqa, R.AQA_ASQS_SHIFT, R.AQA_ASQS_MASK) + 1, this.reg64(R.REG_ASQ, R.REG_ASQ_HI), cq);
  }

  /**
   * CC.EN 1 -> 0 (7.3.2 controller level reset): delete every queue, drop
   * pending commands and AERs, clear CSTS (RDY, CFS, SHST).
   */
  private controllerReset(): void {
    this.dropQueues();
    this.enableAt = -1;
    this.enableBlocked = false;
    this.refusedWith = undefined;
    this.enabled = false;
    this.processing = false;
    this.qsCreated = false;
    this.setCsts(0);
  }

  private dropQueues(): void {
    for (let q = 0; q < this.sqs.length; q++) {
      if (this.sqs[q]) this.sqs[q]!.deleted = true;
      this.sqs[q] = undefined;
      this.cqs[q] = undefined;
    }
    this.active = [];
    this.timed.clear();
    this.pendingCqs = 0;
    this.aers.length = 0;
    this.events.length = 0;
    // Doorbells of queues that no longer exist: start from 0 next time.
    const dbEnd = R.doorbellOffset(this.sqs.length, false, this.cfg.dstrd) >>> 2;
    this.bar.fill(0, R.REG_DBS >>> 2, Math.min(dbEnd, this.bar.length));
  }

  /**
   * CC.SHN (7.6.2): SHST = 01b, complete what is held (timed completions
   * are posted now; dropped ones and AERs are discarded), then SHST = 10b.
   * No command is processed afterwards until the next reset.
   */
  private shutdown(): void {
    this.setCsts((this.csts & ~CSTS_SHST) | (R.CSTS_SHST_OCCURRING << R.CSTS_SHST_SHIFT));
    if (this.processing) {
      this.postDue(Infinity);
      this.drainPending();
    }
    this.processing = false;
    this.aers.length = 0;
    this.events.length = 0;
    this.setCsts((this.csts & ~CSTS_SHST) | (R.CSTS_SHST_COMPLETE << R.CSTS_SHST_SHIFT));
  }

  /** Controller Fatal Status: stop everything until the next reset. */
  fatal(): void {
    this.processing = false;
    this.setCsts(this.csts | CSTS_CFS);
  }

  // ---------------------------------------------------------------------
  // DMA window (the ctl page plays the IOMMU)
  // ---------------------------------------------------------------------

  private dmaRequest(seq: number): void {
    this.lastDmaSeq = seq;
    const ctl = this.ctl;
    const bytes = this.files.ctlBytes;
    let end = CTL_DMA_PATH;
    while (end < CTL_DMA_PATH + CTL_DMA_PATH_LEN && bytes[end] !== 0) end++;
    const path = Buffer.from(bytes.buffer, bytes.byteOffset + CTL_DMA_PATH, end - CTL_DMA_PATH).toString('utf8');
    let result = 0;
    if (path.length === 0) {
      this.win.unmap();
    } else {
      const iova = Atomics.load(ctl, CTL_DMA_IOVA_HI >>> 2) * U32 + Atomics.load(ctl, CTL_DMA_IOVA_LO >>> 2);
      result = this.win.map(path, iova, Atomics.load(ctl, CTL_DMA_LEN >>> 2));
    }
    this.relocateQueues();
    Atomics.store(ctl, CTL_DMA_RESULT >>> 2, result);
    Atomics.store(ctl, CTL_DMA_ACK >>> 2, seq);
  }

  /** Queue memory must stay inside the window; a queue left outside is an IOMMU fault. */
  private relocateQueues(): void {
    let lost = false;
    for (let q = 0; q < this.sqs.length; q++) {
      const sq = this.sqs[q];
      if (sq) {
        if (this.win.contains(sq.base, sq.size * SQE_SIZE)) sq.offset = sq.base - this.win.iova;
        else lost = true;
      }
      const cq = this.cqs[q];
      if (cq) {
        if (this.win.contains(cq.base, cq.size * CQE_SIZE)) cq.offset = cq.base - this.win.iova;
        else lost = true;
      }
    }
    if (lost) this.fatal();
  }

  /** PRP1 and PRP2 of the command at dword `e` of the window. */
  prp1(e: number): number {
    const u = this.win.u32;
    return u[e + (SQE_PRP1 >>> 2) + 1]! * U32 + u[e + (SQE_PRP1 >>> 2)]!;
  }
  prp2(e: number): number {
    const u = this.win.u32;
    return u[e + (SQE_PRP2 >>> 2) + 1]! * U32 + u[e + (SQE_PRP2 >>> 2)]!;
  }

  /** Controller to host: `len` bytes of `src` from `srcOff` to the command's PRPs. */
  dmaToHost(e: number, src: Buffer, srcOff: number, len: number): number {
    const st = this.prp.walk(this.win, this.prp1(e), this.prp2(e), len);
    if (st !== 0) return st;
    let pos = srcOff;
    for (let i = 0; i < this.prp.count; i++) {
      const n = this.prp.segLen[i]!;
      src.copy(this.win.buf, this.prp.segOff[i]!, pos, pos + n);
      pos += n;
    }
    return 0;
  }

  /** Host to controller: `len` bytes from the command's PRPs into `dst`. */
  dmaFromHost(e: number, dst: Buffer, len: number): number {
    const st = this.prp.walk(this.win, this.prp1(e), this.prp2(e), len);
    if (st !== 0) return st;
    let pos = 0;
    for (let i = 0; i < this.prp.count; i++) {
      const off = this.prp.segOff[i]!;
      const n = this.prp.segLen[i]!;
      this.win.buf.copy(dst, pos, off, off + n);
      pos += n;
    }
    return 0;
  }

  /** A buffer of at least `len` bytes for Compare (grown, never shrunk). */
  compareBuffer(len: number): Buffer {
    if (this.compareBuf === undefined || this.compareBuf.length < len) this.compareBuf = Buffer.alloc(len);
    return this.compareBuf;
  }

  // ---------------------------------------------------------------------
  // Queues (4.1) and arbitration (4.11: round robin, ARB_BURST per turn)
  // ---------------------------------------------------------------------

  doorbellIndex(qid: number, isCq: boolean): number {
    return R.doorbellOffset(qid, isCq, this.cfg.dstrd) >>> 2;
  }

  /** A queue's memory lies inside the DMA window. */
  queueInWindow(base: number, entries: number, entrySize: number): boolean {
    return this.win.contains(base, entries * entrySize);
  }

  newCq(cqid: number, size: number, base: number): CompletionQueue {
    const cq = new CompletionQueue(cqid, size, base, this.doorbellIndex(cqid, true));
    cq.offset = base - this.win.iova;
    Atomics.store(this.bar, cq.doorbell, 0);
    this.cqs[cqid] = cq;
    return cq;
  }

  newSq(sqid: number, size: number, base: number, cq: CompletionQueue): SubmissionQueue {
    const sq = new SubmissionQueue(sqid, size, base, this.doorbellIndex(sqid, false), cq);
    sq.offset = base - this.win.iova;
    Atomics.store(this.bar, sq.doorbell, 0);
    this.sqs[sqid] = sq;
    cq.sqCount++;
    this.active = this.sqs.filter((q): q is SubmissionQueue => q !== undefined);
    return sq;
  }

  /**
   * Delete an SQ (5.6): commands still held by the controller complete with
   * Command Aborted due to SQ Deletion; completions already made but
   * waiting for CQ room are still posted.
   */
  deleteSq(sq: SubmissionQueue): void {
    for (const r of sq.requests) {
      if (r.state === ReqState.Timed || r.state === ReqState.Dropped) this.abortRequest(r, SF_ABORTED_SQ_DELETION);
    }
    sq.deleted = true;
    sq.cq.sqCount--;
    this.sqs[sq.sqid] = undefined;
    this.active = this.sqs.filter((q): q is SubmissionQueue => q !== undefined);
  }

  /** Delete a CQ (5.5): completions still waiting for room are discarded. */
  deleteCq(cq: CompletionQueue): void {
    if (cq.pendingHead !== null) this.pendingCqs--;
    for (let r = cq.pendingHead; r !== null; r = r.next) r.state = ReqState.Free;
    cq.pendingHead = cq.pendingTail = null;
    this.cqs[cq.cqid] = undefined;
  }

  private serviceSq(sq: SubmissionQueue): number {
    if (sq.deleted) return 0;
    const db = Atomics.load(this.bar, sq.doorbell);
    if (db !== sq.lastDoorbell) {
      sq.lastDoorbell = db;
      if (db < sq.size) sq.tail = db; // 4.1: an out-of-range tail is ignored
    }
    let n = 0;
    while (sq.head !== sq.tail && sq.freeCount > 0 && n < ARB_BURST && this.processing) {
      this.fetch(sq);
      n++;
    }
    return n;
  }

  /** Fetch the command at the SQ head, execute it, complete or hold it. */
  private fetch(sq: SubmissionQueue): void {
    const req = sq.free[--sq.freeCount]!;
    const e = (sq.offset + sq.head * SQE_SIZE) >>> 2;
    sq.head = sq.head + 1 === sq.size ? 0 : sq.head + 1;
    const u = this.win.u32;
    const dw0 = u[e]!;
    req.opcode = dw0 & SQE_OPC_MASK;
    req.cid = dw0 >>> SQE_CID_SHIFT;
    req.nsid = u[e + 1]!;
    req.lba = 0;
    req.dw0 = 0;
    req.malform = 0;
    req.state = ReqState.Active;

    // A rule injected before the host rang this doorbell applies to this command.
    if (Atomics.load(this.ctl, CTL_FAULT_SEQ >>> 2) !== this.lastFaultSeq) this.reloadFaults();
    const rule = this.faults.active ? this.faults.match(sq.sqid, req.opcode, req.nsid) : undefined;
    if (rule !== undefined && rule.kind === FaultKind.Status) {
      req.status = rule.status; // not executed
      this.post(req);
      return;
    }
    let status: number;
    if (((dw0 >>> SQE_FLAGS_SHIFT) & FLAGS_REJECTED) !== 0) {
      status = SF_INVALID_FIELD; // fused commands and SGLs are not supported
    } else {
      status = sq.sqid === 0 ? adminCommand(this, req, e) : nvmCommand(this, req, e);
    }
    if (status === NO_COMPLETION) return; // an AER, completed by an event
    req.status = status;
    if (rule !== undefined) {
      if (rule.kind === FaultKind.DropCompletion) {
        req.state = ReqState.Dropped;
        return;
      }
      if (rule.kind === FaultKind.Delay) {
        this.hold(req, performance.now() + rule.param / 1000);
        return;
      }
      if (rule.kind === FaultKind.Malformed) {
        req.malform = rule.param;
        if (rule.param === Malformation.ReservedStatus) req.status = statusField(4, 0xaa, false);
      }
    }
    if (this.latency !== Latency.None && sq.sqid !== 0) {
      this.hold(req, performance.now() + this.latencyMs());
      return;
    }
    this.post(req);
  }

  private latencyMs(): number {
    const l = this.cfg.latency;
    if (this.latency === Latency.Fixed) return l.us / 1000;
    return (l.minUs + Math.random() * (l.maxUs - l.minUs)) / 1000;
  }

  private hold(req: Request, due: number): void {
    req.state = ReqState.Timed;
    req.due = due;
    this.timed.push(req);
  }

  private postDue(now: number): number {
    let n = 0;
    while (this.timed.size > 0 && this.timed.peek()!.due <= now) {
      const r = this.timed.pop();
      r.state = ReqState.Active;
      this.post(r);
      n++;
    }
    return n;
  }

  /** Complete a held command now with `status` (Abort, SQ deletion). */
  abortRequest(r: Request, status: number): void {
    if (r.state === ReqState.Timed) this.timed.remove(r);
    r.status = status;
    r.state = ReqState.Active;
    this.post(r);
  }

  // ---------------------------------------------------------------------
  // Completion posting (4.6): never overwrite an entry the host has not
  // released through the CQ head doorbell; hold completions until room.
  // ---------------------------------------------------------------------

  post(req: Request): void {
    const cq = req.sq.cq;
    if (cq.pendingHead !== null || this.cqFull(cq)) {
      this.enqueue(cq, req);
      return;
    }
    this.writeCqe(cq, req);
    this.release(req);
  }

  private cqFull(cq: CompletionQueue): boolean {
    const next = cq.tail + 1 === cq.size ? 0 : cq.tail + 1;
    if (next !== cq.head) return false;
    const db = Atomics.load(this.bar, cq.doorbell);
    if (db !== cq.lastDoorbell) {
      cq.lastDoorbell = db;
      if (db < cq.size) cq.head = db; // an out-of-range head is ignored
    }
    return next === cq.head;
  }

  /** DW0, DW1, DW2, then DW3 (CID, phase, status) last, atomically. */
  private writeCqe(cq: CompletionQueue, req: Request): void {
    const sq = req.sq;
    let sqhd = sq.head;
    let sqid = sq.sqid;
    if (req.malform === Malformation.WrongSqid) sqid = sq.sqid + 1;
    else if (req.malform === Malformation.SqhdOutOfRange) sqhd = 0xffff;
    this.writeEntry(cq, req.dw0, sqhd, sqid, req.cid, req.status);
    if (req.status !== 0) this.errors.record(sq.sqid, req.cid, req.status, cq.phase, req.nsid, req.lba);
    // A hostile controller's extra entry, when the CQ has room for it.
    if (req.malform === Malformation.Duplicate && !this.cqFull(cq)) this.writeEntry(cq, req.dw0, sqhd, sqid, req.cid, req.status);
    if (req.malform === Malformation.UnknownCid && !this.cqFull(cq)) this.writeEntry(cq, 0, sqhd, sqid, (req.cid ^ 0x8000) & 0xffff, 0);
  }

  /** DW0, DW1, DW2, then DW3 (CID, phase, status) last, atomically. */
  private writeEntry(cq: CompletionQueue, dw0: number, sqhd: number, sqid: number, cid: number, status: number): void {
    const u = this.win.u32;
    const i = (cq.offset + cq.tail * CQE_SIZE) >>> 2;
    u[i] = dw0;
    u[i + 1] = 0;
    u[i + 2] = (sqhd | (sqid << CQE_SQID_SHIFT)) >>> 0;
    Atomics.store(u, i + 3, (cid | (cq.phase << CQE_DW3_P_SHIFT) | (status << CQE_DW3_SF_SHIFT)) >>> 0);
    if (++cq.tail === cq.size) {
      cq.tail = 0;
      cq.phase ^= 1;
    }
  }

  private release(req: Request): void {
    req.state = ReqState.Free;
    const sq = req.sq;
    sq.free[sq.freeCount++] = req;
  }

  private enqueue(cq: CompletionQueue, req: Request): void {
    req.state = ReqState.Queued;
    req.next = null;
    if (cq.pendingTail !== null) cq.pendingTail.next = req;
    else {
      cq.pendingHead = req;
      this.pendingCqs++;
    }
    cq.pendingTail = req;
  }

  private drainPending(): number {
    let n = 0;
    for (let q = 0; q < this.cqs.length; q++) {
      const cq = this.cqs[q];
      if (cq === undefined || cq.pendingHead === null) continue;
      while (cq.pendingHead !== null && !this.cqFull(cq)) {
        const r: Request = cq.pendingHead;
        cq.pendingHead = r.next;
        r.next = null;
        this.writeCqe(cq, r);
        this.release(r);
        n++;
      }
      if (cq.pendingHead === null) {
        cq.pendingTail = null;
        this.pendingCqs--;
      }
    }
    return n;
  }

  // ---------------------------------------------------------------------
  // Asynchronous events (5.2)
  // ---------------------------------------------------------------------

  /** An event from the ctl page: complete an outstanding AER, or queue it. */
  private asyncEvent(dw0: number): void {
    if (!this.enabled || !this.processing) return; // no AER can be outstanding
    if (this.events.length >= AEN_QUEUE_MAX) return; // like QEMU: a full event queue drops
    this.events.push(dw0);
    this.deliverEvents();
  }

  /** Pair queued events with outstanding AERs, oldest first. */
  deliverEvents(): void {
    while (this.events.length > 0 && this.aers.length > 0) {
      const req = this.aers.shift()!;
      req.dw0 = this.events.shift()!;
      req.status = 0;
      req.state = ReqState.Active;
      this.post(req);
    }
  }
}
