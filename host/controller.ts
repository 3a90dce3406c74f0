// The controller, as a program holds it: its state, events, namespaces and
// close. The work is done by the pieces it ties together:
//   bring-up.ts, join.ts       a new region (primary, private) or joining a group
//   init-sequence.ts           the spec's register sequences (7.6.1, 7.6.2, 7.3.2)
//   admin-commands.ts          the admin command builders (chapter 5)
//   queue-pairs.ts             the I/O queue pair lifecycle
//   group-duties.ts            watchdog, dead members, primary takeover, AERs
//   reset.ts, recovery.ts      controller reset for the group; timeout escalation
//   liveness.ts                CSTS: removed or fatal
import { REG_CAP, REG_CAP_HI, REG_VS, REG_CSTS, REG_ALL_ONES, CAP_MQES_SHIFT, CAP_MQES_MASK, CAP_TO_SHIFT, CAP_TO_MASK, CAP_TO_UNIT_MS, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK, PAGE_SIZE, regField } from '../assembly/nvme/regs.js';
import { Cns } from '../assembly/nvme/cmd.js';
import { RegionState } from '../assembly/abi/region.js';
import type { Mmio } from '../hal/index.js';
import type { CoreExports } from './core.js';
import { createRegionFile, type Region } from './region.js';
import type { Group } from './group.js';
import fs from 'node:fs';
import path from 'node:path';
import { checkPcieDevice, type Transport } from './transport.js';
import { parseTransportId } from './trid.js';
import type { IoQueuePair } from './io-qpair.js';
import { createAdminQueue, attachAdminQueue, type AdminQueue } from './admin.js';
import { QpDescriptor } from './layout/qp-descriptor.js';
import { AdminCommands } from './admin-commands.js';
import { Namespace } from './namespace.js';
import type { DmaBuffer } from './dma.js';
import { parseControllerData, parseNamespaceData, parseNamespaceList, versionString } from './identify.js';
import { ControllerError, ControllerResetError, InvalidArgumentError } from './errors.js';
import { GroupReset, type ResetHost } from './reset.js';
import { ControllerAdminApi } from './controller-admin.js';
import { checkInt } from './validate.js';
import { Messaging, groupSocketDir } from './mp/messaging.js';
import { asyncEventDetail, type NotificationKind } from './mp/notify.js';
import { sendNotification, listenNotifications } from './notifications.js';
import { readGroupStats, type GroupStats } from './stats.js';
import { resolveOptions, fitTransport, type ControllerOptions, type ResolvedOptions } from './controller-options.js';
import { bringUp, type Attachment } from './bring-up.js';
import { openGroup } from './join.js';
import { initialiseController, shutdown, readRegisters, type ControllerRegisters, type Registers } from './init-sequence.js';
import { configureShadowDoorbells, useShadowDoorbells } from './shadow-doorbells.js';
import { IoQueuePairs, type QueuePairOptions } from './queue-pairs.js';
import { GroupDuties } from './group-duties.js';
import { timeoutEscalation } from './recovery.js';
import { checkAlive, isAlive, removedError } from './liveness.js';

export type { ControllerOptions } from './controller-options.js';
export type { Registers } from './init-sequence.js';

/** Linux's nvme io_timeout: the floor of the default command timeout. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** How often a joining member checks its device is alive until its duties take over. */
const JOIN_LIVENESS_MS = 50;
/** Resets the join's own commands (Identify) may run into before open() gives up with ControllerResetError. */
const JOIN_RESET_ATTEMPTS = 10;

