// Get Features (5.13) and Set Features (5.21): the two handlers; the values
// they read and change are in feature-values.ts. Checks follow QEMU's
// nvme_get_feature / nvme_set_feature.
import { FeatureId, FEAT_FID_MASK, FEAT_SEL_SHIFT, FEAT_SEL_MASK, FEAT_SV_SHIFT, NQ_NCQ_SHIFT, NQ_NSQ_SHIFT, NQ_MASK, NSID_ALL, numberOfQueues, SQE_CDW10, SQE_CDW11 } from '../../assembly/nvme/cmd.js';
import type { SimConfig } from './config.js';
import type { SimContext } from './context.js';
import type { Request } from './queues.js';
import type { Namespace } from './namespace.js';
import { SIM_WCTEMP_K } from './identify-data.js';
import { FeatureSelect, FEAT_CAP_CHANGEABLE, FEAT_CAP_NS_SPECIFIC, ARB_AB_NO_LIMIT, PM_PS_MASK, TEMP_TMPTH_MASK, TEMP_TMPSEL_SHIFT, TEMP_TMPSEL_MASK, TEMP_TMPSEL_COMPOSITE, TEMP_THSEL_SHIFT, TEMP_THSEL_MASK, TEMP_THSEL_OVER, TEMP_THSEL_UNDER, ERR_REC_TLER_MASK, ERR_REC_DULBE_SHIFT, VWC_WCE_MASK, IVC_IV_MASK, IVC_CD_SHIFT, WAN_DN_MASK } from '../../assembly/nvme/cmd.js';
import {
  SF_INVALID_FIELD,
  SF_INVALID_NAMESPACE,
  SF_FEATURE_NOT_SAVEABLE,
  SF_FEATURE_NOT_NS_SPECIFIC,
  SF_COMMAND_SEQUENCE_ERROR,
} from './status-codes.js';

/** Power states beyond 0 do not exist (Identify NPSS = 0). */
const NPSS = 0;
/** The only interrupt vector (queues are polled; CQs must use IV 0). */
const ONLY_VECTOR = 0;

/** Number of Queues' dword 0: the queue pairs this controller offers, both ways. */
function queuesAllocated(c: SimContext): number {
  return numberOfQueues(c.cfg.maxIoQueuePairs, c.cfg.maxIoQueuePairs);
}

function namespaceOf(c: SimContext, nsid: number): Namespace | undefined {
  return nsid >= 1 && nsid <= c.namespaces.length ? c.namespaces[nsid - 1] : undefined;
}

// 5.13 Get Features
export function getFeatures(c: SimContext, req: Request, e: number): number {
  const u = c.win.u32;
  const cdw10 = u[e + (SQE_CDW10 >>> 2)]!;
  const cdw11 = u[e + (SQE_CDW11 >>> 2)]!;
  const fid = cdw10 & FEAT_FID_MASK;
  const sel = (cdw10 >>> FEAT_SEL_SHIFT) & FEAT_SEL_MASK;
  const f = c.features;
  const caps = f.capabilities(fid);
  if (caps === undefined) return SF_INVALID_FIELD;
  if (sel > FeatureSelect.Capabilities) return SF_INVALID_FIELD; // reserved
  let ns: Namespace | undefined;
  if (caps & FEAT_CAP_NS_SPECIFIC) {
    if (req.nsid === 0 || req.nsid === NSID_ALL || req.nsid > c.namespaces.length) return SF_INVALID_NAMESPACE;
    ns = namespaceOf(c, req.nsid);
    if (ns === undefined) return SF_INVALID_FIELD;
  }
  if (sel === FeatureSelect.Capabilities) {
    req.dw0 = caps;
    return 0;
  }
  // Nothing is saveable: Saved reads as Default.
  const current = sel === FeatureSelect.Current;
  switch (fid) {
    case FeatureId.Arbitration:
      req.dw0 = current ? f.arbitration : ARB_AB_NO_LIMIT;
      return 0;
    case FeatureId.PowerManagement:
      req.dw0 = current ? f.powerManagement : 0;
      return 0;
    case FeatureId.TemperatureThreshold: {
      // Only the composite sensor exists; others read 0.
      if (((cdw11 >>> TEMP_TMPSEL_SHIFT) & TEMP_TMPSEL_MASK) !== TEMP_TMPSEL_COMPOSITE) return 0;
      const thsel = (cdw11 >>> TEMP_THSEL_SHIFT) & TEMP_THSEL_MASK;
      if (thsel === TEMP_THSEL_OVER) req.dw0 = current ? f.tempOverK : SIM_WCTEMP_K;
      else if (thsel === TEMP_THSEL_UNDER) req.dw0 = current ? f.tempUnderK : 0;
      else return SF_INVALID_FIELD;
      return 0;
    }
    case FeatureId.ErrorRecovery:
      req.dw0 = current ? (ns!.tler | ((ns!.dulbe ? 1 : 0) << ERR_REC_DULBE_SHIFT)) >>> 0 : 0;
      return 0;
    case FeatureId.VolatileWriteCache:
      req.dw0 = (current ? f.wce : c.cfg.volatileWriteCache) ? 1 : 0;
      return 0;
    case FeatureId.NumberOfQueues:
      req.dw0 = queuesAllocated(c);
      return 0;
    case FeatureId.InterruptCoalescing:
      req.dw0 = current ? f.interruptCoalescing : 0;
      return 0;
    case FeatureId.InterruptVectorConfig: {
      const iv = cdw11 & IVC_IV_MASK;
      if (iv !== ONLY_VECTOR) return SF_INVALID_FIELD;
      const cd = current ? f.vectorCoalescingDisabled : true;
      req.dw0 = (iv | ((cd ? 1 : 0) << IVC_CD_SHIFT)) >>> 0;
      return 0;
    }
    case FeatureId.WriteAtomicityNormal:
      req.dw0 = current ? f.writeAtomicityNormal : 0;
      return 0;
    case FeatureId.AsyncEventConfig:
      req.dw0 = current ? f.asyncEventConfig : 0;
      return 0;
  }
  return SF_INVALID_FIELD;
}

