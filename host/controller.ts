// The controller: opening a device, the spec's initialisation and shutdown
// sequences, admin commands, I/O queue pairs, namespaces.
import {
  REG_CAP, REG_CAP_HI, REG_VS, REG_CC, REG_CSTS, REG_AQA, REG_ASQ, REG_ASQ_HI, REG_ACQ, REG_ACQ_HI,
  CAP_MQES_SHIFT, CAP_MQES_MASK, CAP_TO_SHIFT, CAP_TO_MASK, CAP_TO_UNIT_MS, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK,
  CAP_CSS_SHIFT, CAP_CSS_MASK, CAP_CSS_NVM, CAP_MPSMIN_SHIFT, CAP_MPSMIN_MASK, CAP_CQR_SHIFT, CAP_CQR_MASK,
  CC_EN_SHIFT, CC_CSS_SHIFT, CC_CSS_NVM, CC_MPS_SHIFT, CC_AMS_SHIFT, CC_AMS_RR, CC_SHN_SHIFT, CC_SHN_MASK,
  CC_SHN_NORMAL, CC_IOSQES_SHIFT, CC_IOCQES_SHIFT, CSTS_RDY_SHIFT, CSTS_RDY_MASK, CSTS_CFS_SHIFT, CSTS_CFS_MASK,
  CSTS_SHST_SHIFT, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, AQA_ACQS_SHIFT, AQA_ASQS_SHIFT, AQ_MAX_ENTRIES,
  SQES_LOG2, CQES_LOG2, PAGE_SIZE, PAGE_SHIFT, regField,
} from '../assembly/nvme/regs.js';
import {
  SQE_SIZE, CQE_SIZE, AdminOpc, Cns, FeatureId, LogId, NQ_MASK, NQ_NCQ_SHIFT, NQ_NSQ_SHIFT, IDENTIFY_DATA_SIZE,
  ABORT_NOT_ABORTED,
} from '../assembly/nvme/cmd.js';
import { ERRLOG_ENTRY_SIZE, SMART_LOG_SIZE, FWSLOT_LOG_SIZE } from '../assembly/nvme/identify.js';
import { qpDescriptorSize, QP_ADMIN_OWNER_BITS, QP_QSIZE, QP_SQ, QP_CQ } from '../assembly/abi/qpair.js';
import {
  RegionState, HDR_STATE, HDR_MAGIC, HDR_LAYOUT_VERSION, HDR_CORE_HASH, HDR_PRIMARY, HDR_TRID, HDR_TRID_LEN, REGION_MAGIC,
  REGION_LAYOUT_VERSION, CTRL_CAP_LO, CTRL_MAX_XFER, CTRL_ADMIN_QP, CTRL_MBOX, CTRL_MAX_QUEUE_PAIRS, CTRL_DSTRD,
  CTRL_AER_WANTED, PROC_SLOTS, MBOX_STRIDE, GROUP_OWNER, ProcRole, PROC_TABLE_OFF, PROC_ENTRY_SIZE, PROC_PID, PROC_START_LO,
  PROC_START_HI, HDR_IOVA_LO, HDR_IOVA_HI, HDR_SHADOW_DB,
} from '../assembly/abi/region.js';
import { CoreStatus } from '../assembly/abi/status.js';
import { Mmio, processAlive } from '../hal/index.js';
import { instantiateCore, coreHash, type CoreExports } from './core.js';
import { layoutMemory } from './memory.js';
import {
  Region, createRegionFile, createRegionFileExclusive, findRegionFile, openRegionFile, readRegionHeader, checkRegionSize,
  type HugepagePolicy, type RegionFile,
} from './region.js';
import { Group, GroupClosedError } from './group.js';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { openTransport, checkPcieDevice, IOVA_BASE, type Transport } from './transport.js';
import { parseTransportId, type TransportId } from './trid.js';
import type { SimConfigInput } from './sim/config.js';
import { QueuePair, type BogusCompletion } from './qpair.js';
import { configureShadowDoorbells, useShadowDoorbells } from './shadow-doorbells.js';
import { IoQueuePair } from './io-qpair.js';
import { AdminQueue } from './admin.js';
import { Namespace } from './namespace.js';
import type { DmaBuffer } from './dma.js';
import {
  parseControllerData, parseNamespaceData, parseNamespaceList, parseSmartLog, parseErrorLog, parseFirmwareSlotLog,
  versionString, type ControllerData, type SmartLog, type ErrorLogEntry, type FirmwareSlotLog,
} from './identify.js';
import { ControllerError, ControllerResetError, NvmeTimeoutError, InvalidArgumentError, ResourceError } from './errors.js';
import { GroupReset, type ResetHost, type ResetInfo } from './reset.js';
import { checkInt } from './validate.js';
import { Messaging, groupSocketDir } from './mp/messaging.js';
import { NOTIFY_ACTION, NOTIFICATION_KINDS, asyncEventDetail, type GroupNotification, type NotificationKind } from './mp/notify.js';
import { readGroupStats, publishStatsBlock, type GroupStats } from './stats.js';
import { ST_SIZE } from '../assembly/abi/stats.js';
import path from 'node:path';

export interface ControllerOptions {
  /** Transport ID ('trtype:sim name:X', 'trtype:PCIe traddr:...'); default: an embedded simulated controller. */
  transport?: string | TransportId;
  /** Configuration of the embedded simulated controller. */
  sim?: SimConfigInput;
  /**
   * Shared-memory group id (like SPDK's -i / shm_id): processes opening the
   * same transport with the same shmId and filePrefix share the controller
   * (the first is the primary). Undefined: a private, single-process driver.
   */
  shmId?: number;
  /** Group file prefix (like DPDK's --file-prefix). Default 'nvme-wasm'. */
  filePrefix?: string;
  /** 'auto' (default: primary if the group has none yet), 'primary' or 'secondary'. */
  procType?: 'auto' | 'primary' | 'secondary';
  /** Bytes of shared region (queues and DMA buffers), rounded up to 2 MiB. Default 64 MiB. */
  regionSize?: number;
  /** Use hugetlbfs for the region: 'auto' (default, when mounted with free pages), 'never', 'require'. */
  hugepages?: HugepagePolicy;
  /** Admin queue entries (2..4096). Default 32. */
  adminQueueDepth?: number;
  /** Default I/O queue entries (2..CAP.MQES+1). Default 256. */
  ioQueueDepth?: number;
  /** I/O queue pairs to ask for with Set Features Number of Queues. Default 64. */
  requestedQueuePairs?: number;
  /**
   * Command timeout in ms (0 = none). Default: 30 s, or twice CAP.TO when
   * the controller declares a slower worst case. A command past it is
   * aborted (Abort, 5.1); if that does not take it back within the same
   * time, the controller is reset (see the README's "Timeouts and resets").
   */
  commandTimeoutMs?: number;
  /** Largest transfer per command the driver builds, before MDTS. Default 4 MiB. */
  maxTransferBytes?: number;
  /** Load the debug build of the Wasm core. */
  debugCore?: boolean;
  /**
   * Keep live statistics of each I/O queue pair in the shared region (read by
   * `nvme-wasm stats` / `top`). Default true, or false when the environment
   * has NVME_WASM_STATS=0.
   */
  stats?: boolean;
  /**
   * Which commands the latency statistics time (the clock is read only for
   * those; counts, bytes and errors are exact whatever it is): 'auto' (the
   * default, or NVME_WASM_STATS_SAMPLING) adapts the share so a queue pair
   * takes 2,000 to 20,000 samples a second: every command of a slow device,
   * one in a few hundred at millions of IOPS. A number (a power of two, 1 to
   * 1024) samples one command in that many.
   */
  statsLatencySampling?: number | 'auto';
  /** Use shadow doorbells (Doorbell Buffer Config) when the controller offers them. Default true. */
  shadowDoorbells?: boolean;
}

export interface Registers {
  cap: bigint;
  vs: number;
  cc: number;
  csts: number;
}

