// Admin commands (NVMe 1.4 chapter 5), with the checks and status codes of
// QEMU's hw/nvme where it has them. Each handler returns a status field
// (status-codes.ts), sets req.dw0 for its completion dword 0, or returns
// NO_COMPLETION when the completion comes later (AER).
//
// Not supported (Invalid Command Opcode, and not advertised in OACS):
// Namespace Management/Attachment, Firmware Commit/Download, Format NVM,
// Device Self-test, Keep Alive (KAS = 0), Doorbell Buffer Config, Security,
// Directives, Virtualization, NVMe-MI, Sanitize, Get LBA Status.
import {
  AdminOpc,
  Cns,
  LogId,
  NSID_ALL,
  SQE_CDW10,
  SQE_CDW11,
  SQE_CDW12,
  SQE_CDW13,
  CQE_SIZE,
  SQE_SIZE,
  IDENTIFY_CNS_MASK,
  IDENTIFY_DATA_SIZE,
  CQ_QID_MASK,
  CQ_QSIZE_SHIFT,
  CQ_IV_SHIFT,
  CQ_IEN_SHIFT,
  Q_PC_SHIFT,
  SQ_CQID_SHIFT,
  LOG_LID_MASK,
  LOG_NUMDL_SHIFT,
  LOG_NUMD_MASK,
  ABORT_SQID_MASK,
  ABORT_CID_SHIFT,
  ABORT_NOT_ABORTED,
} from '../../assembly/nvme/cmd.js';
import { PAGE_SIZE } from '../../assembly/nvme/regs.js';
import { SIM_IRQ_VECTORS } from './ctl.js';
import { SMART_LOG_SIZE, FWSLOT_LOG_SIZE } from '../../assembly/nvme/identify.js';
import type { SimContext } from './context.js';
import { ReqState, type Request } from './queues.js';
import { NamespaceStats, type Namespace } from './namespace.js';
import { getFeatures, setFeatures } from './features.js';
import { ErrorLog, fillSmartLog, fillFirmwareSlotLog } from './logs.js';
import { fillIdentifyNamespace, fillActiveNamespaceList, fillNamespaceDescriptors } from './identify-data.js';
import { Q_FIELD16_MASK } from '../../assembly/nvme/cmd.js';
import {
  SF_INVALID_OPCODE,
  SF_INVALID_FIELD,
  SF_INVALID_NAMESPACE,
  SF_DATA_TRANSFER_ERROR,
  SF_PRP_OFFSET_INVALID,
  SF_ABORT_REQUESTED,
  SF_COMPLETION_QUEUE_INVALID,
  SF_INVALID_QUEUE_ID,
  SF_INVALID_QUEUE_SIZE,
  SF_INVALID_INTERRUPT_VECTOR,
  SF_INVALID_QUEUE_DELETION,
  SF_INVALID_LOG_PAGE,
  SF_AER_LIMIT_EXCEEDED,
  SF_ABORTED_SQ_DELETION,
  NO_COMPLETION,
} from './status-codes.js';

const U32 = 2 ** 32;
const DWORD = 4;

/** Execute the admin command at dword `e` of the window; returns a status field or NO_COMPLETION. */
export function adminCommand(c: SimContext, req: Request, e: number): number {
  switch (req.opcode) {
    case AdminOpc.DeleteIoSq:
      return deleteIoSq(c, e);
    case AdminOpc.CreateIoSq:
      return createIoSq(c, e);
    case AdminOpc.GetLogPage:
      return getLogPage(c, req, e);
    case AdminOpc.DeleteIoCq:
      return deleteIoCq(c, e);
    case AdminOpc.CreateIoCq:
      return createIoCq(c, e);
    case AdminOpc.Identify:
      return identify(c, req, e);
    case AdminOpc.Abort:
      return abort(c, req, e);
    case AdminOpc.SetFeatures:
      return setFeatures(c, req, e);
    case AdminOpc.GetFeatures:
      return getFeatures(c, req, e);
    case AdminOpc.AsyncEventRequest:
      return asyncEventRequest(c, req);
    default:
      return SF_INVALID_OPCODE;
  }
}

function cdw(c: SimContext, e: number, off: number): number {
  return c.win.u32[e + (off >>> 2)]!;
}

function ioQueueIdValid(c: SimContext, qid: number): boolean {
  return qid >= 1 && qid <= c.cfg.maxIoQueuePairs;
}

