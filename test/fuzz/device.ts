// The controller side of one queue pair, for the fuzzer: it reads what the
// host exposes through the doorbells in the BAR window and writes completion
// entries into the shared region, as a controller would (NVMe 1.4, 4.1, 4.6).
// Every random choice comes from the op that drives it, so a sequence replays.
//
// Honest behaviour: fetch only entries below the SQ tail doorbell; complete
// fetched commands in any order; report SQHD either as the fetch position or
// lagging behind it (any value from the last reported head up to the fetch
// position, which 4.1.2 allows: the head is "at least" where it says); never
// post into a full CQ (4.1: full when tail + 1 == head doorbell).
// Hostile behaviour (inject): extra malformed entries, still respecting CQ
// room and the phase tag, so only their contents are wrong.
import type { Cqe, QpConfig } from './model.js';
import { sqDoorbell, cqDoorbell } from './model.js';

export type InjectKind = 'dup' | 'unknown' | 'stale' | 'sqid' | 'sqhd';

interface Fetched {
  cid: number;
  pos: number;
}

export class Divergence extends Error {}

export class FuzzDevice {
  sqHead = 0; // fetch position
  lastSqhd = 0; // last SQHD put in a completion
  cqTail = 0;
  phase = 1;
  laps = 0;
  cqFullHits = 0; // wanted to post, the CQ had no room (4.1: must wait for the head doorbell)
  cqFilled = 0; // posted the entry that left the CQ full (qsize - 1 entries)
  readonly pending: Fetched[] = [];
  readonly done: number[] = []; // cids completed (recent), for duplicates
  /** Exactly what the device wrote to the CQ ring: the host must never write it. */
  readonly cqShadow: Uint8Array;

  constructor(
    readonly cfg: QpConfig,
    readonly dv: DataView,
    readonly u8: Uint8Array,
    readonly bar: DataView,
    readonly sq: number,
    readonly cq: number,
  ) {
    this.cqShadow = new Uint8Array(cfg.qsize * 16);
  }

  sqTailDoorbell(): number {
    return this.bar.getUint32(sqDoorbell(this.cfg.qid, this.cfg.dstrd), true);
  }
  cqHeadDoorbell(): number {
    return this.bar.getUint32(cqDoorbell(this.cfg.qid, this.cfg.dstrd), true);
  }

  /** Controller reset: the queue is gone and its doorbells read 0 when it is created again. */
  reset(): void {
    this.sqHead = 0;
    this.lastSqhd = 0;
    this.cqTail = 0;
    this.phase = 1;
    this.pending.length = 0;
    this.done.length = 0;
    this.cqShadow.fill(0);
    this.bar.setUint32(sqDoorbell(this.cfg.qid, this.cfg.dstrd), 0, true);
    this.bar.setUint32(cqDoorbell(this.cfg.qid, this.cfg.dstrd), 0, true);
  }

  /** Fetch up to n entries the SQ tail doorbell exposed. Returns how many. */
  fetch(n: number): number {
    const tail = this.sqTailDoorbell();
    // 4.1 / 5.x "Invalid Doorbell Write Value": a tail outside the ring.
    if (tail >= this.cfg.qsize) throw new Divergence(`SQ tail doorbell ${tail} >= qsize ${this.cfg.qsize}`);
    let k = 0;
    while (k < n && this.sqHead !== tail) {
      const off = this.sq + this.sqHead * 64;
      this.pending.push({ cid: this.dv.getUint16(off + 2, true), pos: this.sqHead });
      this.sqHead = (this.sqHead + 1) % this.cfg.qsize;
      k++;
    }
    return k;
  }

  /** Room in the CQ given the host's head doorbell (4.1: one entry always stays empty). */
  cqSpace(): number {
    const head = this.cqHeadDoorbell();
    if (head >= this.cfg.qsize) throw new Divergence(`CQ head doorbell ${head} >= qsize ${this.cfg.qsize}`);
    return (head - this.cqTail - 1 + 2 * this.cfg.qsize) % this.cfg.qsize;
  }

