// A batch of commands behind one promise (IoQueuePair.readMany, writeMany).
// The commands go in as slots allow (the rest as earlier ones complete, or
// parked with the queue pair's other waiters when none fit), as
// callback-path commands with one callback for the batch: one promise and
// two closures per batch, nothing per command.
//
//   next    commands posted (or refused at posting)
//   ended   commands done with: completed, failed, or refused
//   the batch settles once next === ended === count: resolved, or rejected
//   with its first error (every posted command has ended by then, so the
//   caller's buffers are free again)
import { capture, captured, type IoCallback } from './command-table.js';

/** What a batch needs of its queue pair (host/qpair.ts implements it). */
export interface BatchQueue {
  /** Why the queue pair refuses commands (it failed or closed), else undefined. */
  readonly closedError: Error | undefined;
  /** A reset holds submissions. */
  readonly isSuspended: boolean;
  /** Other submissions wait for slots ahead of this batch. */
  readonly hasParked: boolean;
  /** Record posted command `r` (false: the queue is full; throws for a refused one). */
  track(r: number, opcode: number, cb: IoCallback, what: string): boolean;
  /** Ring the SQ doorbell soon for what was just posted. */
  ringSoon(): void;
  /** Call `attempt` when slots free up, until it returns true. */
  park(attempt: () => boolean): void;
  /** One Promise-path command more (+1) or less (-1) that keeps the poller going. */
  pending(delta: 1 | -1): void;
  /** Start the poller if it is not running. */
  ensurePolling(): void;
}

/**
 * Post `count` commands, `post(i)` posting command i through the core and
 * returning its result; resolves when every one completed.
 */
export function runBatch(q: BatchQueue, count: number, opcode: number, what: string, post: (i: number) => number): Promise<void> {
  if (q.closedError) return Promise.reject(q.closedError);
  if (count === 0) return Promise.resolve();
  const p = new Promise<number>(capture);
  const resolve = captured.resolve!;
  const reject = captured.reject!;
  let next = 0;
  let ended = 0;
  let firstErr: Error | null = null;
  let settled = false;
  let parked = false;
  // Nothing of the batch in flight and not all posted: only a freed slot can go on.
  const park = (): void => {
    if (parked || next === count || next !== ended) return;
    parked = true;
    q.park(pump);
  };
  const settle = (): void => {
    if (settled) return;
    settled = true;
    q.pending(-1);
    if (firstErr) reject(firstErr);
    else (resolve as (v: unknown) => void)(undefined); // a Promise<void>
  };
  const cb: IoCallback = (err) => {
    if (err) firstErr ??= err;
    ended++;
    if (next === count) {
      if (ended === count) settle();
    } else if (!pump()) park(); // a reset holds submissions
  };
  // Post what fits; true once nothing is left to post.
  const pump = (): boolean => {
    const from = next;
    while (next < count) {
      const closed = q.closedError;
      if (closed) {
        firstErr ??= closed;
        ended += count - next;
        next = count;
        break;
      }
      if (q.isSuspended) return false;
      try {
        if (!q.track(post(next), opcode, cb, what)) break; // full
      } catch (e) {
        firstErr ??= e as Error; // refused: it ends here
        ended++;
      }
      next++;
    }
    if (next > from) q.ringSoon();
    if (next < count) return false;
    if (ended === count) settle();
    return true;
  };
  q.pending(1);
  if (q.hasParked || !pump()) park();
  q.ensurePolling();
  return p as Promise<unknown> as Promise<void>;
}
