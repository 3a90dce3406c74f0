// A connection's DMA buffers, kept for reuse: commands take a buffer of a
// power-of-two size class and give it back when their answer is sent, so
// steady I/O neither takes the region allocator's cross-process lock nor
// allocates region memory per command. What is cached is bounded; the rest
// goes back to the allocator, and everything does when the connection ends.
import type { Controller, DmaBuffer } from '../../index.js';

const MIN_CLASS = 4096;

export class DmaCache {
  private readonly lists = new Map<number, DmaBuffer[]>();
  private cachedBytes = 0;

  constructor(
    private readonly dev: Controller,
    /** Bytes kept for reuse at most. */
    private readonly maxCachedBytes: number,
  ) {}

  /** The size class for `len` bytes. */
  static classOf(len: number): number {
    return len <= MIN_CLASS ? MIN_CLASS : 2 ** Math.ceil(Math.log2(len));
  }

  /** A buffer of at least `len` bytes (its class's size). Throws ResourceError when the region has none. */
  take(len: number): DmaBuffer {
    const cls = DmaCache.classOf(len);
    const l = this.lists.get(cls);
    const b = l?.pop();
    if (b) {
      this.cachedBytes -= cls;
      return b;
    }
    return this.dev.allocDma(cls);
  }

  /** Give a buffer from take() back. */
  give(b: DmaBuffer): void {
    if (b.isFreed) return;
    if (this.cachedBytes + b.length > this.maxCachedBytes) {
      b.free();
      return;
    }
    let l = this.lists.get(b.length);
    if (!l) this.lists.set(b.length, (l = []));
    l.push(b);
    this.cachedBytes += b.length;
  }

  /** Free every cached buffer. */
  clear(): void {
    for (const l of this.lists.values()) for (const b of l) if (!b.isFreed) b.free();
    this.lists.clear();
    this.cachedBytes = 0;
  }

  get bytesCached(): number {
    return this.cachedBytes;
  }
}
