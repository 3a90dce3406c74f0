// The benchmark's in-process null device (`npm run bench -- --device
// loopback`): for one queue pair, completes every command the driver has
// rung for, at once, successfully, with no data transfer, in the driver's
// own thread between two polls. The simulator process that created the
// queue is stopped (SIGSTOP) meanwhile, so only this device answers. It is
// the fastest device there can be: with it the driver's own cost per I/O
// (busy ns/IO) is all there is to see, with batches as large as the queue
// depth, whatever the machine's load does to a simulator on another CPU.
// bench/native/nvme-native.c has the same device (loopback_step), so both
// drivers meet the same one; the device's work is outside the busy time
// (it runs before the clock read that starts a poll).
//
// It reads the queue pair's descriptor (abi/qpair.ts) in the shared region:
// the SQ tail as last rung (QP_SQ_TAIL_DB) or as posted (QP_SQ_TAIL, for a
// driver whose next poll rings first thing: the same commands as at that
// doorbell), the CQ head as last released (QP_CQ_HEAD_DB).
import { QP_QID, QP_QSIZE, QP_SQ, QP_CQ, QP_SQ_TAIL, QP_SQ_TAIL_DB, QP_CQ_HEAD, QP_CQ_HEAD_DB, QP_CQ_PHASE } from '../assembly/abi/qpair.js';
import { SQE_SIZE, CQE_SIZE } from '../assembly/nvme/cmd.js';

export class Loopback {
  private readonly u32: Uint32Array;
  private readonly qid: number;
  private readonly size: number;
  private readonly sq: number; // dword index of SQ entry 0
  private readonly cq: number; // dword index of CQ entry 0
  private readonly tailWord: number;
  private readonly cqHeadWord: number;
  private head: number; // next SQ entry to take
  private cqTail: number; // next CQ entry to write
  private phase: number;
  /** Commands completed. */
  completed = 0;

  /** The device of the queue pair whose descriptor is at region offset `desc`; `posted`: take entries as posted, not as rung. */
  constructor(region: Uint8Array, desc: number, posted = false) {
    this.u32 = new Uint32Array(region.buffer, region.byteOffset, region.byteLength >>> 2);
    const w = (off: number): number => this.u32[(desc + off) >>> 2]!;
    this.qid = w(QP_QID);
    this.size = w(QP_QSIZE);
    this.sq = w(QP_SQ) >>> 2;
    this.cq = w(QP_CQ) >>> 2;
    this.tailWord = (desc + (posted ? QP_SQ_TAIL : QP_SQ_TAIL_DB)) >>> 2;
    this.cqHeadWord = (desc + QP_CQ_HEAD_DB) >>> 2;
    // Attached before the first I/O command: the device starts where the driver is.
    this.head = w(QP_SQ_TAIL_DB);
    this.cqTail = w(QP_CQ_HEAD);
    this.phase = w(QP_CQ_PHASE);
  }

  /** Complete everything submitted since the last step (as long as the CQ has room). Returns how many. */
  step(): number {
    const u = this.u32;
    const tail = Atomics.load(u, this.tailWord);
    const size = this.size;
    let n = 0;
    while (this.head !== tail) {
      let next = this.cqTail + 1;
      if (next === size) next = 0;
      if (next === Atomics.load(u, this.cqHeadWord)) break; // CQ full (4.6)
      const cid = u[this.sq + this.head * (SQE_SIZE >>> 2)]! >>> 16;
      this.head = this.head + 1 === size ? 0 : this.head + 1;
      const e = this.cq + this.cqTail * (CQE_SIZE >>> 2);
      u[e] = 0;
      u[e + 1] = 0;
      u[e + 2] = (this.qid << 16) | this.head; // SQID, SQHD
      Atomics.store(u, e + 3, cid | (this.phase << 16)); // status 0, phase tag last
      this.cqTail = next;
      if (next === 0) this.phase ^= 1;
      n++;
    }
    this.completed += n;
    return n;
  }
}
