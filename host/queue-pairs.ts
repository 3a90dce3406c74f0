// The I/O queue pair lifecycle of one process (as libvfn writes
// nvme_create_ioqpair and nvme_delete_ioqpair once): a queue id from the
// group's pool, the rings, descriptor, PRP lists and statistics block in the
// region, the core's descriptor, Create I/O CQ then SQ; and back again,
// Delete SQ then CQ, memory and queue id returned. Also the default queue
// pair the Namespace methods use, and recreating every queue after a reset.
import { SQE_SIZE, CQE_SIZE } from '../assembly/nvme/cmd.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import { qpDescriptorSize } from '../assembly/abi/qpair.js';
import { CoreStatus } from '../assembly/abi/status.js';
import type { CoreExports } from './core.js';
import type { Region } from './region.js';
import type { Group } from './group.js';
import type { AdminCommands } from './admin-commands.js';
import type { DmaBuffer } from './dma.js';
import type { BogusCompletion, QueuePairInit, QueueWire } from './qpair-types.js';
import { IoQueuePair, type IoQueuePairHost } from './io-qpair.js';
import { ControllerError, ControllerResetError, InvalidArgumentError, CoreStatusError, type ResetReason } from './errors.js';
import { STATS_BLOCK_SIZE, publishStatsBlock } from './layout/stats-block.js';
import { QpDescriptor } from './layout/qp-descriptor.js';
import { checkInt } from './validate.js';
import { checkCompletionMode, ADAPTIVE_SPIN_US, INTERRUPT_TIMEOUT_MS, type CompletionMode, type InterruptProvider, type InterruptSource } from './interrupts.js';

/** What the lifecycle needs of its controller. */
export interface QueuePairsHost {
  readonly region: Region;
  readonly core: CoreExports;
  readonly group: Group;
  readonly commands: AdminCommands;
  /** The group's reset state: creation waits for a reset here, and notices one that came meanwhile. */
  readonly resets: { caughtUp(): Promise<void>; readonly generation: number; readonly lastReason: ResetReason };
  readonly options: { ioQueueDepth: number; commandTimeoutMs: number; stats: boolean; statsLatencySampling: number | 'auto'; completionMode: CompletionMode };
  /** The transport's interrupt vectors (none: every queue pair polls). */
  readonly interrupts?: InterruptProvider;
  readonly maxQueueEntries: number;
  readonly doorbellStride: number;
  /** Bytes per command, known after Identify. */
  maxTransfer(): number;
  /** The liveness check every poller runs. */
  readonly checkAlive: () => void;
  readonly onTimeout: QueuePairInit['onTimeout'];
  onBogus(b: BogusCompletion): void;
  isAlive(): boolean;
  /** Throws ControllerError('closed') once the controller is closing. */
  assertOpen(): void;
  /** NVMe/TCP: the association playing the device (told each queue's descriptor, giving its wire). */
  readonly fabric?: { bindQueue(qid: number, desc: number): void; wire(qid: number): QueueWire };
}

/** Options of Controller.createQueuePair. */
export interface QueuePairOptions {
  /** Depth in entries per ring, 2 to CAP.MQES + 1. Default: ControllerOptions.ioQueueDepth, capped by CAP.MQES + 1. */
  depth?: number;
  /** Default timeout of its Promise-path commands in milliseconds (0 = none). Default: ControllerOptions.commandTimeoutMs. */
  timeoutMs?: number;
  /** Keep live statistics for it. Default: the controller's `stats`. */
  stats?: boolean;
  /**
   * How its Promise path learns of completions (host/interrupts.ts):
   * 'poll', 'interrupt' or 'adaptive'. Default: ControllerOptions.completionMode.
   * 'interrupt' where this process has no interrupts (uio, NVMe/TCP, a
   * VFIO secondary) is a ControllerError 'unsupported'; 'adaptive' polls there.
   */
  completionMode?: CompletionMode;
  /** 'adaptive': microseconds of empty polls before it sleeps, 0 to 1,000,000. Default 50. */
  adaptiveSpinUs?: number;
  /**
   * 'interrupt' / 'adaptive': longest sleep on the interrupt before the
   * poller looks anyway (deadlines, liveness), 1 to 60,000 ms. Default 20.
   */
  interruptTimeoutMs?: number;
}

/** Attempts of createQueuePair() that resets may end before it gives up with ControllerResetError. */
const CREATE_ATTEMPTS = 10;

export class IoQueuePairs implements IoQueuePairHost {
  private readonly live = new Set<IoQueuePair>();
  private defaultQp: Promise<IoQueuePair> | undefined;

  constructor(private readonly h: QueuePairsHost) {}

  /** This process's I/O queue pairs. */
  get all(): IoQueuePair[] {
    return [...this.live];
  }

