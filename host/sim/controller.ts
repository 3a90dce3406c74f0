// The simulated NVMe controller (NVM Express Base Specification 1.4): the
// register state machine (3.1, 7.6), the main loop, and acting on the
// ctl page's requests. Around it: registers.ts (CAP, the CC.EN = 1 checks),
// queue-set.ts (the queues), fetch.ts (arbitration 4.11, fetch, fault rules,
// latency), completions.ts (posting, 4.6), events.ts (AERs, 5.2),
// transfer.ts (PRP data transfer), ctl-dma.ts (the DMA window). Command
// handlers live in admin.ts, features.ts and nvm.ts; they run synchronously
// at fetch time, and only the posting of the completion may be deferred
// (latency, Delay fault, full CQ).
//
// The hot path (serviceSq -> fetch -> nvmCommand -> post) allocates
// nothing: requests are preallocated per SQ, views are made once per DMA
// mapping, 64-bit addresses are assembled as numbers.
import * as R from '../../assembly/nvme/regs.js';
import { RW_MAX_BLOCKS, DSM_MAX_RANGES, DSM_RANGE_SIZE } from '../../assembly/nvme/cmd.js';
import { SMART_LOG_SIZE, FWSLOT_LOG_SIZE } from '../../assembly/nvme/identify.js';
import { CTL_STOP, CTL_STATE, CTL_HEARTBEAT, FLAG_FATAL, FLAG_NEVER_READY, FLAG_REMOVED, AEN_SEQ, AEN_DW0, SimState } from './ctl.js';
import { AEN_DW0_CONSUMED } from './ctl-protocol.js';
import { dmaSeq, readDmaRequest, completeDmaRequest } from './ctl-dma.js';
import type { SimConfig } from './config.js';
import type { SimContext } from './context.js';
import { createDeviceFiles, removeDeviceFiles, type DeviceFiles } from './device-files.js';
import { DmaWindow } from './dma.js';
import { PrpWalker } from './prp.js';
import { HostTransfer } from './transfer.js';
import { Namespace } from './namespace.js';
import { ErrorLog } from './logs.js';
import { Features } from './feature-values.js';
import { buildIdentifyController } from './identify-data.js';
import { QueueSet } from './queue-set.js';
import { Completions } from './completions.js';
import { AsyncEvents } from './events.js';
import { capabilities, reg64, adminRegisters, enableRefusal, CC_EN, CSTS_RDY, CSTS_CFS, CSTS_SHST } from './registers.js';
import { CommandFetcher } from './fetch.js';
import { SimInterrupts } from './irq.js';

/** Busy iterations between two looks at CC and the ctl page. */
const CONTROL_EVERY_MASK = 15;
/** Idle polls before sleeping. */
const IDLE_SPINS = 4000;
const MIN_WAIT_US = 50;
const MAX_WAIT_US = 1000;
/** One simulated controller: its device files, registers, queues and namespaces. */
export class Controller implements SimContext {
  readonly files: DeviceFiles;
  readonly bar: Uint32Array;
  readonly ctl: Uint32Array;
  readonly win = new DmaWindow();
  readonly prp: PrpWalker;
  readonly dma: HostTransfer;
  readonly errors = new ErrorLog();
  readonly features: Features;
  readonly identifyController: Buffer;
  /** Admin data buffer: Identify pages, log pages, DSM ranges. */
  readonly scratch: Buffer;
  /** Largest data transfer (MDTS), bytes. */
  readonly maxTransfer: number;
  readonly powerOnMs = performance.now();
  readonly queues: QueueSet;
  readonly completions: Completions;
  readonly events: AsyncEvents;
  /** Interrupt vectors (irq.ts): completions on IEN = 1 CQs signal them. */
  readonly irq: SimInterrupts;
  private readonly fetcher: CommandFetcher;

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

  private lastDmaSeq = 0;
  private lastAenSeq = 0;

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
    this.dma = new HostTransfer(this.win, this.prp);
    this.features = new Features(cfg);
    this.identifyController = buildIdentifyController(cfg);
    this.scratch = Buffer.alloc(Math.max(R.PAGE_SIZE, ErrorLog.size, SMART_LOG_SIZE, FWSLOT_LOG_SIZE, DSM_MAX_RANGES * DSM_RANGE_SIZE));
    this.queues = new QueueSet(this.bar, this.win, cfg.dstrd, cfg.maxIoQueuePairs);
    this.irq = new SimInterrupts(this.ctl, this.files.ctlAddr);
    this.completions = new Completions(this.bar, this.win, this.errors, this.queues.cqs, this.irq);
    this.events = new AsyncEvents(this.completions);
    this.fetcher = new CommandFetcher(this, this.ctl);
    const cap = capabilities(cfg);
    this.capLo = cap.lo;
    this.capHi = cap.hi;
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
    const timed = this.completions.timed;
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
      if (timed.size > 0) {
        const dueUs = (timed.peek()!.due - performance.now()) * 1000;
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
    if (this.processing) {
      // processing does not change during a pass over the SQs.
      const active = this.queues.active;
      for (let i = 0; i < active.length; i++) work += this.fetcher.service(active[i]!);
    }
    const completions = this.completions;
    if (completions.timed.size > 0) work += completions.postDue(performance.now());
    if (completions.pending) work += completions.drainPending();
    return work;
  }

