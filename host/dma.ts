// DMA buffers: memory in the shared region, so the device reads and writes
// it directly (zero copy). `bytes` is a view on this process's mapping.
import { InvalidArgumentError } from './errors.js';

export interface DmaOwner {
  freeDma(buf: DmaBuffer): void;
}

export class DmaBuffer {
  private freed = false;
  constructor(
    private readonly owner: DmaOwner | undefined,
    /** Region offset of the first byte (what the core and the device use). */
    readonly regionOffset: number,
    /** Usable length in bytes. */
    readonly length: number,
    /** This process's view of the bytes. */
    readonly bytes: Uint8Array,
  ) {}

  get isFreed(): boolean {
    return this.freed;
  }

  /** A view of part of this buffer (zero copy; not separately freeable). */
  subarray(start: number, end = this.length): DmaBuffer {
    if (!Number.isInteger(start) || start < 0 || start > this.length) throw new InvalidArgumentError('start', `an integer from 0 to ${this.length}`, start);
    if (!Number.isInteger(end) || end < start || end > this.length) throw new InvalidArgumentError('end', `an integer from ${start} to ${this.length}`, end);
    return new DmaBuffer(undefined, this.regionOffset + start, end - start, this.bytes.subarray(start, end));
  }

  /** Return the memory to the region's allocator. */
  free(): void {
    if (!this.owner) throw new InvalidArgumentError('buffer', 'a buffer from allocDma (not a subarray)');
    if (this.freed) throw new InvalidArgumentError('buffer', 'a buffer not yet freed');
    this.freed = true;
    this.owner.freeDma(this);
  }
}