  allocDma(bytes: number, opts?: { zero?: boolean }): DmaBuffer {
    return this.h.region.allocDma(bytes, opts);
  }

  /**
   * Create an I/O queue pair (Create I/O Completion Queue 5.3, then Create
   * I/O Submission Queue 5.4) with `depth` entries per ring. A controller
   * reset that comes meanwhile deletes what the attempt made: the attempt
   * is dropped (none of its commands reaches the controller after the reset
   * began), and, once this process has its queues back, made again, up to
   * CREATE_ATTEMPTS times (then ControllerResetError).
   */
  async create(opts: QueuePairOptions = {}): Promise<IoQueuePair> {
    const h = this.h;
    h.assertOpen();
    const depth = checkInt('depth', opts.depth ?? Math.min(h.options.ioQueueDepth, h.maxQueueEntries), 2, h.maxQueueEntries);
    if (opts.stats !== undefined && typeof opts.stats !== 'boolean') throw new InvalidArgumentError('stats', 'true or false', opts.stats);
    const mode = checkCompletionMode('completionMode', opts.completionMode ?? h.options.completionMode);
    const spinUs = checkInt('adaptiveSpinUs', opts.adaptiveSpinUs ?? ADAPTIVE_SPIN_US, 0, 1_000_000);
    const maxSleepMs = checkInt('interruptTimeoutMs', opts.interruptTimeoutMs ?? INTERRUPT_TIMEOUT_MS, 1, 60_000);
    if (mode === 'interrupt' && (h.interrupts === undefined || h.interrupts.unavailable !== undefined)) {
      throw new ControllerError(`completionMode 'interrupt': ${h.interrupts?.unavailable ?? 'this transport has no interrupts'}`, 'unsupported');
    }
    const modes = { mode, spinUs, maxSleepMs };
    for (let attempt = 1; ; attempt++) {
      await h.resets.caughtUp(); // a reset under way (here or, not noticed yet, elsewhere) finishes first
      h.assertOpen();
      try {
        return await this.createOnce(depth, opts, modes);
      } catch (e) {
        if (!(e instanceof ControllerResetError) || attempt >= CREATE_ATTEMPTS) throw e;
      }
    }
  }

  /** One attempt of create(): ControllerResetError if a reset came between its first command and the end. */
  private async createOnce(depth: number, opts: QueuePairOptions, { mode, spinUs, maxSleepMs }: { mode: CompletionMode; spinUs: number; maxSleepMs: number }): Promise<IoQueuePair> {
    const h = this.h;
    const resetGen = h.resets.generation;
    const resetCame = () => new ControllerResetError(h.resets.lastReason, h.resets.generation | 1);
    // Run as each Create command is posted, under the group lock (which a reset takes to begin):
    // a command of this attempt never reaches the controller once a reset began.
    const current = () => {
      if (h.resets.generation !== resetGen) throw resetCame();
    };
    const qid = h.group.takeQid();
    const nslots = depth - 1;
    const maxTransfer = h.maxTransfer();
    const prpPages = h.core.prpPagesFor(maxTransfer);
    const region = h.region;
    const bufs: DmaBuffer[] = [];
    let irq: InterruptSource | undefined;
    const alloc = (bytes: number, o: { zero?: boolean; contiguous?: boolean }) => {
      const b = region.allocDma(bytes, o);
      bufs.push(b);
      return b;
    };
    try {
      const sq = alloc(depth * SQE_SIZE, { zero: true, contiguous: true });
      const cq = alloc(depth * CQE_SIZE, { zero: true, contiguous: true });
      const desc = alloc(qpDescriptorSize(nslots), { zero: true });
      const prp = prpPages > 0 ? alloc(nslots * prpPages * PAGE_SIZE, {}) : undefined;
      const stats = (opts.stats ?? h.options.stats) ? alloc(STATS_BLOCK_SIZE, { zero: true }) : undefined;
      const st = h.core.qpInit(desc.regionOffset, qid, depth, sq.regionOffset, cq.regionOffset, h.doorbellStride, nslots, 0,
        prp?.regionOffset ?? 0, prpPages, maxTransfer, 0);
      if (st !== CoreStatus.Ok) throw new CoreStatusError(`setting up queue pair ${qid}`, st);
      if (stats) h.core.qpSetStats(desc.regionOffset, stats.regionOffset); // the core counts into it as it polls
      h.fabric?.bindQueue(qid, desc.regionOffset);
      // Vector = qid (unique in the group); a qid beyond the vectors polls ('interrupt' refuses).
      if (mode !== 'poll') irq = h.interrupts?.open(qid);
      if (mode === 'interrupt' && irq === undefined) throw new ControllerError(`completionMode 'interrupt': ${h.interrupts?.unavailable ?? `no interrupt vector ${qid} (queue id ${qid})`}`, 'unsupported');
      try {
        await h.commands.createIoQueues(qid, depth, cq.regionOffset, sq.regionOffset, irq?.vector ?? -1, current);
      } catch (e) {
        // A reset came: whatever failed (Completion Queue Invalid for an SQ whose CQ the reset deleted, a
        // command the reset ended or refused) is the reset's doing, and the caller hears that.
        if (h.resets.generation !== resetGen) throw resetCame();
        throw e;
      }
      const qp = new IoQueuePair(this, {
        core: h.core, region: region.u8, qid, depth, nslots, desc: desc.regionOffset, maxTransfer,
        timeoutMs: opts.timeoutMs ?? h.options.commandTimeoutMs, checkAlive: h.checkAlive, onTimeout: h.onTimeout,
        statsOff: stats?.regionOffset, latencySampling: h.options.statsLatencySampling,
        ...(h.fabric ? { wire: h.fabric.wire(qid) } : {}),
        ...(irq ? { sleep: { source: irq, spinMs: mode === 'adaptive' ? spinUs / 1000 : 0, maxSleepMs } } : {}),
      }, bufs, irq ? mode : 'poll');
      qp.onBogus = (b) => h.onBogus(b);
      // A reset came between our Create commands and now: it deletes what they made (CC.EN = 0 deletes
      // every I/O queue, 7.3.2), and the reset did not recreate this queue pair (not ours yet).
      if (h.resets.generation !== resetGen) throw resetCame();
      if (stats) publishStatsBlock(region.dv, region.ctrl, stats.regionOffset, qid, h.group.self, desc.regionOffset);
      this.live.add(qp);
      return qp;
    } catch (e) {
      irq?.close();
      for (const b of bufs) b.free();
      h.group.releaseQid(qid);
      throw e;
    }
  }