const ADMIN_MAX_XFER = 64 * 1024;
const DEFAULT_REGION = 64 * 1024 * 1024;
/** Linux's nvme io_timeout: the floor of the default command timeout. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

function closeFdQuiet(file: RegionFile): void {
  try {
    fs.closeSync(file.fd);
  } catch {
    /* already closed */
  }
}

/** Is the process that created this region (its primary) still running? */
function creatorAlive(hdr: DataView): boolean {
  const p = hdr.getUint32(HDR_PRIMARY, true) - 1;
  if (p < 0 || p >= PROC_SLOTS) return false;
  const o = PROC_TABLE_OFF + p * PROC_ENTRY_SIZE;
  const start = hdr.getUint32(o + PROC_START_LO, true) + hdr.getUint32(o + PROC_START_HI, true) * 2 ** 32;
  return processAlive(hdr.getUint32(o + PROC_PID, true), start);
}

/** Wait until `cond()` holds, polling every `stepMs`, at most `timeoutMs`. */
async function waitFor(cond: () => boolean, timeoutMs: number, what: string, fail?: () => void): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (cond()) return;
    fail?.();
    if (performance.now() > end) throw new NvmeTimeoutError(what, timeoutMs);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function checkSampling(v: unknown): number | 'auto' {
  const expected = "'auto' or a power of two from 1 to 1024";
  if (v === 'auto') return v;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v; // from the environment
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError('statsLatencySampling', expected, v);
  }
  return n;
}

export class Controller {
  readonly transport: Transport;
  readonly region: Region;
  readonly core: CoreExports;
  readonly mmio: Mmio;
  readonly admin: AdminQueue;
  /** Identify Controller data. */
  data!: ControllerData;
  /** CAP.MQES + 1: the most entries an I/O queue may have. */
  readonly maxQueueEntries: number;
  /** CAP.DSTRD */
  readonly doorbellStride: number;
  /** CAP.TO in ms: the bound on every enable/disable wait. */
  readonly readyTimeoutMs: number;
  /** Bytes one command may transfer (MDTS and maxTransferBytes applied). */
  maxTransfer = 0;
  /** I/O queue pairs the controller granted (Number of Queues). */
  maxQueuePairs = 0;
  readonly namespaces = new Map<number, Namespace>();
  readonly options: Required<Omit<ControllerOptions, 'transport' | 'sim' | 'shmId' | 'filePrefix' | 'procType'>>;
  private readonly queuePairs = new Set<IoQueuePair>();
  private defaultQp: Promise<IoQueuePair> | undefined;
  private closed: Promise<void> | undefined;

  /** This process's place in its group (a private driver is a group of one). */
  readonly group: Group;
  /** The group's shared-memory id, or undefined for a private driver. */
  readonly shmId: number | undefined;
  private primary: boolean;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private cleanup: Promise<void> = Promise.resolve();
  private readonly events = new EventEmitter();
  private readonly resets: GroupReset;
  /**
   * Messages between the processes of the group (DPDK rte_mp model):
   * register/unregister/send/request/requestAsync. See README, Messaging.
   */
  readonly mp: Messaging;

  private constructor(transport: Transport, region: Region, core: CoreExports, mmio: Mmio, options: Controller['options'], group: Group, primary: boolean, shmId: number | undefined) {
    this.transport = transport;
    this.region = region;
    this.core = core;
    this.mmio = mmio;
    this.options = options;
    this.group = group;
    this.primary = primary;
    this.shmId = shmId;
    const capLo = mmio.read32(REG_CAP);
    const capHi = mmio.read32(REG_CAP_HI);
    this.maxQueueEntries = regField(capLo, CAP_MQES_SHIFT, CAP_MQES_MASK) + 1;
    this.doorbellStride = regField(capHi, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK);
    this.readyTimeoutMs = Math.max(1, regField(capLo, CAP_TO_SHIFT, CAP_TO_MASK)) * CAP_TO_UNIT_MS;
    if (options.commandTimeoutMs < 0) options.commandTimeoutMs = Math.max(DEFAULT_COMMAND_TIMEOUT_MS, 2 * this.readyTimeoutMs);
    this.admin = primary ? this.createAdminQueue() : this.attachAdminQueue();
    this.resets = new GroupReset(this.resetHost());
    this.admin.holdSubmissions = () => this.resets.holdsAdmin();
    this.mp = new Messaging(group, shmId !== undefined ? groupSocketDir(path.basename(region.file.path, '.region')) : undefined);
    this.admin.onEvent = (dw0) => {
      this.events.emit('asyncEvent', dw0);
      if (this.primary) this.notifyGroup('asyncEvent', asyncEventDetail(dw0));
    };
    this.admin.onBogus = (b) => this.events.emit('bogusCompletion', b);
    group.onLockRecovered = () => {
      // The holder died inside the lock: make the admin queue consistent.
      this.core.qpRecover(this.admin.desc);
      this.core.qpRing(this.admin.desc);
    };
    region.allocLockRecovery = () => group.recoverAllocLock();
  }

  /**
   * Open a controller. Without `shmId`: a private driver that initialises the
   * device (NVMe 1.4, 7.6.1). With `shmId`: join that group, as primary (the
   * first process: it initialises) or secondary (attaches to what the primary
   * set up); see the README for the exact rules.
   */
  static async open(opts: ControllerOptions = {}): Promise<Controller> {
    const options: Controller['options'] = {
      regionSize: checkRegionSize(opts.regionSize ?? DEFAULT_REGION),
      hugepages: opts.hugepages ?? 'auto',
      adminQueueDepth: checkInt('adminQueueDepth', opts.adminQueueDepth ?? 64, 2, AQ_MAX_ENTRIES),
      ioQueueDepth: checkInt('ioQueueDepth', opts.ioQueueDepth ?? 256, 2, 65536),
      requestedQueuePairs: checkInt('requestedQueuePairs', opts.requestedQueuePairs ?? 64, 1, 65535),
      commandTimeoutMs: opts.commandTimeoutMs === undefined ? -1 : checkInt('commandTimeoutMs', opts.commandTimeoutMs, 0, 3_600_000),
      maxTransferBytes: checkInt('maxTransferBytes', opts.maxTransferBytes ?? 4 * 1024 * 1024, PAGE_SIZE, 64 * 1024 * 1024),
      debugCore: opts.debugCore ?? false,
      stats: opts.stats ?? process.env.NVME_WASM_STATS !== '0',
      statsLatencySampling: checkSampling(opts.statsLatencySampling ?? process.env.NVME_WASM_STATS_SAMPLING ?? 'auto'),
      shadowDoorbells: opts.shadowDoorbells ?? true,
    };
    if (typeof options.stats !== 'boolean') throw new InvalidArgumentError('stats', 'true or false', options.stats);
    if (!['auto', 'never', 'require'].includes(options.hugepages)) {
      throw new InvalidArgumentError('hugepages', "'auto', 'never' or 'require'", options.hugepages);
    }
    // A real device's DMA memory must be hugepages: fail early, saying how to get them.
    const idGiven = typeof opts.transport === 'object' ? opts.transport : parseTransportId(opts.transport);
    if (idGiven.trtype === 'pcie') {
      checkPcieDevice(idGiven.traddr); // say what is wrong with the device before asking for hugepages
      if (options.hugepages === 'auto') options.hugepages = 'require';
    }
    const procType = opts.procType ?? 'auto';
    if (!['auto', 'primary', 'secondary'].includes(procType)) throw new InvalidArgumentError('procType', "'auto', 'primary' or 'secondary'", procType);
    if (opts.shmId === undefined) {
      if (procType === 'secondary') throw new InvalidArgumentError('procType', "'secondary' only with a shmId (a group to join)", procType);
      const id = typeof opts.transport === 'object' ? opts.transport : parseTransportId(opts.transport);
      const file = createRegionFile(`nvme-wasm-${process.pid}-${Date.now().toString(36)}.region`, options.regionSize, options.hugepages);
      return Controller.openPrimary(file, id, opts.sim, options, undefined);
    }
    const shmId = checkInt('shmId', opts.shmId, 0, 0x7fffffff);
    const prefix = opts.filePrefix ?? 'nvme-wasm';
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new InvalidArgumentError('filePrefix', 'letters, digits, _ . - (1 to 64)', prefix);
    const name = `${prefix}_${shmId}.region`;
    for (let attempt = 0; attempt < 8; attempt++) {
      if (procType !== 'secondary' && !findRegionFile(name)) {
        const file = createRegionFileExclusive(name, options.regionSize, options.hugepages);
        if (file) {
          const id = typeof opts.transport === 'object' ? opts.transport : parseTransportId(opts.transport);
          return Controller.openPrimary(file, id, opts.sim, options, shmId);
        }
      }
      const joined = await Controller.joinGroup(name, shmId, prefix, procType, options);
      if (joined) return joined;
    }
    throw new ControllerError(`could not join or create group ${shmId} (file prefix ${prefix}): it kept changing under us`, 'state');
  }

