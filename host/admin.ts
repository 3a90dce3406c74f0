// The admin queue pair (qid 0), shared by every process of a group: posting
// and reaping happen under the group lock; a reaper hands other processes'
// completions to their mailboxes, and each process reads its own mailbox, so
// callbacks and Promises resolve only in the process that submitted.
//
// Nothing here waits for the lock on the event loop. A command is parked
// when submitted, and the parked ones are posted together, one lock hold
// for the lot: in a microtask right after (flush), or in the next poll that
// gets the lock. When the lock is busy, the queue waits for it in the thread
// pool (Group.withLockAsync) and its poller slows to a timer meanwhile; the
// holder hands the lock over when its turn is done.
import { OUT_MAX, qpDescriptorSize, QP_ADMIN_OWNER_BITS } from '../assembly/abi/qpair.js';
import { GROUP_OWNER } from '../assembly/abi/region.js';
import { SQE_SIZE, CQE_SIZE } from '../assembly/nvme/cmd.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import { CoreStatus } from '../assembly/abi/status.js';
import { QueuePair, type QueuePairInit } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import type { Region } from './region.js';
import type { Group } from './group.js';
import { CoreStatusError, ControllerError } from './errors.js';
import { QpDescriptor } from './layout/qp-descriptor.js';
import { CQE_DW3, CQE_DW3_P_SHIFT } from '../assembly/nvme/cmd.js';
import { yieldCpu } from '../hal/index.js';

/** Largest transfer of one admin command (its PRP lists are sized for it). */
export const ADMIN_MAX_XFER = 64 * 1024;

