// 32-bit register loads and stores on a mapped BAR window. Aligned 32-bit
// typed-array accesses compile to single 4-byte moves, which is what MMIO
// requires; the window is a file-backed (simulated) or device-backed (PCIe)
// mapping made with mapFixed.
export class Mmio {
  private readonly u32: Uint32Array;
  constructor(
    buffer: ArrayBufferLike,
    readonly offset: number,
    readonly length: number,
  ) {
    this.u32 = new Uint32Array(buffer, offset, length >>> 2);
  }
  read32(off: number): number {
    return Atomics.load(this.u32, off >>> 2);
  }
  write32(off: number, value: number): void {
    Atomics.store(this.u32, off >>> 2, value >>> 0);
  }
}
