// The admin queue pair (qid 0), shared by every process of a group: posting
// and reaping happen under the group lock; a reaper hands other processes'
// completions to their mailboxes, and each process reads its own mailbox, so
// callbacks and Promises resolve only in the process that submitted.
import { OUT_MAX, qpDescriptorSize, QP_ADMIN_OWNER_BITS } from '../assembly/abi/qpair.js';
import { GROUP_OWNER } from '../assembly/abi/region.js';
import { SQE_SIZE, CQE_SIZE } from '../assembly/nvme/cmd.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import { CoreStatus } from '../assembly/abi/status.js';
import { QueuePair, type QueuePairInit } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import type { Region } from './region.js';
import type { Group } from './group.js';
import { CoreStatusError } from './errors.js';
import { QpDescriptor } from './layout/qp-descriptor.js';

/** Largest transfer of one admin command (its PRP lists are sized for it). */
export const ADMIN_MAX_XFER = 64 * 1024;

/** The parts of an admin queue's init that do not depend on where it lives. */
export type AdminQueueInit = Pick<QueuePairInit, 'core' | 'region' | 'timeoutMs' | 'checkAlive' | 'onTimeout' | 'wire'>;

/**
 * The primary makes the group's admin queue: rings, descriptor and PRP
 * lists owned by the group (GROUP_OWNER: it outlives any one process),
 * published in the controller block for secondaries.
 */
export function createAdminQueue(region: Region, group: Group, depth: number, dstrd: number, init: AdminQueueInit): AdminQueue {
  const core = init.core;
  const nslots = depth - 1;
  const prpPages = core.prpPagesFor(ADMIN_MAX_XFER);
  const owner = GROUP_OWNER;
  const sq = region.allocDma(depth * SQE_SIZE, { zero: true, owner, contiguous: true });
  const cq = region.allocDma(depth * CQE_SIZE, { zero: true, owner, contiguous: true });
  const desc = region.allocDma(qpDescriptorSize(nslots), { zero: true, owner });
  const prp = region.allocDma(nslots * prpPages * PAGE_SIZE, { owner });
  const st = core.qpInit(desc.regionOffset, 0, depth, sq.regionOffset, cq.regionOffset, dstrd, nslots, QP_ADMIN_OWNER_BITS,
    prp.regionOffset, prpPages, ADMIN_MAX_XFER, GROUP_OWNER);
  if (st !== CoreStatus.Ok) throw new CoreStatusError('setting up the admin queue pair', st);
  region.ctrl.adminQueuePair = desc.regionOffset;
  return new AdminQueue(region, group, { ...init, qid: 0, depth, nslots, desc: desc.regionOffset, maxTransfer: ADMIN_MAX_XFER });
}

/** A secondary uses the admin queue the primary made. */
export function attachAdminQueue(region: Region, group: Group, init: AdminQueueInit): AdminQueue {
  const desc = region.ctrl.adminQueuePair;
  const depth = new QpDescriptor(region.u8, desc).depth;
  return new AdminQueue(region, group, { ...init, qid: 0, depth, nslots: depth - 1, desc, maxTransfer: ADMIN_MAX_XFER });
}

export class AdminQueue extends QueuePair {
  /** Completions delivered to this process for commands it did not send (must stay 0). */
  foreignCompletions = 0;

  /** Called with dword 0 of every asynchronous event the controller reports. */
  onEvent: ((dw0: number) => void) | undefined;

  constructor(
    private readonly region: Region,
    private readonly group: Group,
    init: QueuePairInit,
  ) {
    super({ ...init, keyByCid: true });
  }

  /** True while a controller reset holds admin submissions (set by the controller). */
  holdSubmissions: (() => boolean) | undefined;

  protected override guard(submit: () => number): number {
    // Checked under the lock: a reset claims the queue under the same lock.
    return this.group.withLock(() => (this.holdSubmissions?.() ? CoreStatus.NoSlot : super.guard(submit)));
  }

  protected override ringNow(): void {
    this.group.withLock(() => this.core.qpRing(this.desc));
    this.wire?.kick();
  }

  protected override onUnknown(): void {
    this.foreignCompletions++;
  }

  protected override onAsyncEvent(dw0: number): void {
    this.onEvent?.(dw0);
  }

  /**
   * Reap the shared CQ under the lock (handing others' completions to their
   * mailboxes and waking them), then read this process's mailbox.
   */
  override processCompletions(max = 0): number {
    const self = this.group.self;
    const want = max > 0 ? Math.min(max, OUT_MAX) : OUT_MAX;
    // Never wait for the lock here: whoever holds it reaps for everyone, and
    // our completions then wait in our mailbox for a poll that gets it.
    if (this.inPoll || this.suspended || !this.group.tryLock()) return 0;
    this.inPoll = true;
    let n = 0;
    let m = 0;
    let firstThrow: unknown;
    try {
      this.core.qpRing(this.desc);
      this.wire?.kick();
      n = this.core.qpPollShared(this.desc, want, self);
      this.group.wakeMailboxes();
      if (n > 0) firstThrow = this.deliver(n, undefined);
      m = this.core.mboxTake(this.desc, self, want);
      if (m > 0) firstThrow = this.deliver(m, firstThrow);
    } finally {
      this.inPoll = false;
      this.group.unlock();
    }
    this.drainWaiters();
    this.checkBogus();
    if (firstThrow !== undefined) throw firstThrow;
    return n + m;
  }

  /**
   * Run a command that returns `len` bytes into a zeroed DMA buffer; resolves
   * with a copy. The buffer is freed when the command completes (never
   * before: after a timeout the device may still write it).
   */
  withData(len: number, opcode: number, what: string, submit: (buf: DmaBuffer) => number): Promise<Buffer> {
    const buf = this.region.allocDma(len, { zero: true });
    let copy: Buffer | undefined;
    return this.run(opcode, what, () => submit(buf), (err) => {
      if (!err) copy = Buffer.from(buf.bytes);
      buf.free();
    }).then(() => copy!);
  }
}
