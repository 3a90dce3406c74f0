// What only JavaScript can hold for each outstanding command of a queue
// pair: its callback, opcode, deadline, timeout and recovery state. Indexed
// by the core's slot (I/O queues) or by cid (the shared admin queue, where a
// slot can be reused by another process before its owner read the
// completion from its mailbox; a cid, with its generation, cannot).
//
//   key k (slot or cid)   cbs[k]       the callback, undefined = not ours / done
//                         opcodes[k]   for the error it may end with
//                         deadlines[k] when it times out (0: not stamped yet)
//                         limits[k]    its timeout in ms (0: none)
//                         timedOut[k]  1 once it passed its deadline
//                         abandon[k]   settles a Promise-path command early
//
// Plain arrays, read and written directly by the queue pair's submit and
// poll loops (host/qpair.ts): nothing allocated, no call per command.

/** A command finished: `err` is null on success (an NvmeStatusError, or the reason the queue pair died). */
export type IoCallback = (err: Error | null, dw0: number) => void;

/** Settles a Promise-path command before its completion (timeout, dead controller). */
export type Abandon = (err?: Error) => void;

export class CommandTable {
  readonly cbs: Array<IoCallback | undefined>;
  readonly opcodes: Uint8Array;
  readonly deadlines: Float64Array;
  readonly limits: Float64Array;
  readonly timedOut: Uint8Array;
  readonly abandon: Array<Abandon | undefined>;

  constructor(readonly size: number) {
    this.cbs = new Array<IoCallback | undefined>(size).fill(undefined);
    this.opcodes = new Uint8Array(size);
    this.deadlines = new Float64Array(size);
    this.limits = new Float64Array(size);
    this.timedOut = new Uint8Array(size);
    this.abandon = new Array<Abandon | undefined>(size).fill(undefined);
  }

  /** Is a command of ours outstanding under `k`? */
  has(k: number): boolean {
    return this.cbs[k] !== undefined;
  }
}
