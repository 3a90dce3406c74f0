// The Wasm core on a real shared region (a /dev/shm file mapped over a window
// of a Wasm memory, as in production), with the test standing in for the
// controller: it reads submission entries, posts completion entries and reads
// doorbells from a BAR window that is plain memory here.
import { layoutMemory } from '../../host/memory.js';
import { instantiateCore, coreHash, type CoreExports } from '../../host/core.js';
import { Region, createRegionFile } from '../../host/region.js';
import { IOVA_BASE } from '../../host/transport.js';
import { qpDescriptorSize } from '../../assembly/abi/qpair.js';
import { doorbellOffset } from '../../assembly/nvme/regs.js';

let n = 0;

export interface Harness {
  core: CoreExports;
  region: Region;
  /** The region's bytes. */
  u8: Uint8Array;
  dv: DataView;
  /** BAR window as u32 words. */
  bar: Uint32Array;
  dstrd: number;
}

export function makeHarness(opts: { regionSize?: number; dstrd?: number } = {}): Harness {
  const size = opts.regionSize ?? 16 * 1024 * 1024;
  const layout = layoutMemory(size, 0x10000);
  const core = instantiateCore(layout.memory);
  const file = createRegionFile(`nvme-wasm-test-${process.pid}-${n++}.region`, size, 'never');
  const region = new Region(file, layout, core, 0);
  region.close(true); // unlinked; the mapping stays
  region.format(coreHash(), IOVA_BASE);
  core.setIovaBase(Number(IOVA_BASE & 0xffffffffn), Number(IOVA_BASE >> 32n));
  core.setBarWindow(layout.barOff);
  core.setSelf(0);
  return {
    core,
    region,
    u8: region.u8,
    dv: region.dv,
    bar: new Uint32Array(layout.memory.buffer, layout.barOff, layout.barSize / 4),
    dstrd: opts.dstrd ?? 0,
  };
}

export interface TestQp {
  desc: number;
  qid: number;
  qsize: number;
  nslots: number;
  sq: number;
  cq: number;
  prp: number;
  prpPages: number;
}

export function makeQp(h: Harness, o: { qid?: number; qsize: number; nslots?: number; maxXfer?: number; ownerBits?: number }): TestQp {
  const qid = o.qid ?? 1;
  const nslots = o.nslots ?? o.qsize - 1;
  const maxXfer = o.maxXfer ?? 128 * 1024;
  const prpPages = h.core.prpPagesFor(maxXfer);
  const sq = h.region.allocDma(o.qsize * 64).regionOffset;
  const cq = h.region.allocDma(o.qsize * 16).regionOffset;
  const desc = h.region.allocDma(qpDescriptorSize(nslots)).regionOffset;
  const prp = prpPages ? h.region.allocDma(nslots * prpPages * 4096).regionOffset : 0;
  const st = h.core.qpInit(desc, qid, o.qsize, sq, cq, h.dstrd, nslots, o.ownerBits ?? 0, prp, prpPages, maxXfer, 0);
  if (st !== 0) throw new Error(`qpInit failed: ${st}`);
  return { desc, qid, qsize: o.qsize, nslots, sq, cq, prp, prpPages };
}

/** The device side of one queue pair, written from the spec, independent of the core. */
export class RingDevice {
  sqHead = 0;
  cqTail = 0;
  phase = 1;
  constructor(
    readonly h: Harness,
    readonly qp: TestQp,
  ) {}

  sqTailDoorbell(): number {
    return this.h.bar[doorbellOffset(this.qp.qid, false, this.h.dstrd) / 4]!;
  }
  cqHeadDoorbell(): number {
    return this.h.bar[doorbellOffset(this.qp.qid, true, this.h.dstrd) / 4]!;
  }

  /** Entries the host has made visible through the SQ tail doorbell, consumed. */
  fetch(): Array<{ off: number; opc: number; cid: number }> {
    const tail = this.sqTailDoorbell();
    const got: Array<{ off: number; opc: number; cid: number }> = [];
    while (this.sqHead !== tail) {
      const off = this.qp.sq + this.sqHead * 64;
      got.push({ off, opc: this.h.u8[off]!, cid: this.h.dv.getUint16(off + 2, true) });
      this.sqHead = (this.sqHead + 1) % this.qp.qsize;
    }
    return got;
  }

  /** Post a completion entry (4.6) with the current phase, then flip phase on wrap. */
  complete(cid: number, o: { sf?: number; dw0?: number; sqhd?: number; sqid?: number } = {}): void {
    const e = this.qp.cq + this.cqTail * 16;
    const dv = this.h.dv;
    dv.setUint32(e, o.dw0 ?? 0, true);
    dv.setUint32(e + 4, 0, true);
    dv.setUint16(e + 8, o.sqhd ?? this.sqHead, true);
    dv.setUint16(e + 10, o.sqid ?? this.qp.qid, true);
    dv.setUint32(e + 12, (cid & 0xffff) | (this.phase << 16) | ((o.sf ?? 0) << 17), true);
    this.cqTail++;
    if (this.cqTail === this.qp.qsize) {
      this.cqTail = 0;
      this.phase ^= 1;
    }
  }

  /** Room left in the CQ given the host's head doorbell (one entry always stays empty). */
  cqSpace(): number {
    const head = this.cqHeadDoorbell();
    return (head - this.cqTail - 1 + this.qp.qsize) % this.qp.qsize;
  }
}

export function qpField(h: Harness, qp: TestQp, off: number): number {
  return h.dv.getUint32(qp.desc + off, true);
}