export class Controller extends ControllerAdminApi {
  readonly transport: Transport;
  readonly region: Region;
  readonly core: CoreExports;
  readonly mmio: Mmio;
  readonly admin: AdminQueue;
  /** The admin command builders (chapter 5) over the shared admin queue. */
  readonly commands: AdminCommands;
  /** CAP.MQES + 1: the most entries an I/O queue may have. */
  readonly maxQueueEntries: number;
  /** CAP.DSTRD */
  readonly doorbellStride: number;
  /** CAP.TO in ms: the bound on every enable/disable wait. */
  readonly readyTimeoutMs: number;
  /** I/O queue pairs the controller granted (Number of Queues). */
  maxQueuePairs = 0;
  readonly namespaces = new Map<number, Namespace>();
  readonly options: ResolvedOptions;
  /** This process's place in its group (a private driver is a group of one). */
  readonly group: Group;
  /** The group's shared-memory id, or undefined for a private driver. */
  readonly shmId: number | undefined;
  /**
   * Messages between the processes of the group (DPDK rte_mp model):
   * register/unregister/send/request/requestAsync. See docs/messaging.md.
   */
  readonly mp: Messaging;
  private readonly regs: ControllerRegisters;
  private readonly resets!: GroupReset;
  private readonly queues: IoQueuePairs;
  private readonly duties: GroupDuties;
  private closed: Promise<void> | undefined;

  private constructor(a: Attachment, options: ResolvedOptions, shmId: number | undefined) {
    super();
    const { transport, region, core, mmio, group } = a;
    this.transport = transport;
    this.region = region;
    this.core = core;
    this.mmio = mmio;
    this.options = options;
    this.group = group;
    this.shmId = shmId;
    const capLo = mmio.read32(REG_CAP);
    const capHi = mmio.read32(REG_CAP_HI);
    this.maxQueueEntries = regField(capLo, CAP_MQES_SHIFT, CAP_MQES_MASK) + 1;
    this.doorbellStride = regField(capHi, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK);
    this.readyTimeoutMs = Math.max(1, regField(capLo, CAP_TO_SHIFT, CAP_TO_MASK)) * CAP_TO_UNIT_MS;
    if (options.commandTimeoutMs < 0) options.commandTimeoutMs = Math.max(DEFAULT_COMMAND_TIMEOUT_MS, 2 * this.readyTimeoutMs);
    const deviceGone = (): boolean => {
      try {
        return transport.alive?.() === false;
      } catch {
        return false; // the transport is closed: not known to be gone
      }
    };
    this.regs = { mmio, description: transport.description, readyTimeoutMs: this.readyTimeoutMs, deviceGone };
    const onTimeout = timeoutEscalation({
      timedOut: (t) => this.emit('timeout', t),
      abort: (sqid, cid) => this.abort(sqid, cid),
      resetBusy: () => this.resets.busy,
      reset: (reason) => this.resets.reset(reason),
    });
    const fabric = transport.fabric;
    const adminInit = { core, region: region.u8, timeoutMs: options.commandTimeoutMs, checkAlive: this.watchdog, onTimeout, ...(fabric ? { wire: fabric.wire(0) } : {}) };
    this.admin = a.primary ? createAdminQueue(region, group, options.adminQueueDepth, this.doorbellStride, adminInit) : attachAdminQueue(region, group, adminInit);
    if (fabric) {
      fabric.bindQueue(0, this.admin.desc);
      fabric.onEvent = (e) => this.emit(e.kind, e);
    }
    this.commands = new AdminCommands(this.admin, core, (n, o) => region.allocDma(n, o));
    const resets = new GroupReset(this.resetHost());
    this.resets = resets;
    this.admin.holdSubmissions = () => resets.holdsAdmin();
    this.mp = new Messaging(group, shmId !== undefined ? groupSocketDir(path.basename(region.file.path, '.region')) : undefined);
    this.queues = new IoQueuePairs({
      region, core, group, commands: this.commands, resets, options, maxQueueEntries: this.maxQueueEntries,
      doorbellStride: this.doorbellStride, maxTransfer: () => this.maxTransfer, checkAlive: this.watchdog, onTimeout,
      onBogus: (b) => this.emit('bogusCompletion', b), isAlive: () => this.isAlive(), assertOpen: () => this.assertOpen(),
      ...(fabric ? { fabric } : {}),
      ...(transport.interrupts ? { interrupts: transport.interrupts } : {}),
    });
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    this.duties = new GroupDuties({
      region, core, group, admin: this.admin, commands: this.commands, shared: shmId !== undefined,
      get isClosed() { return self.closed !== undefined; },
      isAlive: () => this.isAlive(),
      checkAlive: () => {
        this.watchdog();
        this.checkDevice();
      },
      checkTimeouts: (now) => this.queues.checkTimeouts(now),
      becamePrimary: () => {
        this.emit('primary', group.self);
        this.notifyGroup('primaryMoved', { slot: group.self, pid: process.pid });
      },
      memberCleaned: (slot) => {
        this.emit('memberCleaned', slot);
        this.mp.removeStale(); // its socket file, if it died with one
      },
    }, a.primary);
    this.admin.onEvent = (dw0) => {
      this.emit('asyncEvent', dw0);
      if (this.duties.isPrimary) this.notifyGroup('asyncEvent', asyncEventDetail(dw0));
    };
    this.admin.onBogus = (b) => this.emit('bogusCompletion', b);
    group.onLockRecovered = () => {
      // The holder died inside the lock: make the admin queue consistent.
      core.qpRecover(this.admin.desc);
      core.qpRing(this.admin.desc);
    };
    region.allocLockRecovery = () => group.recoverAllocLock();
  }

