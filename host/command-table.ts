// What only JavaScript can hold for each outstanding command of a queue
// pair: its callback, opcode, deadline, timeout and recovery state, and for
// a Promise-path command the functions that settle its promise. Indexed by
// the core's slot (I/O queues) or by cid (the shared admin queue, where a
// slot can be reused by another process before its owner read the
// completion from its mailbox; a cid, with its generation, cannot).
//
//   key k (slot or cid)   cbs[k]        the callback, undefined = not ours / done;
//                                       PROMISE_CB for a Promise-path command
//                         opcodes[k]    for the error it may end with
//                         deadlines[k]  when it times out (0: not stamped yet)
//                         limits[k]     its timeout in ms (0: none)
//                         timedOut[k]   1 once it passed its deadline
//                         resolves[k]   a Promise-path command's promise, not
//                         rejects[k]      settled yet (undefined once settled:
//                                         by its completion, a timeout or a
//                                         failure of the queue pair)
//                         cleanups[k]   run when the command is done with its
//                                       buffers (on completion, never on timeout)
//                         background[k] 1: an Asynchronous Event Request (does
//                                       not keep the poller hot)
//
// The table is the pooled request record of both paths: plain arrays, read
// and written directly by the queue pair's submit and poll loops
// (host/qpair.ts): nothing allocated per command, no call per command.

/** A command finished: `err` is null on success (an NvmeStatusError, or the reason the queue pair died). */
export type IoCallback = (err: Error | null, dw0: number) => void;

/** What a Promise-path command does when it is done with its buffers. */
export type Cleanup = (err: Error | null) => void;

/**
 * new Promise(capture) hands out its resolving functions in `captured`
 * without a closure per command: the executor is one shared function
 * (called synchronously), read right after by the queue pair.
 */
export const captured: { resolve: ((dw0: number) => void) | undefined; reject: ((err: Error) => void) | undefined } = { resolve: undefined, reject: undefined };
export const capture = (resolve: (dw0: number) => void, reject: (err: Error) => void): void => {
  captured.resolve = resolve;
  captured.reject = reject;
};

/**
 * The callback of every Promise-path command: the poll sees it and settles
 * the command's promise from the table instead of calling it (no closure per
 * command). Never called.
 */
export const PROMISE_CB: IoCallback = () => {
  throw new Error('PROMISE_CB is a marker, not a callback');
};

export class CommandTable {
  readonly cbs: Array<IoCallback | undefined>;
  readonly opcodes: Uint8Array;
  readonly deadlines: Float64Array;
  readonly limits: Float64Array;
  readonly timedOut: Uint8Array;
  readonly resolves: Array<((dw0: number) => void) | undefined>;
  readonly rejects: Array<((err: Error) => void) | undefined>;
  readonly cleanups: Array<Cleanup | undefined>;
  readonly background: Uint8Array;
  /** Promise-path commands not settled yet that keep the poller hot (parked ones included). */
  pending = 0;
  /** Promise-path commands not settled yet that may wait forever (AERs). */
  backgroundPending = 0;

  constructor(readonly size: number) {
    this.cbs = new Array<IoCallback | undefined>(size).fill(undefined);
    this.opcodes = new Uint8Array(size);
    this.deadlines = new Float64Array(size);
    this.limits = new Float64Array(size);
    this.timedOut = new Uint8Array(size);
    this.resolves = new Array<((dw0: number) => void) | undefined>(size).fill(undefined);
    this.rejects = new Array<((err: Error) => void) | undefined>(size).fill(undefined);
    this.cleanups = new Array<Cleanup | undefined>(size).fill(undefined);
    this.background = new Uint8Array(size);
  }

  /** Is a command of ours outstanding under `k`? */
  has(k: number): boolean {
    return this.cbs[k] !== undefined;
  }

  /** Settle the promise of the Promise-path command under `k`, unless it is settled already. */
  settle(k: number, err: Error | null, dw0: number): void {
    const resolve = this.resolves[k];
    if (resolve === undefined) return;
    const reject = this.rejects[k]!;
    this.resolves[k] = undefined;
    this.rejects[k] = undefined;
    if (this.background[k]) this.backgroundPending--;
    else this.pending--;
    if (err) reject(err);
    else resolve(dw0);
  }

  /** The Promise-path command under `k` ended (completed, or failed with the queue pair): its cleanup, then its promise. */
  finish(k: number, err: Error | null, dw0: number): void {
    const cleanup = this.cleanups[k];
    if (cleanup !== undefined) {
      this.cleanups[k] = undefined;
      try {
        cleanup(err);
      } finally {
        this.settle(k, err, dw0);
      }
      return;
    }
    this.settle(k, err, dw0);
  }
}