  /** Create and initialise: the first process of a group, or a private driver. */
  private static async openPrimary(file: RegionFile, id: TransportId, sim: SimConfigInput | undefined, options: Controller['options'], shmId: number | undefined): Promise<Controller> {
    let transport: Transport | undefined;
    let region: Region | undefined;
    try {
      transport = await openTransport(id, sim);
      const layout = layoutMemory(options.regionSize, transport.barSize);
      const core = instantiateCore(layout.memory, options.debugCore);
      region = new Region(file, layout, core, 0);
      const hash = coreHash(options.debugCore);
      region.format(hash, IOVA_BASE);
      core.setIovaBase(Number(IOVA_BASE & 0xffffffffn), Number(IOVA_BASE >> 32n));
      const mbox = region.allocDma(PROC_SLOTS * MBOX_STRIDE, { zero: true, owner: GROUP_OWNER });
      region.dv.setUint32(CTRL_MBOX, mbox.regionOffset, true);
      const group = new Group(region, core);
      group.join(ProcRole.Primary);
      region.self = group.self;
      region.dv.setUint32(HDR_PRIMARY, group.self + 1, true);
      const trid = Buffer.from(transport.trid, 'latin1');
      region.u8.set(trid.subarray(0, HDR_TRID_LEN - 1), HDR_TRID);
      const dmaTable = await transport.mapDma(file.path, IOVA_BASE, file.size, layout.base + BigInt(layout.regionOff));
      if (dmaTable) region.setDmaTable(dmaTable);
      // A private region needs no name once both sides mapped it, and an
      // unlinked file cannot be left behind by a crash. A group's stays, for
      // secondaries to find.
      if (shmId === undefined) region.close(true);
      transport.mapBar(layout.base, layout.barOff);
      core.setBarWindow(layout.barOff);
      const mmio = new Mmio(layout.memory.buffer, layout.barOff, layout.barSize);
      const ctrl = new Controller(transport, region, core, mmio, options, group, true, shmId);
      try {
        await ctrl.initialise();
        ctrl.publish();
      } catch (e) {
        region.dv.setUint32(HDR_STATE, RegionState.Failed, true);
        ctrl.admin.failAll(new ControllerError('initialisation failed', 'state'));
        throw e;
      }
      ctrl.startWatchdog();
      return ctrl;
    } catch (e) {
      region?.close(true);
      region?.unmap();
      if (!region) closeFdQuiet(file);
      fs.rmSync(file.path, { force: true }); // a failed open leaves no file behind
      await transport?.close().catch(() => {});
      throw e;
    }
  }

  /** What the primary shares with secondaries, in the controller block. */
  private publish(): void {
    const dv = this.region.dv;
    dv.setUint32(CTRL_CAP_LO, this.mmio.read32(REG_CAP), true);
    dv.setUint32(CTRL_MAX_XFER, this.maxTransfer, true);
    dv.setUint32(CTRL_MAX_QUEUE_PAIRS, this.maxQueuePairs, true);
    dv.setUint32(CTRL_DSTRD, this.doorbellStride, true);
    dv.setUint32(CTRL_AER_WANTED, 1, true);
    // Last: a secondary that sees Ready sees everything above.
    Atomics.store(new Int32Array(this.region.layout.memory.buffer, this.region.layout.regionOff, 8), HDR_STATE >>> 2, RegionState.Ready);
  }