  /**
   * Open a controller. Without `shmId`: a private driver that initialises the
   * device (NVMe 1.4, 7.6.1). With `shmId`: join that group, as primary (the
   * first process: it initialises) or secondary (attaches to what the primary
   * set up); see docs/multi-process.md for the exact rules.
   */
  static async open(opts: ControllerOptions = {}): Promise<Controller> {
    const options = resolveOptions(opts);
    const id = typeof opts.transport === 'object' ? opts.transport : parseTransportId(opts.transport);
    if (id.trtype === 'pcie') {
      // A real device's DMA memory must be hugepages: say what is wrong with the device before asking for them.
      checkPcieDevice(id.traddr);
      if (options.hugepages === 'auto') options.hugepages = 'require';
    }
    fitTransport(options, id, opts.shmId);
    const procType = opts.procType ?? 'auto';
    if (!['auto', 'primary', 'secondary'].includes(procType)) throw new InvalidArgumentError('procType', "'auto', 'primary' or 'secondary'", procType);
    const initialise = (a: Attachment) => Controller.initialisePrimary(a, options, opts.shmId === undefined ? undefined : opts.shmId);
    if (opts.shmId === undefined) {
      if (procType === 'secondary') throw new InvalidArgumentError('procType', "'secondary' only with a shmId (a group to join)", procType);
      const file = createRegionFile(`nvme-wasm-${process.pid}-${Date.now().toString(36)}.region`, options.regionSize, options.hugepages);
      return bringUp(file, id, opts.sim, options, undefined, initialise);
    }
    const shmId = checkInt('shmId', opts.shmId, 0, 0x7fffffff);
    const requested = id.trtype === 'embedded' ? undefined : id;
    return openGroup({ shmId, prefix: opts.filePrefix ?? 'nvme-wasm', procType, options, ...(requested ? { requested } : {}) },
      // A group whose members all died comes back on the device it ran on, unless the caller named one.
      (file, staleDevice) => bringUp(file, requested ?? staleDevice ?? id, opts.sim, options, shmId, initialise),
      (a) => Controller.attachSecondary(a, options, shmId));
  }

  /** The primary's part once its region is up: initialise the controller, publish it, start the duties. */
  private static async initialisePrimary(a: Attachment, options: ResolvedOptions, shmId: number | undefined): Promise<Controller> {
    const ctrl = new Controller(a, options, shmId);
    try {
      await ctrl.initialise();
      ctrl.publish();
      ctrl.start(); // may refuse an unsafe run directory: nothing is left then
    } catch (e) {
      ctrl.mp.close();
      ctrl.admin.failAll(new ControllerError('initialisation failed', 'state'));
      throw e;
    }
    return ctrl;
  }