  private checkFatalFlag(): void {
    if (Atomics.load(this.ctl, FLAG_FATAL >>> 2) !== 0) {
      Atomics.store(this.ctl, FLAG_FATAL >>> 2, 0);
      this.fatal();
    }
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
    else if (this.refusedWith !== undefined && adminRegisters(this.bar) !== this.refusedWith) this.finishEnable();
    this.checkFatalFlag();
    const seq = dmaSeq(ctl);
    if (seq !== this.lastDmaSeq) this.dmaRequest(seq);
    this.fetcher.checkFaults();
    const aenSeq = Atomics.load(ctl, AEN_SEQ >>> 2);
    if (aenSeq !== this.lastAenSeq) {
      this.lastAenSeq = aenSeq;
      const dw0 = Atomics.load(ctl, AEN_DW0 >>> 2);
      if (dw0 !== AEN_DW0_CONSUMED) {
        Atomics.store(ctl, AEN_DW0 >>> 2, AEN_DW0_CONSUMED);
        // No AER can be outstanding unless enabled and processing.
        if (this.enabled && this.processing) this.events.push(dw0);
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
    const why = enableRefusal(this.bar, this.cc, this.capHi, this.win);
    if (why !== undefined) {
      // QEMU sets CFS here; we leave RDY = 0 and let the host's CAP.TO expire.
      // Registers rewritten later are checked again: a CC.EN 1 -> 0 -> 1 of
      // the host may fall between two polls.
      if (this.refusedWith === undefined) console.error(`nvme-wasm sim ${this.cfg.name}: CC.EN = 1 refused: ${why}`);
      this.refusedWith = adminRegisters(this.bar);
      return;
    }
    this.refusedWith = undefined;
    this.createAdminQueues();
    this.enabled = true;
    this.processing = true;
    this.setCsts(this.csts | CSTS_RDY);
  }

  private createAdminQueues(): void {
    const aqa = Atomics.load(this.bar, R.REG_AQA >>> 2);
    const cq = this.queues.newCq(0, R.regField(aqa, R.AQA_ACQS_SHIFT, R.AQA_ACQS_MASK) + 1, reg64(this.bar, R.REG_ACQ, R.REG_ACQ_HI));
    this.queues.newSq(0, R.regField(aqa, R.AQA_ASQS_SHIFT, R.AQA_ASQS_MASK) + 1, reg64(this.bar, R.REG_ASQ, R.REG_ASQ_HI), cq);
  }

  /**
   * CC.EN 1 -> 0 (7.3.2 controller level reset): delete every queue, drop
   * pending commands and AERs, clear CSTS (RDY, CFS, SHST).
   */
  private controllerReset(): void {
    this.queues.clear();
    this.completions.clear();
    this.events.clear();
    this.enableAt = -1;
    this.enableBlocked = false;
    this.refusedWith = undefined;
    this.enabled = false;
    this.processing = false;
    this.setCsts(0);
  }

  /**
   * CC.SHN (7.6.2): SHST = 01b, complete what is held (timed completions
   * are posted now; dropped ones and AERs are discarded), then SHST = 10b.
   * No command is processed afterwards until the next reset.
   */
  private shutdown(): void {
    this.setCsts((this.csts & ~CSTS_SHST) | (R.CSTS_SHST_OCCURRING << R.CSTS_SHST_SHIFT));
    if (this.processing) {
      this.completions.postDue(Infinity);
      this.completions.drainPending();
    }
    this.processing = false;
    this.events.clear();
    this.setCsts((this.csts & ~CSTS_SHST) | (R.CSTS_SHST_COMPLETE << R.CSTS_SHST_SHIFT));
  }

  /** Controller Fatal Status: stop everything until the next reset. */
  fatal(): void {
    this.processing = false;
    this.setCsts(this.csts | CSTS_CFS);
  }

  /** The ctl page asks for a new DMA window (the IOMMU's job); queues left outside it are a fatal error. */
  private dmaRequest(seq: number): void {
    this.lastDmaSeq = seq;
    const req = readDmaRequest(this.ctl, this.files.ctlBytes);
    let result = 0;
    if (req.path.length === 0) this.win.unmap();
    else result = this.win.map(req.path, req.iova, req.len);
    if (!this.queues.relocate()) this.fatal();
    completeDmaRequest(this.ctl, seq, result);
  }
}