// 5.3 Create I/O Completion Queue (QEMU nvme_create_cq)
function createIoCq(c: SimContext, e: number): number {
  const cdw10 = cdw(c, e, SQE_CDW10);
  const cdw11 = cdw(c, e, SQE_CDW11);
  const cqid = cdw10 & CQ_QID_MASK;
  const qsize = cdw10 >>> CQ_QSIZE_SHIFT; // 0's based
  const iv = (cdw11 >>> CQ_IV_SHIFT) & Q_FIELD16_MASK;
  const base = c.dma.prp1(e);
  if (!ioQueueIdValid(c, cqid) || c.queues.cqs[cqid] !== undefined) return SF_INVALID_QUEUE_ID;
  if (qsize === 0 || qsize > c.cfg.mqes) return SF_INVALID_QUEUE_SIZE;
  if (base % PAGE_SIZE !== 0) return SF_PRP_OFFSET_INVALID;
  const ien = ((cdw11 >>> CQ_IEN_SHIFT) & 1) !== 0;
  // Vectors are the ctl page's (irq.ts); like QEMU, IV is checked whether IEN is set or not.
  if (iv >= SIM_IRQ_VECTORS) return SF_INVALID_INTERRUPT_VECTOR;
  if (((cdw11 >>> Q_PC_SHIFT) & 1) === 0) return SF_INVALID_FIELD; // CAP.CQR = 1
  if (!c.queues.inWindow(base, qsize + 1, CQE_SIZE)) return SF_DATA_TRANSFER_ERROR;
  c.queues.newCq(cqid, qsize + 1, base).iv = ien ? iv : -1;
  c.queues.qsCreated = true;
  return 0;
}

// 5.4 Create I/O Submission Queue (QEMU nvme_create_sq); QPRIO is ignored
// (round robin arbitration only).
function createIoSq(c: SimContext, e: number): number {
  const cdw10 = cdw(c, e, SQE_CDW10);
  const cdw11 = cdw(c, e, SQE_CDW11);
  const sqid = cdw10 & CQ_QID_MASK;
  const qsize = cdw10 >>> CQ_QSIZE_SHIFT;
  const cqid = (cdw11 >>> SQ_CQID_SHIFT) & Q_FIELD16_MASK;
  const base = c.dma.prp1(e);
  const cq = ioQueueIdValid(c, cqid) ? c.queues.cqs[cqid] : undefined;
  if (cq === undefined) return SF_COMPLETION_QUEUE_INVALID;
  if (!ioQueueIdValid(c, sqid) || c.queues.sqs[sqid] !== undefined) return SF_INVALID_QUEUE_ID;
  if (qsize === 0 || qsize > c.cfg.mqes) return SF_INVALID_QUEUE_SIZE;
  if (base % PAGE_SIZE !== 0) return SF_PRP_OFFSET_INVALID;
  if (((cdw11 >>> Q_PC_SHIFT) & 1) === 0) return SF_INVALID_FIELD;
  if (!c.queues.inWindow(base, qsize + 1, SQE_SIZE)) return SF_DATA_TRANSFER_ERROR;
  c.queues.newSq(sqid, qsize + 1, base, cq);
  c.queues.qsCreated = true;
  return 0;
}

// 5.6 Delete I/O Submission Queue (QEMU nvme_del_sq)
function deleteIoSq(c: SimContext, e: number): number {
  const qid = cdw(c, e, SQE_CDW10) & CQ_QID_MASK;
  const sq = ioQueueIdValid(c, qid) ? c.queues.sqs[qid] : undefined;
  if (sq === undefined) return SF_INVALID_QUEUE_ID;
  c.completions.abortHeld(sq, SF_ABORTED_SQ_DELETION);
  c.queues.deleteSq(sq);
  return 0;
}

// 5.5 Delete I/O Completion Queue (QEMU nvme_del_cq)
function deleteIoCq(c: SimContext, e: number): number {
  const qid = cdw(c, e, SQE_CDW10) & CQ_QID_MASK;
  const cq = ioQueueIdValid(c, qid) ? c.queues.cqs[qid] : undefined;
  if (cq === undefined) return SF_COMPLETION_QUEUE_INVALID;
  if (cq.sqCount > 0) return SF_INVALID_QUEUE_DELETION;
  c.completions.discardPending(cq);
  c.queues.deleteCq(cq);
  return 0;
}

// 5.15 Identify
function identify(c: SimContext, req: Request, e: number): number {
  const cns = cdw(c, e, SQE_CDW10) & IDENTIFY_CNS_MASK;
  const nsid = req.nsid;
  const b = c.scratch;
  const nn = c.namespaces.length;
  switch (cns) {
    case Cns.Namespace: {
      if (nsid === 0 || nsid === NSID_ALL || nsid > nn) return SF_INVALID_NAMESPACE;
      const ns = c.namespaces[nsid - 1];
      if (ns === undefined) b.fill(0, 0, IDENTIFY_DATA_SIZE); // inactive: all zeroes
      else fillIdentifyNamespace(b, ns, c.cfg.serial);
      break;
    }
    case Cns.Controller:
      c.identifyController.copy(b, 0, 0, IDENTIFY_DATA_SIZE);
      break;
    case Cns.ActiveNamespaceList:
      // NSIDs above FFFFFFFDh cannot be followed by an active one.
      if (nsid >= NSID_ALL - 1) return SF_INVALID_NAMESPACE;
      fillActiveNamespaceList(b, c.namespaces, nsid);
      break;
    case Cns.NamespaceIdDescriptors: {
      if (nsid === 0 || nsid === NSID_ALL || nsid > nn) return SF_INVALID_NAMESPACE;
      const ns = c.namespaces[nsid - 1];
      if (ns === undefined) return SF_INVALID_FIELD;
      fillNamespaceDescriptors(b, ns, c.cfg.serial);
      break;
    }
    default:
      return SF_INVALID_FIELD;
  }
  return c.dma.toHost(e, b, 0, IDENTIFY_DATA_SIZE);
}

