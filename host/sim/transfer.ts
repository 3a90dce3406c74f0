// Data transfer between the DMA window and the controller's buffers for
// one command: its PRP1/PRP2 (4.3), walked by prp.ts, then copied segment
// by segment. Allocates nothing per command.
import { SQE_PRP1, SQE_PRP2 } from '../../assembly/nvme/cmd.js';
import type { DmaWindow } from './dma.js';
import type { PrpWalker } from './prp.js';

const U32 = 2 ** 32;

/** The PRP-described data of the command at dword `e` of the window. */
export class HostTransfer {
  private compareBuf: Buffer | undefined;

  constructor(
    private readonly win: DmaWindow,
    private readonly prp: PrpWalker,
  ) {}

  /** PRP1 of the command at dword `e` of the window. */
  prp1(e: number): number {
    const u = this.win.u32;
    return u[e + (SQE_PRP1 >>> 2) + 1]! * U32 + u[e + (SQE_PRP1 >>> 2)]!;
  }

  /** PRP2 of the command at dword `e` of the window. */
  prp2(e: number): number {
    const u = this.win.u32;
    return u[e + (SQE_PRP2 >>> 2) + 1]! * U32 + u[e + (SQE_PRP2 >>> 2)]!;
  }

  /** Walk the command's PRPs for `len` bytes (left in the PrpWalker); 0 or a status field. */
  walk(e: number, len: number): number {
    return this.prp.walk(this.win, this.prp1(e), this.prp2(e), len);
  }

  /** Controller to host: `len` bytes of `src` from `srcOff` to the command's PRPs. */
  toHost(e: number, src: Buffer, srcOff: number, len: number): number {
    const st = this.walk(e, len);
    if (st !== 0) return st;
    const prp = this.prp;
    let pos = srcOff;
    for (let i = 0; i < prp.count; i++) {
      const n = prp.segLen[i]!;
      src.copy(this.win.buf, prp.segOff[i]!, pos, pos + n);
      pos += n;
    }
    return 0;
  }

  /** Host to controller: `len` bytes from the command's PRPs into `dst`. */
  fromHost(e: number, dst: Buffer, len: number): number {
    const st = this.walk(e, len);
    if (st !== 0) return st;
    const prp = this.prp;
    let pos = 0;
    for (let i = 0; i < prp.count; i++) {
      const off = prp.segOff[i]!;
      const n = prp.segLen[i]!;
      this.win.buf.copy(dst, pos, off, off + n);
      pos += n;
    }
    return 0;
  }

  /** A buffer of at least `len` bytes for Compare (grown, never shrunk). */
  compareBuffer(len: number): Buffer {
    if (this.compareBuf === undefined || this.compareBuf.length < len) this.compareBuf = Buffer.alloc(len);
    return this.compareBuf;
  }
}