  /** A secondary's part: limits from the primary, data over the shared admin queue. */
  private static async attachSecondary(a: Attachment, options: ResolvedOptions, shmId: number): Promise<Controller> {
    const ctrl = new Controller(a, options, shmId);
    // The device's liveness (a simulator's process) from the first command on, not from the duties'
    // start after the join: a device that dies meanwhile fails the join's commands with 'removed' at
    // once (the registers of a dead simulator still read as they were: nothing else would notice).
    const watch = setInterval(() => {
      try {
        ctrl.checkDevice();
      } catch {
        /* reported to the commands that wait */
      }
    }, JOIN_LIVENESS_MS);
    try {
      const c = ctrl.region.ctrl;
      ctrl.maxTransfer = c.maxTransfer;
      ctrl.maxQueuePairs = c.maxQueuePairs;
      useShadowDoorbells(ctrl.region, ctrl.core, ctrl.doorbellStride);
      ctrl.checkAlive();
      ctrl.checkDevice();
      // A reset another member runs meanwhile ends these commands (ControllerResetError): wait for it, ask again.
      for (let attempt = 1; ; attempt++) {
        try {
          ctrl.data = parseControllerData(await ctrl.identifyRaw(Cns.Controller, 0));
          await ctrl.rescanNamespaces();
          break;
        } catch (e) {
          if (!(e instanceof ControllerResetError) || attempt >= JOIN_RESET_ATTEMPTS) throw e;
          await ctrl.resets.caughtUp();
        }
      }
      ctrl.start();
    } catch (e) {
      ctrl.mp.close();
      ctrl.group.leave(ctrl.admin.desc);
      throw e;
    } finally {
      clearInterval(watch);
    }
    ctrl.duties.checkPrimary();
    return ctrl;
  }

  /**
   * Controller initialisation, NVMe 1.4 section 7.6.1: steps 1 to 6 in
   * init-sequence.ts, then shadow doorbells (5.10) before any I/O queue
   * exists, then step 7, the active namespaces (CNS 02h, then 00h each).
   */
  private async initialise(): Promise<void> {
    const got = await initialiseController(this.regs, this.adminQueueRegisters(), this.commands, this.options);
    this.data = got.data;
    this.maxTransfer = got.maxTransfer;
    this.maxQueuePairs = got.maxQueuePairs;
    if (this.options.shadowDoorbells) {
      await configureShadowDoorbells(this.region, this.core, this.commands, this.data.oacs, this.maxQueuePairs, this.doorbellStride);
    }
    await this.rescanNamespaces();
  }

  /** The admin rings' device addresses and depth, for the registers (7.6.1 step 2). */
  private adminQueueRegisters(): { depth: number; asq: bigint; acq: bigint } {
    const d = new QpDescriptor(this.region.u8, this.admin.desc);
    return { depth: this.admin.depth, asq: this.core.dmaAddrOf(d.sq), acq: this.core.dmaAddrOf(d.cq) };
  }

  /** What the primary shares with secondaries, in the controller block. */
  private publish(): void {
    const c = this.region.ctrl;
    c.capLo = this.mmio.read32(REG_CAP);
    c.maxTransfer = this.maxTransfer;
    c.maxQueuePairs = this.maxQueuePairs;
    c.doorbellStride = this.doorbellStride;
    c.aerWanted = 1;
    // Last: a secondary that sees Ready sees everything above.
    this.region.hdr.state = RegionState.Ready;
  }

  private start(): void {
    this.mp.start();
    listenNotifications(this.mp, (n) => this.emit('notification', n));
    this.duties.start();
  }

  /** Is this process the group's primary now? */
  get isPrimary(): boolean {
    return this.duties.isPrimary;
  }

  /**
   * Tell the group about a driver event, over the messaging layer (the
   * primary tells every secondary; a secondary tells the primary), where it
   * arrives as a 'notification' event. Fire and forget: never throws.
   * Kinds: 'asyncEvent', 'primaryMoved', 'resetDone', 'deviceRemoved'.
   */
  notifyGroup(kind: NotificationKind, detail: Record<string, unknown> = {}): void {
    if (this.shmId !== undefined) sendNotification(this.mp, kind, detail);
  }

  /** Live statistics of every member of the group and its I/O queue pairs (read from the shared region, no lock). */
  groupStats(): GroupStats {
    const g = this.group;
    return readGroupStats({ dv: g.region.dv, ctrl: g.region.ctrl, primarySlot: () => g.primarySlot(), liveSlots: () => g.liveSlots(), procPid: (s) => g.procPid(s) });
  }

