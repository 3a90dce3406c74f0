// Completion status fields for the target's answers.
import { NvmeStatusError, ControllerResetError } from '../../index.js';
import { Sct, GenericSc } from '../../../assembly/nvme/status.js';
import { SF_SCT_SHIFT, SF_DNR_SHIFT, SF_M_SHIFT, SF_CRD_SHIFT } from '../../../assembly/nvme/status.js';

/** The 15-bit status field (NVMe 1.4 4.6.1) for `sct`/`sc`; Do Not Retry unless `dnr` is false. */
export function sf(sct: number, sc: number, dnr = true): number {
  return (sc & 0xff) | ((sct & 7) << SF_SCT_SHIFT) | (dnr ? 1 << SF_DNR_SHIFT : 0);
}

/** The status to answer a remote host with for what the device (or the driver) reported. */
export function statusOf(err: Error): number {
  if (err instanceof NvmeStatusError) {
    return (err.sc & 0xff) | ((err.sct & 7) << SF_SCT_SHIFT) | ((err.crd & 3) << SF_CRD_SHIFT) | (err.more ? 1 << SF_M_SHIFT : 0) | (err.dnr ? 1 << SF_DNR_SHIFT : 0);
  }
  if (err instanceof ControllerResetError) return sf(Sct.Generic, GenericSc.AbortRequested, false); // may be retried
  return sf(Sct.Generic, GenericSc.InternalError, false);
}