  /**
   * Delete an I/O queue pair: wait (bounded) for its commands, Delete I/O SQ
   * (5.6) then Delete I/O CQ (5.5), free its memory and queue id.
   */
  async deleteQueuePair(qp: IoQueuePair, drainMs = 5000): Promise<void> {
    const h = this.h;
    if (!this.live.has(qp)) return;
    // A reset under way recreates the queues it finds ours: let it be over before this one stops being ours.
    await h.resets.caughtUp();
    if (!this.live.has(qp)) return;
    this.live.delete(qp);
    const gen = h.resets.generation;
    const end = performance.now() + drainMs;
    while (qp.outstanding > 0 && performance.now() < end && !qp.isClosed) {
      qp.processCompletions();
      await new Promise((r) => setImmediate(r));
    }
    if (!h.commands.queue.isClosed && h.isAlive()) {
      try {
        // Commands the SQ deletion aborted complete on the CQ: reap them before it goes. A Delete
        // command is refused once a reset began (`check`): that reset deletes the queue itself.
        await h.commands.deleteIoQueues(qp.qid, {
          afterSq: () => qp.processCompletions(),
          check: () => {
            if (h.resets.generation !== gen) throw new ControllerResetError(h.resets.lastReason, h.resets.generation | 1);
          },
        });
      } catch (e) {
        // A reset came: CC.EN = 0 deleted the queue (7.3.2), and it was not recreated (no longer ours).
        if (h.resets.generation === gen) throw e;
      }
    }
    qp.failAll(new ControllerError(`queue pair ${qp.qid} was deleted`, 'closed'));
    qp.releaseMemory();
    h.group.releaseQid(qp.qid);
    if (this.defaultQp && (await this.defaultQp.catch(() => undefined)) === qp) this.defaultQp = undefined;
  }

  /** The queue pair Namespace methods use when none is given (created on first use). */
  defaultQueuePair(): Promise<IoQueuePair> {
    this.h.assertOpen();
    if (!this.defaultQp) {
      this.defaultQp = this.create();
      this.defaultQp.catch(() => {
        this.defaultQp = undefined;
      });
    }
    return this.defaultQp;
  }

  /** After a controller reset: Create I/O CQ then SQ for `qp` again, same queue id, same memory (`current`: see createIoQueues). */
  recreate(qp: IoQueuePair, current: () => void): Promise<void> {
    const d = new QpDescriptor(this.h.region.u8, qp.desc);
    return this.h.commands.createIoQueues(qp.qid, qp.depth, d.cq, d.sq, qp.interruptVector, current);
  }

  /** Fail every command of every queue pair of this process with `err`. */
  failAll(err: Error): void {
    for (const qp of this.live) qp.failAll(err);
  }

  /** Deadlines of commands nobody polls for (a callback-path loop that stopped). */
  checkTimeouts(now: number): void {
    for (const qp of this.live) qp.checkTimeouts(now);
  }
}