/** Polls that find the lock busy retry on the event loop this long, then wait for it in the thread pool. */
const BUSY_SPIN_MS = 1;
/** A poll takes the lock at least this often even if it sees nothing to do (the peek is a hint). */
const POLL_LOCKED_EVERY_MS = 10;

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

  private readonly qd: QpDescriptor;

  constructor(
    private readonly region: Region,
    private readonly group: Group,
    init: QueuePairInit,
  ) {
    super({ ...init, cidOwner: group.self });
    this.qd = new QpDescriptor(region.u8, this.desc);
  }

  /** True while a controller reset holds admin submissions (set by the controller). */
  holdSubmissions: (() => boolean) | undefined;

  /** This process holds the group lock to post parked commands (guard() posts only then). */
  private inHold = false;
  private flushQueued = false;
  /** A wait for the lock (in the thread pool) is under way. */
  private lockWaiting = false;
  /** The lock could not be had in time: parked commands fail with this. */
  private lockFailure: ControllerError | undefined;

  protected override guard(submit: () => number): number {
    if (this.lockFailure) throw this.lockFailure;
    if (!this.inHold && !this.group.held) {
      // Park it: the flush posts everything parked under one lock hold.
      this.queueFlush();
      return CoreStatus.NoSlot;
    }
    // Checked under the lock: a reset claims the queue under the same lock.
    if (this.holdSubmissions?.()) return CoreStatus.NoSlot;
    if (!this.inHold) this.unrung = true; // posted by a caller holding the lock: ringNow rings it
    return super.guard(submit);
  }

  /** Posted by a lock holder outside a flush, not rung yet. */
  private unrung = false;

  /** Flushes and polls ring what they post; a caller that posted holding the lock is rung here (or by the next poll). */
  protected override ringNow(): void {
    if (this.unrung && this.group.tryLock()) {
      try {
        this.unrung = false;
        this.core.qpRing(this.desc);
      } finally {
        this.group.unlock();
      }
    }
    this.wire?.kick();
  }

  protected override onUnknown(): void {
    this.foreignCompletions++;
  }

  protected override onAsyncEvent(dw0: number): void {
    this.onEvent?.(dw0);
  }

  /** Polls slow down to a timer while the lock is awaited in the thread pool (PollTarget). */
  override get isLockWaiting(): boolean {
    return this.lockWaiting;
  }

  private queueFlush(): void {
    if (this.flushQueued || this.lockWaiting) return;
    this.flushQueued = true;
    queueMicrotask(this.flush);
  }

  /** Post what is parked, under the lock if it is free, else once it is. */
  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.lockWaiting || this.inPoll || this.suspended || this.isClosed) return;
    if (!this.group.tryLock()) return; // the poller (hot: commands are parked) posts them
    this.busySince = 0;
    try {
      this.postParked();
    } finally {
      this.group.unlock();
    }
    this.wire?.kick();
  };

  /** Under the lock: post every parked command there is room for, then ring once. */
  postParked(): void {
    this.unrung = false;
    this.inHold = true;
    try {
      this.drainWaiters();
    } finally {
      this.inHold = false;
    }
    this.core.qpRing(this.desc);
  }

  /**
   * The lock is busy and commands wait (parked, or their completions in
   * this process's mailbox): wait for it off the event loop, then poll
   * under it (reap, read the mailbox, post what is parked).
   */
  private awaitLock(): void {
    if (this.lockWaiting) return;
    this.lockWaiting = true;
    let firstThrow: unknown;
    this.group
      .withLockAsync(() => {
        firstThrow = this.pollLocked(0);
      })
      .then(
        () => {
          this.busySince = 0;
          if (firstThrow !== undefined) {
            const e = firstThrow;
            queueMicrotask(() => {
              throw e; // a callback threw: reported like an unhandled exception
            });
          }
        },
        (err: unknown) => {
          // The lock stayed with a live holder too long: fail what is parked.
          this.lockFailure = err instanceof ControllerError ? err : new ControllerError(String(err), 'state');
          try {
            this.drainWaiters();
          } finally {
            this.lockFailure = undefined;
          }
        },
      )
      .finally(() => {
        this.lockWaiting = false;
        this.pollAgain();
      });
  }

  /**
   * Reap the shared CQ under the lock (handing others' completions to their
   * mailboxes and waking them), then read this process's mailbox and post
   * what is parked. If the lock is busy and something waits, wait for it in
   * the thread pool (awaitLock) rather than here.
   */
  override processCompletions(max = 0): number {
    if (this.inPoll || this.suspended || this.lockWaiting) return 0;
    // Nothing to do (no new completion at the CQ head, no mail, nothing
    // parked or unrung): leave the lock alone. A poller hot on its own
    // commands would otherwise hold it most of the time and keep the
    // others, whose completions it reaps into their mailboxes, from it.
    const now = performance.now();
    if (!this.unrung && this.parked === 0 && now - this.lastLockedPoll < POLL_LOCKED_EVERY_MS && !this.cqHasEntry() && !this.hasMail()) return 0;
    // Never wait for the lock here: whoever holds it reaps for everyone, and
    // our completions then wait in our mailbox for a poll that gets it.
    if (!this.group.tryLock()) {
      // Busy for a moment: the poller comes back (it keeps the event loop
      // going). Busy for long (a long hold, or a holder that is not
      // scheduled): wait in the thread pool instead of spinning.
      if (this.busySince === 0) this.busySince = now;
      else if (now - this.busySince > BUSY_SPIN_MS && this.hasWaiters) this.awaitLock();
      // The holder may be a process waiting for this very CPU (more members than CPUs): let it run.
      if (this.hasWaiters) yieldCpu();
      return 0;
    }
    this.busySince = 0;
    this.lastLockedPoll = now;
    let firstThrow: unknown;
    let n = 0;
    try {
      firstThrow = this.pollLocked(max);
      n = this.lastPolled;
    } finally {
      this.group.unlock();
    }
    this.wire?.kick();
    this.checkBogus();
    if (firstThrow !== undefined) throw firstThrow;
    return n;
  }

  private lastPolled = 0;
  private lastLockedPoll = 0;

  /** Are there records in this process's mailbox (read without the lock: a hint)? */
  private hasMail(): boolean {
    const ctrl = this.region.ctrl;
    if (ctrl.mailboxes === 0) return false;
    const self = this.group.self;
    const dv = this.region.dv;
    return dv.getUint32(ctrl.mailboxHeadWord(self), true) !== dv.getUint32(ctrl.mailboxTailWord(self), true);
  }

  /** Is there a completion at the shared CQ's head (read without the lock: a hint)? */
  private cqHasEntry(): boolean {
    const qd = this.qd;
    const dw3 = this.region.dv.getUint32(qd.cq + qd.cqHead * CQE_SIZE + CQE_DW3, true);
    return ((dw3 >>> CQE_DW3_P_SHIFT) & 1) === qd.cqPhase;
  }
  /** When polls began finding the lock busy, 0 = they do not. */
  private busySince = 0;

  /** The body of a poll, under the lock: returns the first callback exception (completions counted in lastPolled). */
  private pollLocked(max: number): unknown {
    const self = this.group.self;
    const want = max > 0 ? Math.min(max, OUT_MAX) : OUT_MAX;
    this.lastPolled = 0;
    if (this.inPoll || this.suspended) return undefined;
    this.inPoll = true;
    let n = 0;
    let m = 0;
    let firstThrow: unknown;
    try {
      this.core.qpRing(this.desc);
      this.wire?.kick();
      // Others' completions go to their mailboxes. No futex wake: their owners poll for mail (hasMail), and
      // a wake per delivery (a system call even with nobody asleep) cost more than the commands in a contended group.
      n = this.core.qpPollShared(this.desc, want, self);
      if (n > 0) firstThrow = this.deliver(n, undefined);
      m = this.core.mboxTake(this.desc, self, want);
      if (m > 0) firstThrow = this.deliver(m, firstThrow);
    } finally {
      this.inPoll = false;
    }
    this.lastPolled = n + m;
    // Still holding the lock: post what waited for slots or for the lock.
    this.postParked();
    return firstThrow;
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
