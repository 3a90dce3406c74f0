// The current values of the simulated controller's features (NVMe 1.4
// 5.21.1) and which of them are changeable or namespace specific; the Get
// and Set Features handlers that read and change them are in features.ts.
import { FeatureId, FEAT_CAP_CHANGEABLE, FEAT_CAP_NS_SPECIFIC, ARB_AB_NO_LIMIT } from '../../assembly/nvme/cmd.js';
import type { SimConfig } from './config.js';
import { SIM_WCTEMP_K } from './identify-data.js';

/** Current values of the controller-wide features. */
export class Features {
  arbitration = ARB_AB_NO_LIMIT;
  powerManagement = 0;
  tempOverK = SIM_WCTEMP_K;
  tempUnderK = 0;
  /** Volatile write cache enabled (only meaningful when one is present). */
  wce: boolean;
  interruptCoalescing = 0;
  vectorCoalescingDisabled = true;
  writeAtomicityNormal = 0;
  asyncEventConfig = 0;
  constructor(private readonly cfg: SimConfig) {
    this.wce = cfg.volatileWriteCache;
  }

  /** Capabilities (SEL = 3) of a supported feature, undefined if unsupported. */
  capabilities(fid: number): number | undefined {
    switch (fid) {
      case FeatureId.ErrorRecovery:
        return FEAT_CAP_CHANGEABLE | FEAT_CAP_NS_SPECIFIC;
      case FeatureId.VolatileWriteCache:
        return this.cfg.volatileWriteCache ? FEAT_CAP_CHANGEABLE : undefined;
      case FeatureId.Arbitration:
      case FeatureId.PowerManagement:
      case FeatureId.TemperatureThreshold:
      case FeatureId.NumberOfQueues:
      case FeatureId.InterruptCoalescing:
      case FeatureId.InterruptVectorConfig:
      case FeatureId.WriteAtomicityNormal:
      case FeatureId.AsyncEventConfig:
        return FEAT_CAP_CHANGEABLE;
      default:
        return undefined;
    }
  }
}

/** Number of Queues answer: maxIoQueuePairs of each, 0's based (like QEMU, whatever was asked). */