  /**
   * Join an existing group as a secondary. Returns undefined when the group
   * turned out to be stale (every member dead, or its creator died during
   * initialisation): its file is removed and the caller tries again.
   */
  private static async joinGroup(name: string, shmId: number, prefix: string, procType: string, options: Controller['options']): Promise<Controller | undefined> {
    const path = findRegionFile(name);
    if (!path) {
      if (procType === 'secondary') throw new ControllerError(`no primary process for group ${shmId} (file prefix ${prefix}): start a primary first (no ${name})`, 'state');
      return undefined;
    }
    // Wait (bounded) for the primary to lay out the header and initialise.
    const deadline = performance.now() + 30_000;
    let hdr: DataView | undefined;
    let ino = 0;
    for (;;) {
      const read = readRegionHeader(path);
      if (!read) {
        const st = fs.statSync(path, { throwIfNoEntry: false });
        if (!st) return undefined; // removed meanwhile
        // Created and not sized yet: its creator is between open and
        // ftruncate (microseconds), or died there (a crash leaves it so).
        if (performance.now() > deadline || Date.now() - st.mtimeMs > 10_000) {
          fs.rmSync(path, { force: true });
          if (procType === 'secondary') throw new ControllerError(`the primary of group ${shmId} never finished initialising`, 'state');
          return undefined;
        }
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      hdr = read.dv;
      ino = read.ino;
      if (hdr.getUint32(HDR_MAGIC, true) === REGION_MAGIC) {
        const layout = hdr.getUint32(HDR_LAYOUT_VERSION, true);
        const hash = hdr.getUint32(HDR_CORE_HASH, true);
        const mine = coreHash(options.debugCore);
        if (layout !== REGION_LAYOUT_VERSION || hash !== mine) {
          throw new ControllerError(
            `version mismatch: group ${shmId} runs layout ${layout} core ${hash.toString(16).padStart(8, '0')}, this process is layout ${REGION_LAYOUT_VERSION} core ${mine.toString(16).padStart(8, '0')}`,
            'unsupported',
          );
        }
        const state = hdr.getUint32(HDR_STATE, true);
        if (state === RegionState.Ready) break;
        if (state === RegionState.Closed) {
          // The last member left (and is removing it, or died doing so): start afresh.
          fs.rmSync(path, { force: true });
          return undefined;
        }
        if (state === RegionState.Failed) {
          fs.rmSync(path, { force: true });
          if (procType === 'secondary') throw new ControllerError(`the primary of group ${shmId} failed to initialise`, 'state');
          return undefined;
        }
      }
      // Still being created: by a live process?
      const ageMs = Date.now() - (fs.statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (performance.now() > deadline || (ageMs > 10_000 && !creatorAlive(hdr))) {
        fs.rmSync(path, { force: true });
        if (procType === 'secondary') throw new ControllerError(`the primary of group ${shmId} never finished initialising`, 'state');
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const tridText = Buffer.from(hdr.buffer, hdr.byteOffset + HDR_TRID, HDR_TRID_LEN).toString('latin1').replace(/\0.*$/s, '');
    let transport: Transport;
    let groupTrid: TransportId | undefined;
    try {
      groupTrid = parseTransportId(tridText.replace(/ \(embedded\)$/, ''));
      transport = await openTransport(groupTrid, undefined, { secondary: true });
    } catch (e) {
      // The device is gone (an embedded simulator died with its process): stale group.
      // A PCIe device does not go with a process: say why it cannot be shared, and leave the group alone.
      if (groupTrid?.trtype === 'pcie') throw e;
      if (procType === 'secondary') throw new ControllerError(`group ${shmId}'s device (${tridText}) is gone: ${(e as Error).message}`, 'removed');
      fs.rmSync(path, { force: true });
      return undefined;
    }
    let file: RegionFile | undefined;
    try {
      try {
        file = openRegionFile(path);
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') {
          await transport.close();
          return undefined; // removed by the last member leaving
        }
        throw e;
      }
      if (fs.fstatSync(file.fd).ino !== ino) {
        // The group we saw Ready ended and the name now holds a new group's
        // file, perhaps not formatted yet: look again from the start.
        closeFdQuiet(file);
        await transport.close();
        return undefined;
      }
      const layout = layoutMemory(file.size, transport.barSize);
      const core = instantiateCore(layout.memory, options.debugCore);
      const region = new Region(file, layout, core, 0);
      region.validate(coreHash(options.debugCore));
      core.setIovaBase(region.dv.getUint32(HDR_IOVA_LO, true), region.dv.getUint32(HDR_IOVA_HI, true));
      region.useDmaTable();
      const group = new Group(region, core);
      const live = group.liveSlots();
      if (live.length === 0) {
        // Everyone died: the next process to join starts the group afresh.
        region.close(false);
        await transport.close();
        if (procType === 'secondary') throw new ControllerError(`no primary process for group ${shmId} (file prefix ${prefix}): all its processes have exited`, 'state');
        fs.rmSync(path, { force: true });
        return undefined;
      }
      const primary = group.primarySlot();
      if (procType === 'primary' && primary >= 0 && group.slotAlive(primary)) {
        throw new ControllerError(`group ${shmId} already has a primary (pid ${group.procPid(primary)})`, 'state');
      }
      try {
        group.join(ProcRole.Secondary);
      } catch (e) {
        if (!(e instanceof GroupClosedError)) throw e;
        region.close(false);
        await transport.close();
        return undefined; // the last member left meanwhile: start afresh
      }
      region.self = group.self;
      transport.mapBar(layout.base, layout.barOff);
      core.setBarWindow(layout.barOff);
      const mmio = new Mmio(layout.memory.buffer, layout.barOff, layout.barSize);
      const ctrl = new Controller(transport, region, core, mmio, options, group, false, shmId);
      try {
        await ctrl.attach();
      } catch (e) {
        await ctrl.leaveGroup().catch(() => {});
        throw e;
      }
      ctrl.startWatchdog();
      ctrl.checkPrimary();
      return ctrl;
    } catch (e) {
      await transport.close().catch(() => {});
      throw e;
    }
  }

  /** A secondary's view of the controller: limits from the primary, data over the shared admin queue. */
  private async attach(): Promise<void> {
    const dv = this.region.dv;
    this.maxTransfer = dv.getUint32(CTRL_MAX_XFER, true);
    this.maxQueuePairs = dv.getUint32(CTRL_MAX_QUEUE_PAIRS, true);
    useShadowDoorbells(this.region, this.core, this.doorbellStride);
    this.checkAlive();
    this.data = parseControllerData(await this.identifyRaw(Cns.Controller, 0));
    await this.rescanNamespaces();
  }

  /** Is this process the group's primary now? */
  get isPrimary(): boolean {
    return this.primary;
  }

  /**
   * Events: 'asyncEvent' (dword 0 of an Asynchronous Event Request
   * completion, in every member of a group), 'primary' (this process took
   * the primary role), 'memberCleaned' (a dead member's slot was reclaimed),
   * 'bogusCompletion' (a malformed completion was consumed and ignored),
   * 'timeout' (a command passed its deadline: recovery starts), 'reset' (a
   * controller reset is over and this process has its queues back: every
   * member gets it), 'removed' / 'failed' (the controller is gone for good:
   * registers read all ones, or it did not come back from a reset).
   */
  on(event: 'asyncEvent' | 'primary' | 'memberCleaned', fn: (arg: number) => void): this;
  on(event: 'bogusCompletion', fn: (b: BogusCompletion) => void): this;
  on(event: 'reset', fn: (info: ResetInfo) => void): this;
  on(event: 'timeout', fn: (t: { qid: number; cid: number; opcode: number }) => void): this;
  on(event: 'removed' | 'failed', fn: (err: ControllerError) => void): this;
  /** A notification of another process of the group (see notifyGroup). */
  on(event: 'notification', fn: (n: GroupNotification) => void): this;
  on(event: string, fn: (arg: any) => void): this { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.on(event, fn);
    return this;
  }

  off(event: 'asyncEvent' | 'primary' | 'memberCleaned', fn: (arg: number) => void): this;
  off(event: 'bogusCompletion', fn: (b: BogusCompletion) => void): this;
  off(event: 'reset', fn: (info: ResetInfo) => void): this;
  off(event: 'timeout', fn: (t: { qid: number; cid: number; opcode: number }) => void): this;
  off(event: 'removed' | 'failed', fn: (err: ControllerError) => void): this;
  off(event: 'notification', fn: (n: GroupNotification) => void): this;
  off(event: string, fn: (arg: any) => void): this { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.off(event, fn);
    return this;
  }

  /**
   * Tell the group about a driver event, over the messaging layer (the
   * primary tells every secondary; a secondary tells the primary), where it
   * arrives as a 'notification' event. Fire and forget: never throws.
   * Kinds: 'asyncEvent', 'primaryMoved', 'resetDone', 'deviceRemoved'.
   */
  notifyGroup(kind: NotificationKind, detail: Record<string, unknown> = {}): void {
    if (this.shmId === undefined) return;
    this.mp.sendAction(NOTIFY_ACTION, { kind, detail }).catch(() => {});
  }

  private listenNotifications(): void {
    this.mp.registerAction(NOTIFY_ACTION, (payload, from) => {
      const p = payload as { kind?: unknown; detail?: unknown } | null;
      if (!p || !NOTIFICATION_KINDS.includes(p.kind as NotificationKind)) return;
      const detail = typeof p.detail === 'object' && p.detail !== null ? (p.detail as Record<string, unknown>) : {};
      this.events.emit('notification', { kind: p.kind as NotificationKind, detail, from } satisfies GroupNotification);
    });
  }

  /** Live statistics of every member of the group and its I/O queue pairs (read from the shared region, no lock). */
  groupStats(): GroupStats {
    return readGroupStats(this.group);
  }

  private startWatchdog(): void {
    this.mp.start();
    this.listenNotifications();
    this.watchdogTimer = setInterval(() => this.watch(), 100);
    this.watchdogTimer.unref();
    if (this.primary && this.shmId !== undefined) this.armAsyncEvents();
  }

  /**
   * Every 100 ms: reclaim dead members, take the primary role if it is free,
   * and read this process's mailbox (events arrive there even when this
   * process has no admin command of its own outstanding).
   */
  private watch(): void {
    if (this.closed) return;
    try {
      this.watchdog();
      if (this.shmId !== undefined) {
        this.reapDead();
        this.checkPrimary();
        this.admin.processCompletions();
      }
      // Timeouts of commands nobody polls for (a callback-path loop that stopped).
      const now = performance.now();
      this.admin.checkTimeouts(now);
      for (const qp of this.queuePairs) qp.checkTimeouts(now);
    } catch {
      /* a dead controller is reported to the commands that wait on it */
    }
  }

  /** Start cleaning up after members that died; returns when all started cleanups are done. */
  reapDead(): Promise<void> {
    const dead = this.group.claimDead();
    for (const slot of dead) this.cleanup = this.cleanup.then(() => this.cleanDead(slot));
    return this.cleanup;
  }

  /**
   * A dead member's leftovers: delete its I/O queues on the controller (SQ
   * first, 5.6 then 5.5), then its queue ids, memory and mailbox are
   * reclaimed and its slot recycled. Completions of its admin commands are
   * discarded by whoever reaps them.
   */
  private async cleanDead(slot: number): Promise<void> {
    for (const qid of this.group.qidsOf(slot)) {
      if (this.isAlive()) {
        await this.admin.run(AdminOpc.DeleteIoSq, `Delete I/O SQ ${qid}`, () => this.core.submitDeleteIoSq(this.admin.desc, qid)).catch(() => {});
        await this.admin.run(AdminOpc.DeleteIoCq, `Delete I/O CQ ${qid}`, () => this.core.submitDeleteIoCq(this.admin.desc, qid)).catch(() => {});
      }
      this.group.releaseQid(qid);
    }
    this.group.releaseDead(slot, this.admin.desc);
    this.events.emit('memberCleaned', slot);
    this.mp.removeStale(); // its socket file, if it died with one
  }

  /** What the group reset needs from this controller (host/reset.ts). */
  private resetHost(): ResetHost {
    return {
      region: this.region,
      group: this.group,
      core: this.core,
      admin: this.admin,
      description: this.transport.description,
      readyTimeoutMs: this.readyTimeoutMs,
      ownQueuePairs: () => [...this.queuePairs],
      readCsts: () => this.mmio.read32(REG_CSTS),
      disable: () => this.disable(),
      enable: () => this.enable(),
      setNumberOfQueues: async () => {
        const n = this.region.dv.getUint32(CTRL_MAX_QUEUE_PAIRS, true);
        await this.setFeature(FeatureId.NumberOfQueues, ((n - 1) << NQ_NCQ_SHIFT) | ((n - 1) << NQ_NSQ_SHIFT));
        // The reset forgot the shadow doorbell pages (5.10): give them again, from zero.
        const db = this.region.dv.getUint32(HDR_SHADOW_DB, true);
        if (db !== 0) {
          this.region.u8.fill(0, db, db + 2 * PAGE_SIZE);
          try {
            await this.admin.run(AdminOpc.DoorbellBufferConfig, 'Doorbell Buffer Config', () =>
              this.core.submitRaw(this.admin.desc, AdminOpc.DoorbellBufferConfig, 0, db, 2 * PAGE_SIZE, 0, 0, 0, 0, 0, 0));
          } catch {
            this.region.dv.setUint32(HDR_SHADOW_DB, 0, true); // refused now: plain doorbells for everyone
          }
        }
      },
      refreshDoorbells: () => useShadowDoorbells(this.region, this.core, this.doorbellStride),
      createQueues: (qp) => this.createIoQueues(qp.qid, qp.depth, this.region.dv.getUint32(qp.desc + QP_CQ, true), this.region.dv.getUint32(qp.desc + QP_SQ, true)),
      failForever: (err) => {
        this.failEverything(err);
        this.events.emit(err.reason === 'removed' ? 'removed' : 'failed', err);
        if (err.reason === 'removed') this.notifyGroup('deviceRemoved', { reason: err.reason, message: err.message });
      },
      resetDone: (info) => {
        if (this.primary && this.shmId !== undefined) this.armAsyncEvents();
        this.events.emit('reset', info);
        if (info.ranHere) this.notifyGroup('resetDone', { reason: info.reason, generation: info.generation, resets: this.resets.count });
      },
    };
  }

  /**
   * Reset the controller (CC.EN 1 -> 0 -> 1, 7.3.2) for the whole group:
   * commands in flight anywhere end with ControllerResetError, and every
   * member gets its I/O queue pairs back (same objects, same queue ids).
   * Resolves when this process's queues are back; rejects with
   * ControllerError ('reset-failed' or 'removed') if the controller did not
   * come back.
   */
  reset(): Promise<void> {
    this.assertOpen();
    return this.resets.reset('requested');
  }

  /** Controller resets completed in this group since it was created. */
  get resetCount(): number {
    return this.resets.count;
  }

  /**
   * A command passed its deadline (QueuePair.checkTimeouts). An I/O command
   * is aborted (5.1); if it is still outstanding one timeout after the
   * Abort completed (or the Abort failed), the controller is reset. An admin
   * command leads to a reset at once: an Abort would queue behind it.
   */
  private commandTimedOut(qp: QueuePair, cid: number, opcode: number, timeoutMs: number): void {
    this.events.emit('timeout', { qid: qp.qid, cid, opcode });
    if (qp.qid === 0 || this.resets.busy) {
      void this.resets.reset('timeout').catch(() => {});
      return;
    }
    const limit = Math.max(1, timeoutMs); // the command's own timeout, again, for the Abort to take effect
    const escalate = async (): Promise<void> => {
      try {
        await this.abort(qp.qid, cid);
      } catch {
        /* the Abort failed or timed out: wait below, then reset */
      }
      const end = performance.now() + limit;
      while (qp.isWaitingFor(cid) && performance.now() < end && !qp.isClosed) await new Promise((r) => setTimeout(r, 1));
      if (qp.isWaitingFor(cid) && !qp.isClosed) await this.resets.reset('timeout');
    };
    void escalate().catch(() => {});
  }

  private checkPrimary(): void {
    if (this.primary) return;
    if (this.group.claimPrimary()) {
      this.primary = true;
      this.events.emit('primary', this.group.self);
      this.notifyGroup('primaryMoved', { slot: this.group.self, pid: process.pid });
      this.armAsyncEvents();
    }
  }

  /** Keep CTRL_AER_WANTED Asynchronous Event Requests outstanding (primary duty). */
  private armAsyncEvents(): void {
    if (!this.primary || this.closed) return;
    const wanted = this.region.dv.getUint32(CTRL_AER_WANTED, true);
    const armed = this.group.withLock(() => this.core.qpCountOpcode(this.admin.desc, AdminOpc.AsyncEventRequest));
    for (let i = armed; i < wanted; i++) {
      this.asyncEventRequest().then(() => this.armAsyncEvents(), () => {});
    }
  }

  private async leaveGroup(): Promise<void> {
    this.group.leave(this.admin.desc);
  }

  // ---- registers ----

  readRegisters(): Registers {
    const m = this.mmio;
    return {
      cap: BigInt(m.read32(REG_CAP)) | (BigInt(m.read32(REG_CAP_HI)) << 32n),
      vs: m.read32(REG_VS),
      cc: m.read32(REG_CC),
      csts: m.read32(REG_CSTS),
    };
  }

  /** False if the controller reports a fatal status or reads as removed. */
  isAlive(): boolean {
    try {
      this.checkAlive();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The check every queue pair's poller runs every few ms: on a dead
   * controller, every queue pair fails its commands with the same
   * ControllerError (nothing waits for a timeout).
   */
  private readonly watchdog = (): void => {
    const csts = this.mmio.read32(REG_CSTS);
    if (csts === 0xffffffff) {
      const err = this.removedError();
      if (!this.admin.isClosed) {
        this.failEverything(err);
        this.events.emit('removed', err);
        this.notifyGroup('deviceRemoved', { reason: 'removed', message: err.message });
      }
      throw err;
    }
    // CSTS.CFS, or a reset another member started: recovery, not failure.
    this.resets.poll(csts);
  };

  private failEverything(err: Error): void {
    this.admin.failAll(err);
    for (const qp of this.queuePairs) qp.failAll(err);
  }

  /** What every path that finds BAR0 reading all ones reports. */
  private removedError(): ControllerError {
    return new ControllerError(`${this.transport.description}: registers read all ones (device removed?)`, 'removed');
  }

  /** Throw if the controller reports a fatal status or reads as removed. */
  checkAlive(): void {
    const csts = this.mmio.read32(REG_CSTS);
    if (csts === 0xffffffff) throw this.removedError();
    if (regField(csts, CSTS_CFS_SHIFT, CSTS_CFS_MASK)) throw new ControllerError(`${this.transport.description}: controller fatal status (CSTS.CFS)`, 'fatal');
  }

  private createAdminQueue(): AdminQueue {
    const depth = this.options.adminQueueDepth;
    const nslots = depth - 1;
    const prpPages = this.core.prpPagesFor(ADMIN_MAX_XFER);
    const owner = GROUP_OWNER; // the admin queue outlives any one process
    const sq = this.region.allocDma(depth * SQE_SIZE, { zero: true, owner, contiguous: true });
    const cq = this.region.allocDma(depth * CQE_SIZE, { zero: true, owner, contiguous: true });
    const desc = this.region.allocDma(qpDescriptorSize(nslots), { zero: true, owner });
    const prp = this.region.allocDma(nslots * prpPages * PAGE_SIZE, { owner });
    const st = this.core.qpInit(desc.regionOffset, 0, depth, sq.regionOffset, cq.regionOffset, this.doorbellStride, nslots,
      QP_ADMIN_OWNER_BITS, prp.regionOffset, prpPages, ADMIN_MAX_XFER, GROUP_OWNER);
    if (st !== CoreStatus.Ok) throw new Error(`qpInit(admin) failed: ${CoreStatus[st]}`);
    this.region.dv.setUint32(CTRL_ADMIN_QP, desc.regionOffset, true);
    return new AdminQueue(this.region, this.group, {
      core: this.core, memory: this.region.layout.memory, regionOff: this.region.layout.regionOff, qid: 0, depth, nslots, desc: desc.regionOffset,
      maxTransfer: ADMIN_MAX_XFER, timeoutMs: this.options.commandTimeoutMs, checkAlive: this.watchdog, onTimeout: this.onTimeout,
    }, sq, cq);
  }

  /** A secondary uses the admin queue the primary made. */
  private attachAdminQueue(): AdminQueue {
    const desc = this.region.dv.getUint32(CTRL_ADMIN_QP, true);
    const depth = this.region.dv.getUint32(desc + QP_QSIZE, true);
    return new AdminQueue(this.region, this.group, {
      core: this.core, memory: this.region.layout.memory, regionOff: this.region.layout.regionOff, qid: 0, depth, nslots: depth - 1,
      desc, maxTransfer: ADMIN_MAX_XFER, timeoutMs: this.options.commandTimeoutMs, checkAlive: this.watchdog, onTimeout: this.onTimeout,
    }, undefined, undefined);
  }

  /**
   * Controller initialisation, NVMe 1.4 section 7.6.1:
   * 1. wait for CSTS.RDY = 0 after clearing CC.EN (reset), 2. set up the
   * admin queue (AQA, ASQ, ACQ), 3. configure and enable (CC), 4. wait for
   * CSTS.RDY = 1, 5. Identify Controller, 6. Number of Queues, 7. Identify
   * the active namespaces. Skipped: interrupts (we poll), Keep Alive (not
   * needed on PCIe), Asynchronous Event Requests (armed by the
   * multi-process work, where events go to every process).
   */
  private async initialise(): Promise<void> {
    const m = this.mmio;
    const capLo = m.read32(REG_CAP);
    const capHi = m.read32(REG_CAP_HI);
    if (capLo === 0xffffffff && capHi === 0xffffffff) throw new ControllerError('registers read all ones: no device', 'removed');
    if (!(regField(capHi, CAP_CSS_SHIFT, CAP_CSS_MASK) & CAP_CSS_NVM)) throw new ControllerError('controller lacks the NVM command set (CAP.CSS)', 'unsupported');
    if (regField(capHi, CAP_MPSMIN_SHIFT, CAP_MPSMIN_MASK) !== 0) {
      throw new ControllerError(`controller needs pages of ${2 ** (12 + regField(capHi, CAP_MPSMIN_SHIFT, CAP_MPSMIN_MASK))} bytes; this driver uses 4 KiB (CAP.MPSMIN)`, 'unsupported');
    }
    if (!regField(capLo, CAP_CQR_SHIFT, CAP_CQR_MASK)) { /* contiguous queues are all we make anyway */ }

    // 7.6.1 step 1: reset. The controller may still be enabled from a previous user.
    await this.disable();

    // Steps 2 to 4.
    await this.enable();

    // Step 5: Identify Controller (5.15.2.2).
    this.data = parseControllerData(await this.identifyRaw(Cns.Controller, 0));
    const mdtsBytes = this.data.mdts === 0 ? Infinity : 2 ** this.data.mdts * PAGE_SIZE;
    this.maxTransfer = Math.min(mdtsBytes, this.options.maxTransferBytes);

    // Step 6: Number of Queues (5.21.1.7), 0's based both ways.
    const want = Math.min(this.options.requestedQueuePairs, 0xfffe);
    const dw0 = await this.setFeature(FeatureId.NumberOfQueues, ((want - 1) << NQ_NCQ_SHIFT) | ((want - 1) << NQ_NSQ_SHIFT));
    const nsqa = ((dw0 >>> NQ_NSQ_SHIFT) & NQ_MASK) + 1;
    const ncqa = ((dw0 >>> NQ_NCQ_SHIFT) & NQ_MASK) + 1;
    this.maxQueuePairs = Math.min(nsqa, ncqa, want);

    // Shadow doorbells (5.10) before any I/O queue exists.
    if (this.options.shadowDoorbells) {
      await configureShadowDoorbells(this.region, this.core, this.admin, this.data.oacs, this.maxQueuePairs, this.doorbellStride);
    }

    // Step 7: active namespaces (CNS 02h), then each one's data (CNS 00h).
    await this.rescanNamespaces();
  }

  /**
   * 7.6.1 steps 2 to 4 (also after every reset): admin queue registers, then
   * CC.EN = 1, then CSTS.RDY = 1 within CAP.TO.
   */
  private async enable(): Promise<void> {
    const m = this.mmio;
    // Step 2: admin queue attributes and bases (3.1.8 - 3.1.10). Writing the
    // low dword of ASQ/ACQ first then the high dword, as 32-bit accesses.
    const depth = this.admin.depth;
    m.write32(REG_AQA, ((depth - 1) << AQA_ACQS_SHIFT) | ((depth - 1) << AQA_ASQS_SHIFT));
    const asq = this.core.dmaAddrOf(this.region.dv.getUint32(this.admin.desc + QP_SQ, true));
    const acq = this.core.dmaAddrOf(this.region.dv.getUint32(this.admin.desc + QP_CQ, true));
    m.write32(REG_ASQ, Number(asq & 0xffffffffn));
    m.write32(REG_ASQ_HI, Number(asq >> 32n));
    m.write32(REG_ACQ, Number(acq & 0xffffffffn));
    m.write32(REG_ACQ_HI, Number(acq >> 32n));

    // Step 3: NVM command set, 4 KiB pages, round robin, 64/16-byte entries,
    // enable. Written after the admin registers: EN makes the controller read them.
    const cc = (CC_CSS_NVM << CC_CSS_SHIFT) | (0 << CC_MPS_SHIFT) | (CC_AMS_RR << CC_AMS_SHIFT) |
      (SQES_LOG2 << CC_IOSQES_SHIFT) | (CQES_LOG2 << CC_IOCQES_SHIFT) | (1 << CC_EN_SHIFT);
    m.write32(REG_CC, cc);

    // Step 4: CSTS.RDY within CAP.TO (3.1.1), failing early on CSTS.CFS.
    await waitFor(() => regField(m.read32(REG_CSTS), CSTS_RDY_SHIFT, CSTS_RDY_MASK) === 1, this.readyTimeoutMs,
      `${this.transport.description}: waiting for CSTS.RDY = 1 after CC.EN = 1 (CAP.TO)`, () => this.checkAlive());
  }

  /** Clear CC.EN and wait for CSTS.RDY = 0 (a controller reset, 3.1.5 / 7.3.2). */
  private async disable(): Promise<void> {
    const m = this.mmio;
    const cc = m.read32(REG_CC);
    if (cc & (1 << CC_EN_SHIFT)) m.write32(REG_CC, cc & ~(1 << CC_EN_SHIFT));
    await waitFor(() => regField(m.read32(REG_CSTS), CSTS_RDY_SHIFT, CSTS_RDY_MASK) === 0, this.readyTimeoutMs,
      `${this.transport.description}: waiting for CSTS.RDY = 0 after CC.EN = 0 (CAP.TO)`, () => {
        if (m.read32(REG_CSTS) === 0xffffffff) throw this.removedError();
      });
  }

  async rescanNamespaces(): Promise<Namespace[]> {
    const ids = parseNamespaceList(await this.identifyRaw(Cns.ActiveNamespaceList, 0));
    const seen = new Set<number>();
    for (const nsid of ids) {
      seen.add(nsid);
      const data = parseNamespaceData(await this.identifyRaw(Cns.Namespace, nsid));
      const existing = this.namespaces.get(nsid);
      if (existing) existing.update(data);
      else this.namespaces.set(nsid, new Namespace(this, nsid, data));
    }
    for (const nsid of [...this.namespaces.keys()]) if (!seen.has(nsid)) this.namespaces.delete(nsid);
    return [...this.namespaces.values()];
  }

  /** The namespace `nsid`, or an InvalidArgumentError listing the active ones. */
  namespace(nsid = 1): Namespace {
    const ns = this.namespaces.get(nsid);
    if (!ns) throw new InvalidArgumentError('nsid', `an active namespace (${[...this.namespaces.keys()].join(', ') || 'none'})`, nsid);
    return ns;
  }

  // ---- admin commands ----

  /** Identify (5.15) into a fresh Buffer. */
  async identifyRaw(cns: number, nsid: number, cntid = 0): Promise<Buffer> {
    return this.admin.withData(IDENTIFY_DATA_SIZE, AdminOpc.Identify, `Identify CNS ${cns}`, (buf) =>
      this.core.submitIdentify(this.admin.desc, cns, nsid, cntid, buf.regionOffset));
  }

  async identifyController(): Promise<ControllerData> {
    this.data = parseControllerData(await this.identifyRaw(Cns.Controller, 0));
    return this.data;
  }

  /** Get Features (5.13): the completion's dword 0. */
  async getFeature(fid: number, opts: { sel?: number; nsid?: number; cdw11?: number } = {}): Promise<number> {
    checkInt('fid', fid, 0, 255);
    const sel = checkInt('sel', opts.sel ?? 0, 0, 3);
    return this.admin.run(AdminOpc.GetFeatures, `Get Features 0x${fid.toString(16)}`, () =>
      this.core.submitGetFeatures(this.admin.desc, fid, sel, opts.nsid ?? 0, opts.cdw11 ?? 0, 0, 0));
  }

  /** Set Features (5.21): the completion's dword 0. */
  async setFeature(fid: number, cdw11: number, opts: { save?: boolean; nsid?: number; cdw12?: number } = {}): Promise<number> {
    checkInt('fid', fid, 0, 255);
    checkInt('cdw11', cdw11, 0, 0xffffffff);
    return this.admin.run(AdminOpc.SetFeatures, `Set Features 0x${fid.toString(16)}`, () =>
      this.core.submitSetFeatures(this.admin.desc, fid, opts.save ? 1 : 0, opts.nsid ?? 0, cdw11 >>> 0, opts.cdw12 ?? 0, 0, 0));
  }

  /** Get Log Page (5.14): `length` bytes from byte `offset`, split by the transfer limit. */
  async getLogPage(lid: number, length: number, opts: { nsid?: number; offset?: number; lsp?: number; rae?: boolean } = {}): Promise<Buffer> {
    checkInt('lid', lid, 0, 255);
    checkInt('length', length, 4, 16 * 1024 * 1024);
    if (length % 4) throw new InvalidArgumentError('length', 'a multiple of 4 bytes', length);
    const offset = checkInt('offset', opts.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
    if (offset % 4) throw new InvalidArgumentError('offset', 'a multiple of 4 bytes', offset);
    const chunk = Math.min(this.admin.maxTransfer, this.maxTransfer || ADMIN_MAX_XFER);
    const parts: Buffer[] = [];
    for (let done = 0; done < length; done += chunk) {
      const n = Math.min(chunk, length - done);
      parts.push(await this.admin.withData(n, AdminOpc.GetLogPage, `Get Log Page 0x${lid.toString(16)}`, (buf) =>
        this.core.submitGetLogPage(this.admin.desc, lid, opts.nsid ?? 0xffffffff, opts.lsp ?? 0, opts.rae ? 1 : 0, offset + done, buf.regionOffset, n)));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async smartLog(nsid = 0xffffffff): Promise<SmartLog> {
    return parseSmartLog(await this.getLogPage(LogId.SmartHealth, SMART_LOG_SIZE, { nsid }));
  }

  async errorLog(entries = this.data.errorLogPageEntries): Promise<ErrorLogEntry[]> {
    checkInt('entries', entries, 1, 256);
    return parseErrorLog(await this.getLogPage(LogId.ErrorInformation, entries * ERRLOG_ENTRY_SIZE));
  }

  async firmwareSlotLog(): Promise<FirmwareSlotLog> {
    return parseFirmwareSlotLog(await this.getLogPage(LogId.FirmwareSlot, FWSLOT_LOG_SIZE));
  }

  /** Abort (5.1) command `cid` of queue `sqid`. Resolves true if the controller aborted it. */
  async abort(sqid: number, cid: number): Promise<boolean> {
    checkInt('sqid', sqid, 0, 65535);
    checkInt('cid', cid, 0, 65535);
    const dw0 = await this.admin.run(AdminOpc.Abort, 'Abort', () => this.core.submitAbort(this.admin.desc, sqid, cid));
    return (dw0 & ABORT_NOT_ABORTED) === 0;
  }

  /** Asynchronous Event Request (5.2): resolves with dword 0 when the controller reports an event. */
  asyncEventRequest(): Promise<number> {
    return this.admin.run(AdminOpc.AsyncEventRequest, 'Asynchronous Event Request', () =>
      this.core.submitAsyncEventRequest(this.admin.desc), undefined, { timeoutMs: 0, background: true });
  }

  /**
   * An admin command with the given fields (passthrough, like nvme-cli's
   * admin-passthru). `data` (if any) is copied to and from a DMA buffer.
   */
  async adminCommand(cmd: { opcode: number; nsid?: number; cdw10?: number; cdw11?: number; cdw12?: number; cdw13?: number; cdw14?: number; cdw15?: number; data?: Uint8Array; timeoutMs?: number }): Promise<{ dw0: number; data?: Uint8Array }> {
    checkInt('opcode', cmd.opcode, 0, 255);
    const c = (k: string, v: number | undefined) => checkInt(k, v ?? 0, 0, 0xffffffff) >>> 0;
    const fields = [c('cdw10', cmd.cdw10), c('cdw11', cmd.cdw11), c('cdw12', cmd.cdw12), c('cdw13', cmd.cdw13), c('cdw14', cmd.cdw14), c('cdw15', cmd.cdw15)] as const;
    const nsid = c('nsid', cmd.nsid);
    const data = cmd.data;
    if (!data || data.length === 0) {
      const dw0 = await this.admin.run(cmd.opcode, `admin opcode 0x${cmd.opcode.toString(16)}`, () =>
        this.core.submitRaw(this.admin.desc, cmd.opcode, nsid, 0, 0, ...fields), undefined, { timeoutMs: cmd.timeoutMs });
      return { dw0 };
    }
    const buf = this.region.allocDma(data.length);
    buf.bytes.set(data);
    const dw0 = await this.admin.run(cmd.opcode, `admin opcode 0x${cmd.opcode.toString(16)}`, () =>
      this.core.submitRaw(this.admin.desc, cmd.opcode, nsid, buf.regionOffset, data.length, ...fields), (err) => {
      if (!err) data.set(buf.bytes);
      buf.free();
    }, { timeoutMs: cmd.timeoutMs });
    return { dw0, data };
  }

  // ---- DMA memory ----

  /** A buffer in the shared region: I/O on it is zero copy. */
  allocDma(bytes: number, opts: { align?: number; zero?: boolean } = {}): DmaBuffer {
    return this.region.allocDma(bytes, opts);
  }

  // ---- I/O queue pairs ----

  /**
   * Create an I/O queue pair (Create I/O Completion Queue 5.3, then Create
   * I/O Submission Queue 5.4) with `depth` entries per ring.
   */
  async createQueuePair(opts: { depth?: number; timeoutMs?: number; stats?: boolean } = {}): Promise<IoQueuePair> {
    this.assertOpen();
    const depth = checkInt('depth', opts.depth ?? Math.min(this.options.ioQueueDepth, this.maxQueueEntries), 2, this.maxQueueEntries);
    await this.resets.settled(); // a reset under way here finishes first
    const resetGen = this.resets.generation;
    const qid = this.group.takeQid();
    const nslots = depth - 1;
    const prpPages = this.core.prpPagesFor(this.maxTransfer);
    const bufs: DmaBuffer[] = [];
    try {
      const sq = this.region.allocDma(depth * SQE_SIZE, { zero: true, contiguous: true });
      bufs.push(sq);
      const cq = this.region.allocDma(depth * CQE_SIZE, { zero: true, contiguous: true });
      bufs.push(cq);
      const desc = this.region.allocDma(qpDescriptorSize(nslots), { zero: true });
      bufs.push(desc);
      const prp = prpPages > 0 ? this.region.allocDma(nslots * prpPages * PAGE_SIZE) : undefined;
      if (prp) bufs.push(prp);
      if (opts.stats !== undefined && typeof opts.stats !== 'boolean') throw new InvalidArgumentError('stats', 'true or false', opts.stats);
      const stats = (opts.stats ?? this.options.stats) ? this.region.allocDma(ST_SIZE, { zero: true }) : undefined;
      if (stats) bufs.push(stats);
      const st = this.core.qpInit(desc.regionOffset, qid, depth, sq.regionOffset, cq.regionOffset, this.doorbellStride, nslots, 0,
        prp?.regionOffset ?? 0, prpPages, this.maxTransfer, 0);
      if (st !== CoreStatus.Ok) throw new Error(`qpInit(qid ${qid}) failed: ${CoreStatus[st]}`);
      if (stats) this.core.qpSetStats(desc.regionOffset, stats.regionOffset); // the core counts into it as it polls
      await this.createIoQueues(qid, depth, cq.regionOffset, sq.regionOffset);
      const qp = new IoQueuePair(this, {
        core: this.core, memory: this.region.layout.memory, regionOff: this.region.layout.regionOff, qid, depth, nslots, desc: desc.regionOffset,
        maxTransfer: this.maxTransfer, timeoutMs: opts.timeoutMs ?? this.options.commandTimeoutMs, checkAlive: this.watchdog,
        onTimeout: this.onTimeout,
        statsOff: stats?.regionOffset, latencySampling: this.options.statsLatencySampling,
      }, bufs);
      qp.onBogus = (b) => this.events.emit('bogusCompletion', b);
      if (this.resets.generation !== resetGen) {
        // A reset came between our Create commands and now: it deleted what they made.
        await this.admin.run(AdminOpc.DeleteIoSq, `Delete I/O SQ ${qid}`, () => this.core.submitDeleteIoSq(this.admin.desc, qid)).catch(() => {});
        await this.admin.run(AdminOpc.DeleteIoCq, `Delete I/O CQ ${qid}`, () => this.core.submitDeleteIoCq(this.admin.desc, qid)).catch(() => {});
        throw new ControllerResetError(this.resets.lastReason, this.resets.generation);
      }
      if (stats) publishStatsBlock(this.region.dv, stats.regionOffset, qid, this.group.self, desc.regionOffset);
      this.queuePairs.add(qp);
      return qp;
    } catch (e) {
      for (const b of bufs) b.free();
      this.group.releaseQid(qid);
      throw e;
    }
  }

  /** Create I/O Completion Queue (5.3), then the Submission Queue bound to it (5.4); undo the CQ if the SQ fails. */
  private async createIoQueues(qid: number, depth: number, cqOff: number, sqOff: number): Promise<void> {
    await this.admin.run(AdminOpc.CreateIoCq, `Create I/O CQ ${qid}`, () =>
      this.core.submitCreateIoCq(this.admin.desc, qid, depth, cqOff, 0, 0));
    try {
      await this.admin.run(AdminOpc.CreateIoSq, `Create I/O SQ ${qid}`, () =>
        this.core.submitCreateIoSq(this.admin.desc, qid, depth, sqOff, qid, 0));
    } catch (e) {
      await this.admin.run(AdminOpc.DeleteIoCq, `Delete I/O CQ ${qid}`, () => this.core.submitDeleteIoCq(this.admin.desc, qid)).catch(() => {});
      throw e;
    }
  }

  private readonly onTimeout = (qp: QueuePair, cid: number, opcode: number, timeoutMs: number): void => this.commandTimedOut(qp, cid, opcode, timeoutMs);

  /**
   * Delete an I/O queue pair: wait (bounded) for its commands, Delete I/O SQ
   * (5.6) then Delete I/O CQ (5.5) (the SQ must go first), free its memory.
   */
  async deleteQueuePair(qp: IoQueuePair, drainMs = 5000): Promise<void> {
    if (!this.queuePairs.has(qp)) return;
    this.queuePairs.delete(qp);
    const end = performance.now() + drainMs;
    while (qp.outstanding > 0 && performance.now() < end && !qp.isClosed) {
      qp.processCompletions();
      await new Promise((r) => setImmediate(r));
    }
    if (!this.admin.isClosed && this.isAlive()) {
      await this.admin.run(AdminOpc.DeleteIoSq, `Delete I/O SQ ${qp.qid}`, () => this.core.submitDeleteIoSq(this.admin.desc, qp.qid));
      // Commands the SQ deletion aborted complete on the CQ: reap them.
      qp.processCompletions();
      await this.admin.run(AdminOpc.DeleteIoCq, `Delete I/O CQ ${qp.qid}`, () => this.core.submitDeleteIoCq(this.admin.desc, qp.qid));
    }
    qp.failAll(new ControllerError(`queue pair ${qp.qid} was deleted`, 'closed'));
    qp.releaseMemory();
    this.group.releaseQid(qp.qid);
    if (this.defaultQp && (await this.defaultQp.catch(() => undefined)) === qp) this.defaultQp = undefined;
  }

  /** The queue pair Namespace methods use when none is given (created on first use). */
  defaultQueuePair(): Promise<IoQueuePair> {
    this.assertOpen();
    if (!this.defaultQp) {
      this.defaultQp = this.createQueuePair();
      this.defaultQp.catch(() => {
        this.defaultQp = undefined;
      });
    }
    return this.defaultQp;
  }

  get ioQueuePairs(): IoQueuePair[] {
    return [...this.queuePairs];
  }

  private assertOpen(): void {
    if (this.closed) throw new ControllerError(`${this.transport.description} is closed`, 'closed');
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Are shadow doorbells on (Doorbell Buffer Config accepted)? */
  get shadowDoorbells(): boolean {
    return this.region.dv.getUint32(HDR_SHADOW_DB, true) !== 0;
  }

  /** MMIO doorbell writes this process skipped thanks to shadow doorbells. */
  get doorbellWritesSkipped(): number {
    return this.core.doorbellsSkipped();
  }

  get version(): string {
    return versionString(this.mmio.read32(REG_VS));
  }

  /**
   * Shut down (7.6.2): delete every I/O queue pair, set CC.SHN = 01b, wait
   * for CSTS.SHST = 10b, then detach from the device.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    let firstError: unknown;
    try {
      // A reset under way finishes first (bounded by CAP.TO): its last steps recreate queues we are about to delete.
      await this.resets.settled();
      for (const qp of [...this.queuePairs]) {
        await this.deleteQueuePair(qp).catch((e) => {
          firstError ??= e;
        });
      }
      await this.cleanup.catch(() => {});
      // The last member shuts the controller down and removes the group's
      // file; others just leave.
      const last = this.group.closeIfLast();
      if (last && this.shmId !== undefined) fs.rmSync(this.region.file.path, { force: true });
      if (last && this.isAlive()) {
        const m = this.mmio;
        const cc = m.read32(REG_CC);
        m.write32(REG_CC, (cc & ~(CC_SHN_MASK << CC_SHN_SHIFT)) | (CC_SHN_NORMAL << CC_SHN_SHIFT));
        await waitFor(() => regField(m.read32(REG_CSTS), CSTS_SHST_SHIFT, CSTS_SHST_MASK) === CSTS_SHST_COMPLETE,
          Math.max(this.readyTimeoutMs, 5000), `${this.transport.description}: waiting for CSTS.SHST = complete after CC.SHN`);
      }
    } catch (e) {
      firstError ??= e;
    } finally {
      this.admin.failAll(new ControllerError(`${this.transport.description} is closed`, 'closed'));
      this.mp.close();
      try {
        await this.leaveGroup();
      } catch (e) {
        firstError ??= e;
      }
      this.region.close(false);
      await this.transport.close();
      this.region.unmap(); // after the device is detached: nothing can DMA into the window any more
    }
    if (firstError) throw firstError;
  }

}
