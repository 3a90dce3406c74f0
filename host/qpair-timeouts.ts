// A queue pair's deadlines: the periodic scan for commands past their
// timeout, what happens to one that is (its owner's recovery, or a
// Promise-path command failed at once), and ending every outstanding
// command with an error (a reset, a dead controller, a deleted queue
// pair). The queue pair (qpair.ts) owns the command table and calls in;
// the scan and the ending loop themselves are timeouts.ts'. The policy of
// what a timeout leads to (Abort, then a reset) is host/recovery.ts'.
import { NvmeTimeoutError, type TimeoutRecovery } from './errors.js';
import type { CommandTable } from './command-table.js';
import type { LatencySampler } from './latency-sampler.js';
import type { QueuePairInit, TimedOutQueue } from './qpair-types.js';
import { TIMEOUT_SCAN_MS, scanDeadlines, endOutstanding } from './timeouts.js';

/** What the deadlines need of their queue pair, given once. */
export interface DeadlineOwner {
  readonly queue: TimedOutQueue;
  readonly qid: number;
  readonly table: CommandTable;
  readonly sampler: LatencySampler;
  /** The cid of table key `k`. */
  readonly cidOf: (k: number) => number;
  /** Keys are cids (the shared admin queue), not core slots: no wire to detach reads from. */
  readonly keyByCid: boolean;
  readonly wire: QueuePairInit['wire'];
  readonly onTimeout: QueuePairInit['onTimeout'];
}

export class QueuePairDeadlines {
  /** When the last scan ran (performance.now()). */
  lastScan = 0;

  constructor(private readonly o: DeadlineOwner) {}

  /** A scan is due (TIMEOUT_SCAN_MS since the last one). */
  due(now: number): boolean {
    return now - this.lastScan >= TIMEOUT_SCAN_MS;
  }

  /** Scan for commands past their deadline, if one is due. */
  scan(now: number): void {
    if (!this.due(now)) return;
    this.lastScan = now;
    scanDeadlines(this.o.table, now, this.expired);
  }

  /**
   * Command `k` passed its deadline. With an owner's handler, recovery
   * starts (Abort, then a reset) and the command ends when recovery does:
   * its buffers are never handed back while the device may still use them.
   * Without one, a Promise-path command fails now and its slot stays
   * outstanding (its cid is not reused) until the completion comes.
   */
  private readonly expired = (k: number): void => {
    const { table: t, onTimeout } = this.o;
    const cid = this.o.cidOf(k);
    this.o.sampler.countTimeout();
    t.timedOut[k] = 1; // once: the slot stays outstanding
    if (onTimeout) {
      onTimeout(this.o.queue, cid, t.opcodes[k]!, t.limits[k]!);
      return;
    }
    // A Promise-path command fails now; its slot stays taken until the completion comes.
    if (t.resolves[k] !== undefined) {
      if (!this.o.keyByCid) this.o.wire?.detachRead?.(k); // its late data must not reach the caller's buffer
      t.settle(k, this.timeoutError(k, cid, undefined), 0);
    }
  };

  /** The NvmeTimeoutError of command `k` (cid `cid`), naming `recovery`. */
  timeoutError(k: number, cid: number, recovery: TimeoutRecovery | undefined): NvmeTimeoutError {
    const { qid, table } = this.o;
    return new NvmeTimeoutError(`${qid === 0 ? 'admin' : 'I/O'} command (qid ${qid} cid ${cid})`, table.limits[k]!, table.opcodes[k]!, cid, qid, recovery);
  }

  /**
   * End every outstanding command with `err`, or, for commands already
   * past their deadline, with an NvmeTimeoutError naming `recovery`.
   */
  failOutstanding(err: Error, recovery: TimeoutRecovery): void {
    this.o.sampler.dropInFlight(); // their latency would be the recovery's, not the device's
    const wire = this.o.keyByCid ? undefined : this.o.wire;
    endOutstanding(this.o.table, (k, timedOut) => {
      wire?.detachRead?.(k); // the caller gets its buffer back now: nothing may land in it later
      return timedOut ? this.timeoutError(k, this.o.cidOf(k), recovery) : err;
    });
  }
}
