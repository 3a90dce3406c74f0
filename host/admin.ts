// The admin queue pair (qid 0), shared by every process of a group: posting
// and reaping happen under the group lock; a reaper hands other processes'
// completions to their mailboxes, and each process reads its own mailbox, so
// callbacks and Promises resolve only in the process that submitted.
import { OUT_MAX } from '../assembly/abi/qpair.js';
import { CoreStatus } from '../assembly/abi/status.js';
import { QueuePair, type QueuePairInit } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import type { Region } from './region.js';
import type { Group } from './group.js';

export class AdminQueue extends QueuePair {
  /** Completions delivered to this process for commands it did not send (must stay 0). */
  foreignCompletions = 0;

  /** Called with dword 0 of every asynchronous event the controller reports. */
  onEvent: ((dw0: number) => void) | undefined;

  constructor(
    private readonly region: Region,
    private readonly group: Group,
    init: QueuePairInit,
    readonly sqMem: DmaBuffer | undefined,
    readonly cqMem: DmaBuffer | undefined,
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