// 5.14 Get Log Page. RAE is accepted; events are not masked until their
// log page is read (the sim's events come from the ctl page, not from state).
function getLogPage(c: SimContext, req: Request, e: number): number {
  const cdw10 = cdw(c, e, SQE_CDW10);
  const cdw11 = cdw(c, e, SQE_CDW11);
  const lid = cdw10 & LOG_LID_MASK;
  const numd = (cdw11 & LOG_NUMD_MASK) * (LOG_NUMD_MASK + 1) + (cdw10 >>> LOG_NUMDL_SHIFT) + 1; // NUMDU:NUMDL, 0's based dwords
  const len = numd * DWORD;
  const off = cdw(c, e, SQE_CDW13) * U32 + cdw(c, e, SQE_CDW12);
  if (off % DWORD !== 0) return SF_INVALID_FIELD;
  if (len > c.maxTransfer) return SF_INVALID_FIELD;
  const b = c.scratch;
  let size: number;
  switch (lid) {
    case LogId.ErrorInformation:
      size = ErrorLog.size;
      c.errors.fill(b);
      break;
    case LogId.SmartHealth: {
      size = SMART_LOG_SIZE;
      const stats = smartStats(c, req.nsid);
      if (stats === undefined) return SF_INVALID_NAMESPACE;
      const f = c.features;
      fillSmartLog(b, { stats, errors: c.errors, powerOnMs: c.powerOnMs, nowMs: performance.now(), overTempK: f.tempOverK, underTempK: f.tempUnderK });
      break;
    }
    case LogId.FirmwareSlot:
      size = FWSLOT_LOG_SIZE;
      fillFirmwareSlotLog(b, c.cfg.firmware);
      break;
    default:
      return SF_INVALID_LOG_PAGE;
  }
  if (off >= size) return SF_INVALID_FIELD;
  return c.dma.toHost(e, b, off, Math.min(size - off, len));
}

/** SMART counters: of one namespace, or of all for NSID 0 / FFFFFFFFh (LPA bit 0). */
function smartStats(c: SimContext, nsid: number): NamespaceStats | undefined {
  if (nsid !== 0 && nsid !== NSID_ALL) {
    const ns: Namespace | undefined = nsid <= c.namespaces.length ? c.namespaces[nsid - 1] : undefined;
    return ns?.stats;
  }
  const sum = new NamespaceStats();
  for (const ns of c.namespaces) {
    sum.bytesRead += ns.stats.bytesRead;
    sum.bytesWritten += ns.stats.bytesWritten;
    sum.readCommands += ns.stats.readCommands;
    sum.writeCommands += ns.stats.writeCommands;
  }
  return sum;
}

// 5.1 Abort. A command the controller still holds (latency model, Delay or
// DropCompletion fault) is completed with Command Abort Requested and DW0
// bit 0 = 0; otherwise DW0 bit 0 = 1 (not aborted), like QEMU always does.
// Aborts complete at once, so the Abort Command Limit is never reached.
function abort(c: SimContext, req: Request, e: number): number {
  const cdw10 = cdw(c, e, SQE_CDW10);
  const sqid = cdw10 & ABORT_SQID_MASK;
  const cid = cdw10 >>> ABORT_CID_SHIFT;
  req.dw0 = ABORT_NOT_ABORTED;
  const sq = sqid < c.queues.sqs.length ? c.queues.sqs[sqid] : undefined;
  if (sq === undefined) return SF_INVALID_FIELD;
  for (const r of sq.requests) {
    if (r !== req && r.cid === cid && (r.state === ReqState.Timed || r.state === ReqState.Dropped)) {
      c.completions.abort(r, SF_ABORT_REQUESTED);
      req.dw0 = 0;
      break;
    }
  }
  return 0;
}

// 5.2 Asynchronous Event Request: held until an event (ctl AEN_SEQ); at
// most AERL + 1 outstanding.
function asyncEventRequest(c: SimContext, req: Request): number {
  if (c.events.aers.length > c.cfg.aerl) return SF_AER_LIMIT_EXCEEDED;
  req.state = ReqState.AsyncEvent;
  c.events.aers.push(req);
  c.events.deliver();
  return NO_COMPLETION;
}
