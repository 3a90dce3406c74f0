// NVM command set I/O commands (NVMe 1.4 chapter 6) on I/O queues, checked
// in QEMU's order: namespace, opcode, MDTS, LBA range, then the PRPs. The
// Read and Write paths allocate nothing: PRP segments go straight between
// the DMA window and the backing store.
//
// Not supported (Invalid Command Opcode, not in ONCS): Write Uncorrectable,
// Reservations, Copy, Zone commands. End-to-end protection (PRINFO) and
// metadata are ignored (LBA formats have no metadata).
import {
  NvmOpc,
  NSID_ALL,
  SQE_CDW10,
  SQE_CDW11,
  SQE_CDW12,
  RW_NLB_MASK,
  RW_DEAC_SHIFT,
  RW_FUA_SHIFT,
  DSM_NR_MASK,
  DSM_AD_SHIFT,
  DSM_RANGE_SIZE,
  DSM_RANGE_NLB,
  DSM_RANGE_SLBA,
} from '../../assembly/nvme/cmd.js';
import type { SimContext } from './context.js';
import type { Request } from './queues.js';
import type { Namespace } from './namespace.js';
import {
  SF_INVALID_OPCODE,
  SF_INVALID_FIELD,
  SF_INVALID_NAMESPACE,
  SF_LBA_OUT_OF_RANGE,
  SF_COMPARE_FAILURE,
  SF_DEALLOCATED_BLOCK,
  SF_UNRECOVERED_READ_ERROR,
  SF_WRITE_FAULT,
} from './status-codes.js';

const U32 = 2 ** 32;
const CDW10 = SQE_CDW10 >>> 2;
const CDW11 = SQE_CDW11 >>> 2;
const CDW12 = SQE_CDW12 >>> 2;

/** Execute the NVM command at dword `e` of the window (an I/O queue); returns a status field. */
export function nvmCommand(c: SimContext, req: Request, e: number): number {
  const nsid = req.nsid;
  if (nsid === NSID_ALL) return req.opcode === NvmOpc.Flush ? flushAll(c) : SF_INVALID_NAMESPACE;
  if (nsid === 0 || nsid > c.namespaces.length) return SF_INVALID_NAMESPACE;
  const ns = c.namespaces[nsid - 1]!;
  switch (req.opcode) {
    case NvmOpc.Read:
      return read(c, req, e, ns);
    case NvmOpc.Write:
      return write(c, req, e, ns);
    case NvmOpc.Flush:
      return flush(ns);
    case NvmOpc.Compare:
      return compare(c, req, e, ns);
    case NvmOpc.WriteZeroes:
      return writeZeroes(c, req, e, ns);
    case NvmOpc.DatasetManagement:
      return datasetManagement(c, e, ns);
    case NvmOpc.Verify:
      return verify(c, req, e, ns);
    default:
      return SF_INVALID_OPCODE;
  }
}

/** SLBA (CDW10-11) of the command at dword `e`; also kept in `req.lba` for the Error Information log. */
function slbaOf(u: Uint32Array, e: number, req: Request): number {
  const slba = u[e + CDW11]! * U32 + u[e + CDW10]!;
  req.lba = slba;
  return slba;
}

/** NLB of the command at dword `e` (CDW12 bits 15:0 are 0's based). */
function nlbOf(u: Uint32Array, e: number): number {
  return (u[e + CDW12]! & RW_NLB_MASK) + 1;
}

/** FUA (CDW12), or a disabled/absent write cache: make the written blocks durable now. */
function flushIfUncached(c: SimContext, ns: Namespace, cdw12: number): void {
  if ((cdw12 >>> RW_FUA_SHIFT) & 1 || !writeCacheOn(c)) ns.backing.flush();
}

/**
 * Move the data of the PRP segments last walked (c.prp) between the DMA
 * window and the namespace from block `slba`: to the medium when
 * `toMedia`, else from it. Throws what the backing throws.
 */