  /** Start cleaning up after members that died; resolves when all started cleanups are done. */
  reapDead(): Promise<void> {
    return this.duties.reapDead();
  }

  // ---- namespaces ----

  async rescanNamespaces(): Promise<Namespace[]> {
    const ids = parseNamespaceList(await this.identifyRaw(Cns.ActiveNamespaceList, 0));
    const seen = new Set<number>();
    for (const nsid of ids) {
      seen.add(nsid);
      const data = parseNamespaceData(await this.identifyRaw(Cns.Namespace, nsid));
      const existing = this.namespaces.get(nsid);
      if (existing) existing.update(data);
      else this.namespaces.set(nsid, new Namespace(this.namespaceHost, nsid, data));
    }
    for (const nsid of [...this.namespaces.keys()]) if (!seen.has(nsid)) this.namespaces.delete(nsid);
    return [...this.namespaces.values()];
  }

  private readonly namespaceHost = {
    defaultQueuePair: () => this.defaultQueuePair(),
    oncs: () => this.data.oncs,
  };

  /** The namespace `nsid`, or an InvalidArgumentError listing the active ones. */
  namespace(nsid = 1): Namespace {
    const ns = this.namespaces.get(nsid);
    if (!ns) throw new InvalidArgumentError('nsid', `an active namespace (${[...this.namespaces.keys()].join(', ') || 'none'})`, nsid);
    return ns;
  }

  // ---- DMA memory and I/O queue pairs ----

  /** A buffer of `bytes` bytes in the shared region: I/O on it is zero copy. */
  allocDma(
    bytes: number,
    opts: {
      /** Alignment in bytes, a power of two up to 2 MiB. Default 4096. */
      align?: number;
      /** Zero the buffer. Default false. */
      zero?: boolean;
    } = {},
  ): DmaBuffer {
    return this.region.allocDma(bytes, opts);
  }

  /** Create an I/O queue pair (Create I/O CQ 5.3, then SQ 5.4) with `depth` entries per ring. */
  createQueuePair(opts: QueuePairOptions = {}): Promise<IoQueuePair> {
    return this.queues.create(opts);
  }

  /** Delete an I/O queue pair: wait (bounded) for its commands, Delete I/O SQ then CQ, free its memory. */
  deleteQueuePair(qp: IoQueuePair, drainMs = 5000): Promise<void> {
    return this.queues.deleteQueuePair(qp, drainMs);
  }

  /** The queue pair Namespace methods use when none is given (created on first use). */
  defaultQueuePair(): Promise<IoQueuePair> {
    return this.queues.defaultQueuePair();
  }

  get ioQueuePairs(): IoQueuePair[] {
    return this.queues.all;
  }

  /** Are shadow doorbells on (Doorbell Buffer Config accepted)? */
  get shadowDoorbells(): boolean {
    return this.region.hdr.shadowDoorbells !== 0;
  }

  /** MMIO doorbell writes this process skipped thanks to shadow doorbells. */
  get doorbellWritesSkipped(): number {
    return this.core.doorbellsSkipped();
  }

  get version(): string {
    return versionString(this.mmio.read32(REG_VS));
  }

  // ---- resets and liveness ----