  /** Ring distance from a to b going forward. */
  private dist(a: number, b: number): number {
    return (b - a + this.cfg.qsize) % this.cfg.qsize;
  }

  /**
   * Complete the pending command pick % pending.length. lag in [0, 1): 0 is an
   * honest SQHD, more reports a head further behind the fetch position. The
   * last pending command always reports honestly, so a lagging head can never
   * leave the host with a full SQ and nothing left to complete it.
   * Returns the entry posted, 'full' if the CQ had no room, 'none' if idle.
   */
  complete(pick: number, lag: number, sf: number, dw0: number): Cqe | 'full' | 'none' {
    if (this.pending.length === 0) return 'none';
    if (this.cqSpace() === 0) {
      this.cqFullHits++;
      return 'full';
    }
    const [cmd] = this.pending.splice(pick % this.pending.length, 1);
    const span = this.dist(this.lastSqhd, this.sqHead);
    const back = this.pending.length === 0 ? 0 : Math.floor(lag * (span + 1));
    const sqhd = (this.lastSqhd + span - Math.min(back, span)) % this.cfg.qsize;
    this.lastSqhd = sqhd;
    this.done.push(cmd!.cid);
    if (this.done.length > 64) this.done.shift();
    return this.post({ dw0, sqhd, sqid: this.cfg.qid, cid: cmd!.cid, sf });
  }

  /** Post a malformed completion of the given kind. r picks among the candidates. */
  inject(kind: InjectKind, r: number): Cqe | 'full' | 'none' {
    if (this.cqSpace() === 0) {
      this.cqFullHits++;
      return 'full';
    }
    const some = (xs: number[]) => (xs.length ? xs[r % xs.length]! : undefined);
    const pendingCid = some(this.pending.map((p) => p.cid));
    const base = { dw0: r >>> 0, sqhd: this.lastSqhd, sqid: this.cfg.qid, sf: r & 0x7fff };
    switch (kind) {
      case 'dup': {
        const cid = some(this.done);
        return cid === undefined ? 'none' : this.post({ ...base, cid });
      }
      case 'unknown':
        return this.post({ ...base, cid: r & 0xffff });
      case 'stale': {
        if (pendingCid === undefined) return 'none';
        // Another generation of the same slot: flip one bit above bit 12, the slot field stays.
        return this.post({ ...base, cid: pendingCid ^ (0x1000 << (r % 4)) });
      }
      case 'sqid':
        if (pendingCid === undefined) return 'none';
        return this.post({ ...base, cid: pendingCid, sqid: (this.cfg.qid + 1 + (r % 0xfffe)) & 0xffff });
      case 'sqhd':
        if (pendingCid === undefined) return 'none';
        return this.post({ ...base, cid: pendingCid, sqhd: this.cfg.qsize + (r % (0x10000 - this.cfg.qsize)) });
    }
  }

  /** Write a CQE (4.6) at the tail with the current phase; flip the phase on wrap. */
  private post(e: Omit<Cqe, 'phase'>): Cqe {
    const off = this.cqTail * 16;
    const b = new DataView(this.cqShadow.buffer, off, 16);
    b.setUint32(0, e.dw0 >>> 0, true);
    b.setUint32(4, 0, true);
    b.setUint16(8, e.sqhd, true);
    b.setUint16(10, e.sqid, true);
    // DW3 last and whole: the phase tag must not be seen before the rest (4.6).
    this.u8.set(this.cqShadow.subarray(off, off + 12), this.cq + off);
    const dw3 = (e.cid | (this.phase << 16) | (e.sf << 17)) >>> 0;
    b.setUint32(12, dw3, true);
    Atomics.store(new Uint32Array(this.u8.buffer, this.u8.byteOffset + this.cq + off + 12, 1), 0, dw3);
    const posted = { ...e, phase: this.phase };
    this.cqTail++;
    if (this.cqTail === this.cfg.qsize) {
      this.cqTail = 0;
      this.phase ^= 1;
      this.laps++;
    }
    if (this.cqSpace() === 0) this.cqFilled++;
    return posted;
  }
}
