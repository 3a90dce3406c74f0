// Which logical blocks of a namespace hold data (written) and which are
// deallocated: a bitmap, one bit per block, in chunks materialised on first
// change so a huge, untouched namespace costs nothing. It gives Identify
// Namespace NUSE (thin provisioning) and lets reads of deallocated blocks
// return zeroes (DLFEAT 001b) without touching the backing store.

/** At most 2^20 chunks, each at least 2^15 blocks (4 KiB of bits). */
const MIN_CHUNK_SHIFT = 15;
const MAX_CHUNKS_LOG2 = 20;

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Mask of bits [lo, hi) of a 32-bit word, 0 <= lo < hi <= 32. */
function bitRange(lo: number, hi: number): number {
  const upper = hi === 32 ? 0xffffffff : (1 << hi) - 1;
  return (upper & ~((1 << lo) - 1)) >>> 0;
}

export class AllocationMap {
  /** Blocks currently allocated (NUSE). */
  used: number;
  private readonly chunkShift: number;
  private readonly chunks: Array<Uint32Array | undefined>;

  /** `allocated`: the state of every block before any change. */
  constructor(
    readonly blocks: number,
    private readonly allocated: boolean,
  ) {
    const log2 = Math.ceil(Math.log2(Math.max(blocks, 2)));
    this.chunkShift = Math.max(MIN_CHUNK_SHIFT, log2 - MAX_CHUNKS_LOG2);
    this.chunks = new Array(Math.ceil(blocks / 2 ** this.chunkShift));
    this.used = allocated ? blocks : 0;
  }

  /** Allocated blocks in [slba, slba + nlb). */
  count(slba: number, nlb: number): number {
    let n = 0;
    const end = slba + nlb;
    const chunkBlocks = 2 ** this.chunkShift;
    for (let b = slba; b < end; ) {
      const ci = Math.floor(b / chunkBlocks);
      const cEnd = Math.min(end, (ci + 1) * chunkBlocks);
      const chunk = this.chunks[ci];
      if (chunk === undefined) {
        if (this.allocated) n += cEnd - b;
      } else {
        n += this.countIn(chunk, b - ci * chunkBlocks, cEnd - ci * chunkBlocks);
      }
      b = cEnd;
    }
    return n;
  }

  isAllocated(lba: number): boolean {
    const chunkBlocks = 2 ** this.chunkShift;
    const ci = Math.floor(lba / chunkBlocks);
    const chunk = this.chunks[ci];
    if (chunk === undefined) return this.allocated;
    const bit = lba - ci * chunkBlocks;
    return (chunk[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** Mark [slba, slba + nlb) written. */
  set(slba: number, nlb: number): void {
    this.change(slba, nlb, true);
  }

  /** Mark [slba, slba + nlb) deallocated. */
  clear(slba: number, nlb: number): void {
    this.change(slba, nlb, false);
  }

  private change(slba: number, nlb: number, on: boolean): void {
    const end = slba + nlb;
    const chunkBlocks = 2 ** this.chunkShift;
    for (let b = slba; b < end; ) {
      const ci = Math.floor(b / chunkBlocks);
      const cEnd = Math.min(end, (ci + 1) * chunkBlocks);
      let chunk = this.chunks[ci];
      if (chunk === undefined) {
        if (this.allocated === on) {
          b = cEnd; // already in that state
          continue;
        }
        chunk = new Uint32Array(chunkBlocks >>> 5);
        if (this.allocated) chunk.fill(0xffffffff);
        this.chunks[ci] = chunk;
      }
      const delta = this.changeIn(chunk, b - ci * chunkBlocks, cEnd - ci * chunkBlocks, on);
      this.used += on ? delta : -delta;
      b = cEnd;
    }
  }

  private countIn(chunk: Uint32Array, lo: number, hi: number): number {
    let n = 0;
    while (lo < hi) {
      const w = lo >>> 5;
      const top = Math.min(hi, (w + 1) << 5);
      n += popcount32(chunk[w]! & bitRange(lo & 31, top - (w << 5)));
      lo = top;
    }
    return n;
  }

  /** Set or clear bits [lo, hi) of a chunk; returns how many changed. */
  private changeIn(chunk: Uint32Array, lo: number, hi: number, on: boolean): number {
    let changed = 0;
    while (lo < hi) {
      const w = lo >>> 5;
      const top = Math.min(hi, (w + 1) << 5);
      const mask = bitRange(lo & 31, top - (w << 5));
      const old = chunk[w]!;
      const next = on ? (old | mask) >>> 0 : (old & ~mask) >>> 0;
      changed += popcount32((old ^ next) >>> 0);
      chunk[w] = next;
      lo = top;
    }
    return changed;
  }
}