// 5.21 Set Features
export function setFeatures(c: SimContext, req: Request, e: number): number {
  const u = c.win.u32;
  const cdw10 = u[e + (SQE_CDW10 >>> 2)]!;
  const cdw11 = u[e + (SQE_CDW11 >>> 2)]!;
  const fid = cdw10 & FEAT_FID_MASK;
  const f = c.features;
  if ((cdw10 >>> FEAT_SV_SHIFT) & 1) return SF_FEATURE_NOT_SAVEABLE;
  const caps = f.capabilities(fid);
  if (caps === undefined) return SF_INVALID_FIELD;
  const nsid = req.nsid;
  if (caps & FEAT_CAP_NS_SPECIFIC) {
    if (nsid !== NSID_ALL) {
      if (nsid === 0 || nsid > c.namespaces.length) return SF_INVALID_NAMESPACE;
      if (namespaceOf(c, nsid) === undefined) return SF_INVALID_FIELD;
    }
  } else if (nsid !== 0 && nsid !== NSID_ALL) {
    return nsid > c.namespaces.length ? SF_INVALID_NAMESPACE : SF_FEATURE_NOT_NS_SPECIFIC;
  }
  switch (fid) {
    case FeatureId.Arbitration:
      f.arbitration = cdw11;
      return 0;
    case FeatureId.PowerManagement:
      if ((cdw11 & PM_PS_MASK) > NPSS) return SF_INVALID_FIELD;
      f.powerManagement = cdw11;
      return 0;
    case FeatureId.TemperatureThreshold: {
      if (((cdw11 >>> TEMP_TMPSEL_SHIFT) & TEMP_TMPSEL_MASK) !== TEMP_TMPSEL_COMPOSITE) return 0; // other sensors: ignored
      const thsel = (cdw11 >>> TEMP_THSEL_SHIFT) & TEMP_THSEL_MASK;
      if (thsel === TEMP_THSEL_OVER) f.tempOverK = cdw11 & TEMP_TMPTH_MASK;
      else if (thsel === TEMP_THSEL_UNDER) f.tempUnderK = cdw11 & TEMP_TMPTH_MASK;
      else return SF_INVALID_FIELD;
      return 0;
    }
    case FeatureId.ErrorRecovery:
      for (const ns of c.namespaces) {
        if (nsid !== NSID_ALL && ns.nsid !== nsid) continue;
        ns.tler = cdw11 & ERR_REC_TLER_MASK;
        ns.dulbe = ((cdw11 >>> ERR_REC_DULBE_SHIFT) & 1) !== 0;
      }
      return 0;
    case FeatureId.VolatileWriteCache: {
      const wce = (cdw11 & VWC_WCE_MASK) !== 0;
      if (f.wce && !wce) for (const ns of c.namespaces) ns.backing.flush(); // like QEMU
      f.wce = wce;
      return 0;
    }
    case FeatureId.NumberOfQueues:
      if (c.queues.qsCreated) return SF_COMMAND_SEQUENCE_ERROR;
      // 5.21.1.7: 65535 is not a valid NSQR / NCQR.
      if (((cdw11 >>> NQ_NSQ_SHIFT) & NQ_MASK) === NQ_MASK || ((cdw11 >>> NQ_NCQ_SHIFT) & NQ_MASK) === NQ_MASK) return SF_INVALID_FIELD;
      req.dw0 = queuesAllocated(c);
      return 0;
    case FeatureId.InterruptCoalescing:
      f.interruptCoalescing = cdw11;
      return 0;
    case FeatureId.InterruptVectorConfig:
      if ((cdw11 & IVC_IV_MASK) !== ONLY_VECTOR) return SF_INVALID_FIELD;
      f.vectorCoalescingDisabled = ((cdw11 >>> IVC_CD_SHIFT) & 1) !== 0;
      return 0;
    case FeatureId.WriteAtomicityNormal:
      f.writeAtomicityNormal = cdw11 & WAN_DN_MASK;
      return 0;
    case FeatureId.AsyncEventConfig:
      f.asyncEventConfig = cdw11;
      return 0;
  }
  return SF_INVALID_FIELD;
}
