// Keys of a shared admin queue's commands in one process's command table.
// A cid is laid out as [ generation | owner process slot | slot index ]
// (assembly/abi/qpair.ts); the owner field of this process's cids is always
// its own, so the key is the cid without it: 2^(16 - ownerBits) keys, not
// 2^16 (the table's arrays, and the timeout scan and teardown loops over
// them, are that much smaller).

export class CidKeys {
  /** Keys there can be (the command table's size). */
  readonly size: number;
  private readonly genShift: number;
  private readonly slotMask: number;
  private readonly ownerField: number;
  private readonly ownerMask: number;

  constructor(private readonly slotBits: number, ownerBits: number, owner: number) {
    this.size = 1 << (16 - ownerBits);
    this.genShift = slotBits + ownerBits;
    this.slotMask = (1 << slotBits) - 1;
    this.ownerMask = ((1 << ownerBits) - 1) << slotBits;
    this.ownerField = (owner << slotBits) & this.ownerMask;
  }

  /** The key of `cid` (its generation and slot index); -1 when its owner field is not this process's. */
  keyOf(cid: number): number {
    if ((cid & this.ownerMask) !== this.ownerField) return -1;
    return ((cid >>> this.genShift) << this.slotBits) | (cid & this.slotMask);
  }

  /** The cid of key `k`. */
  cidOf(k: number): number {
    return ((k >>> this.slotBits) << this.genShift) | this.ownerField | (k & this.slotMask);
  }

  /** The key of a cid this process posted, which must carry its owner field. */
  postedKey(cid: number): number {
    const k = this.keyOf(cid);
    if (k < 0) throw new Error(`internal error: posted cid ${cid} does not carry this process's owner field ${this.ownerField >>> this.slotBits}`);
    return k;
  }
}