  /** What the group reset needs from this controller (host/reset.ts). */
  private resetHost(): ResetHost {
    return {
      region: this.region, group: this.group, core: this.core, admin: this.admin, commands: this.commands, regs: this.regs,
      doorbellStride: this.doorbellStride,
      adminQueueRegisters: () => this.adminQueueRegisters(),
      ownQueuePairs: () => this.queues.all,
      recreateQueues: (qp, current) => this.queues.recreate(qp, current),
      failForever: (err) => {
        this.failEverything(err);
        this.emit(err.reason === 'removed' ? 'removed' : 'failed', err);
        if (err.reason === 'removed') this.notifyGroup('deviceRemoved', { reason: err.reason, message: err.message });
      },
      resetDone: (info) => {
        if (this.shmId !== undefined) this.duties.armAsyncEvents();
        this.emit('reset', info);
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

  /** CAP, VS, CC and CSTS as they read now. */
  readRegisters(): Registers {
    return readRegisters(this.mmio);
  }

  /** False if the controller reports a fatal status or reads as removed (over TCP: also while the association is down). */
  isAlive(): boolean {
    if (this.transport.fabric && !this.transport.fabric.isLive) return false;
    return this.transport.alive?.() !== false && isAlive(this.mmio, this.transport.description);
  }

  /** Throw if the controller reports a fatal status or reads as removed. */
  checkAlive(): void {
    checkAlive(this.mmio, this.transport.description);
  }

  /**
   * The check every queue pair's poller runs every few ms: on a dead
   * controller, every queue pair fails its commands with the same
   * ControllerError (nothing waits for a timeout); CSTS.CFS, or a reset
   * another member started, starts recovery instead.
   */
  private readonly watchdog = (): void => {
    const csts = this.mmio.read32(REG_CSTS);
    if (csts === REG_ALL_ONES) {
      const err = removedError(this.transport.description);
      if (!this.admin.isClosed) {
        this.failEverything(err);
        this.emit('removed', err);
        this.notifyGroup('deviceRemoved', { reason: 'removed', message: err.message });
      }
      throw err;
    }
    this.resets.poll(csts);
  };

  /**
   * A device the registers cannot vouch for (a simulator whose process
   * died): every member that notices fails everything with
   * ControllerError('removed') within one round of its duties (100 ms).
   */
  private checkDevice(): void {
    if (this.transport.alive?.() !== false || this.admin.isClosed) return;
    const err = new ControllerError(`${this.transport.description}: the device is gone (its process exited)`, 'removed');
    this.failEverything(err);
    this.emit('removed', err);
    this.notifyGroup('deviceRemoved', { reason: 'removed', message: err.message });
    throw err;
  }

  private failEverything(err: Error): void {
    this.admin.failAll(err);
    this.queues.failAll(err);
  }

  // ---- close ----

  assertOpen(): void {
    if (this.closed) throw new ControllerError(`${this.transport.description} is closed`, 'closed');
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /**
   * Shut down (7.6.2): delete every I/O queue pair, then the last member of
   * the group sets CC.SHN = 01b and waits for CSTS.SHST = 10b; then detach
   * from the device.
   */
  close(): Promise<void> {
    this.closed ??= this.closeNow();
    return this.closed;
  }

  private async closeNow(): Promise<void> {
    let firstError: unknown;
    let last = false;
    try {
      await this.duties.stop();
      // A reset under way finishes first (bounded by CAP.TO): its last steps recreate queues we are about to delete.
      await this.resets.settled();
      for (const qp of this.queues.all) {
        await this.queues.deleteQueuePair(qp).catch((e) => {
          firstError ??= e;
        });
      }
      // The last member shuts the controller down and removes the group's file; others just leave.
      last = this.group.closeIfLast();
      if (last && this.isAlive()) await shutdown(this.regs);
    } catch (e) {
      firstError ??= e;
    } finally {
      this.admin.failAll(new ControllerError(`${this.transport.description} is closed`, 'closed'));
      await this.mp.flush(); // still a member: what we sent is read as a member's
      this.mp.close();
      try {
        if (this.group.leave(this.admin.desc)) {
          // The last member after all (another one left between our closeIfLast and this): its work is ours.
          last = true;
          if (this.isAlive()) await shutdown(this.regs);
        }
      } catch (e) {
        firstError ??= e;
      }
      this.region.close(false);
      try {
        await this.transport.close();
      } finally {
        // The last member's group file goes only now. Until then it says Closed and we hold it (the
        // mapping holds our flock), so a process joining meanwhile waits (join.ts) instead of starting
        // a new group whose initialisation would enable the controller under our CC.SHN (clearing the
        // CSTS.SHST we wait for) or find the simulator's DMA window still ours. Before the unmap: once
        // we let go of the file, its name may be a new group's.
        if (last && this.shmId !== undefined) fs.rmSync(this.region.file.path, { force: true });
        this.region.unmap(); // after the device is detached: nothing can DMA into the window any more
      }
    }
    if (firstError) throw firstError;
  }
}