function moveData(c: SimContext, ns: Namespace, slba: number, toMedia: boolean): void {
  const prp = c.prp;
  const buf = c.win.buf;
  let pos = slba * ns.lbaSize;
  for (let i = 0; i < prp.count; i++) {
    const n = prp.segLen[i]!;
    if (toMedia) ns.backing.write(buf, prp.segOff[i]!, n, pos);
    else ns.backing.read(buf, prp.segOff[i]!, n, pos);
    pos += n;
  }
}

/** SLBA of DSM range `r` (byte offset in `b`). */
function rangeSlba(b: Buffer, r: number): number {
  return b.readUInt32LE(r + DSM_RANGE_SLBA + 4) * U32 + b.readUInt32LE(r + DSM_RANGE_SLBA);
}

/**
 * The checks shared by Read, Write and Compare: MDTS (Invalid Field), LBA
 * range, then the PRPs (left in c.prp). Returns 0 or a status field.
 */
function checkTransfer(c: SimContext, e: number, ns: Namespace, slba: number, nlb: number): number {
  if (ns.metadataSize !== 0) return SF_INVALID_NAMESPACE; // Invalid Namespace or Format: metadata formats are described, not moved
  const len = nlb * ns.lbaSize;
  if (len > c.maxTransfer) return SF_INVALID_FIELD;
  if (slba + nlb > ns.blocks) return SF_LBA_OUT_OF_RANGE;
  return c.dma.walk(e, len);
}

// 6.9 Read
function read(c: SimContext, req: Request, e: number, ns: Namespace): number {
  const u = c.win.u32;
  const slba = slbaOf(u, e, req);
  const nlb = nlbOf(u, e);
  const st = checkTransfer(c, e, ns, slba, nlb);
  if (st !== 0) return st;
  // Error Recovery DULBE: reading a deallocated block is an error.
  if (ns.dulbe && ns.alloc.count(slba, nlb) !== nlb) return SF_DEALLOCATED_BLOCK;
  const len = nlb << ns.lbaShift;
  if (!c.cfg.nullIo) {
    try {
      moveData(c, ns, slba, false);
    } catch {
      return SF_UNRECOVERED_READ_ERROR;
    }
  }
  ns.stats.readCommands++;
  ns.stats.bytesRead += len;
  return 0;
}

// 6.15 Write. FUA, or a disabled/absent write cache, makes the data
// durable before the completion (fdatasync of a file backing).
function write(c: SimContext, req: Request, e: number, ns: Namespace): number {
  const u = c.win.u32;
  const slba = slbaOf(u, e, req);
  const cdw12 = u[e + CDW12]!;
  const nlb = nlbOf(u, e);
  const st = checkTransfer(c, e, ns, slba, nlb);
  if (st !== 0) return st;
  const len = nlb << ns.lbaShift;
  if (!c.cfg.nullIo) {
    try {
      moveData(c, ns, slba, true);
      ns.alloc.set(slba, nlb);
      flushIfUncached(c, ns, cdw12);
    } catch {
      return SF_WRITE_FAULT;
    }
  }
  ns.stats.writeCommands++;
  ns.stats.bytesWritten += len;
  return 0;
}

function writeCacheOn(c: SimContext): boolean {
  return c.cfg.volatileWriteCache && c.features.wce;
}

// 6.8 Flush (NSID FFFFFFFFh: every namespace, VWC bits 2:1 = 11b)
function flush(ns: Namespace): number {
  try {
    ns.backing.flush();
  } catch {
    return SF_WRITE_FAULT;
  }
  return 0;
}

function flushAll(c: SimContext): number {
  for (const ns of c.namespaces) {
    const st = flush(ns);
    if (st !== 0) return st;
  }
  return 0;
}

// 6.6 Compare: media error Compare Failure when the data differs.
function compare(c: SimContext, req: Request, e: number, ns: Namespace): number {
  const u = c.win.u32;
  const slba = slbaOf(u, e, req);
  const nlb = nlbOf(u, e);
  const st = checkTransfer(c, e, ns, slba, nlb);
  if (st !== 0) return st;
  if (!c.cfg.nullIo) {
    const len = nlb << ns.lbaShift;
    const media = c.dma.compareBuffer(len);
    try {
      ns.backing.read(media, 0, len, slba * ns.lbaSize);
    } catch {
      return SF_UNRECOVERED_READ_ERROR;
    }
    const prp = c.prp;
    let pos = 0;
    for (let i = 0; i < prp.count; i++) {
      const off = prp.segOff[i]!;
      const n = prp.segLen[i]!;
      if (c.win.buf.compare(media, pos, pos + n, off, off + n) !== 0) return SF_COMPARE_FAILURE;
      pos += n;
    }
  }
  ns.stats.readCommands++;
  return 0;
}

// 6.17 Write Zeroes. No data transfer, so MDTS does not apply. DEAC = 1
// deallocates the blocks (they read as zeroes either way, DLFEAT 001b).
function writeZeroes(c: SimContext, req: Request, e: number, ns: Namespace): number {
  const u = c.win.u32;
  const slba = slbaOf(u, e, req);
  const cdw12 = u[e + CDW12]!;
  const nlb = nlbOf(u, e);
  if (slba + nlb > ns.blocks) return SF_LBA_OUT_OF_RANGE;
  try {
    ns.backing.zero(slba * ns.lbaSize, nlb << ns.lbaShift);
    if ((cdw12 >>> RW_DEAC_SHIFT) & 1) ns.alloc.clear(slba, nlb);
    else ns.alloc.set(slba, nlb);
    flushIfUncached(c, ns, cdw12);
  } catch {
    return SF_WRITE_FAULT;
  }
  ns.stats.writeCommands++;
  return 0;
}

// 6.7 Dataset Management: NR + 1 ranges of 16 bytes, read by DMA. With AD
// the ranges are deallocated (zeroed, so they read as zeroes and a file
// backing stays right across restarts); IDR / IDW hints are accepted and
// ignored. A range beyond the namespace fails the command before any change.
function datasetManagement(c: SimContext, e: number, ns: Namespace): number {
  const u = c.win.u32;
  const nr = (u[e + CDW10]! & DSM_NR_MASK) + 1;
  const attrs = u[e + CDW11]!;
  const b = c.scratch;
  const st = c.dma.fromHost(e, b, nr * DSM_RANGE_SIZE);
  if (st !== 0) return st;
  if (((attrs >>> DSM_AD_SHIFT) & 1) === 0) return 0;
  for (let i = 0; i < nr; i++) {
    const r = i * DSM_RANGE_SIZE;
    const slba = rangeSlba(b, r);
    if (slba + b.readUInt32LE(r + DSM_RANGE_NLB) > ns.blocks) return SF_LBA_OUT_OF_RANGE;
  }
  try {
    for (let i = 0; i < nr; i++) {
      const r = i * DSM_RANGE_SIZE;
      const slba = rangeSlba(b, r);
      const nlb = b.readUInt32LE(r + DSM_RANGE_NLB);
      if (nlb === 0) continue;
      ns.backing.zero(slba * ns.lbaSize, nlb * ns.lbaSize);
      ns.alloc.clear(slba, nlb);
    }
  } catch {
    return SF_WRITE_FAULT;
  }
  return 0;
}

// 6.16 Verify: nothing can be corrupt in a simulated medium, so it checks
// the range (and DULBE) and succeeds. No data transfer: MDTS does not apply.
function verify(c: SimContext, req: Request, e: number, ns: Namespace): number {
  const u = c.win.u32;
  const slba = slbaOf(u, e, req);
  const nlb = nlbOf(u, e);
  if (slba + nlb > ns.blocks) return SF_LBA_OUT_OF_RANGE;
  if (ns.dulbe && ns.alloc.count(slba, nlb) !== nlb) return SF_DEALLOCATED_BLOCK;
  ns.stats.readCommands++;
  return 0;
}
