// The simulated controller's register values and checks (NVMe 1.4 3.1):
// CAP as the configuration gives it, the checks CC.EN = 1 must pass (QEMU
// nvme_start_ctrl's, plus the admin queues inside the DMA window), and
// 64-bit register reads. Pure functions over BAR0's words; the state
// machine that acts on CC lives in controller.ts.
import * as R from '../../assembly/nvme/regs.js';
import { SQE_SIZE, CQE_SIZE } from '../../assembly/nvme/cmd.js';
import type { SimConfig } from './config.js';
import type { DmaWindow } from './dma.js';

const U32 = 2 ** 32;
export const CC_EN = R.CC_EN_MASK << R.CC_EN_SHIFT;
export const CSTS_RDY = R.CSTS_RDY_MASK << R.CSTS_RDY_SHIFT;
export const CSTS_CFS = R.CSTS_CFS_MASK << R.CSTS_CFS_SHIFT;
export const CSTS_SHST = R.CSTS_SHST_MASK << R.CSTS_SHST_SHIFT;

/** CAP's low and high dwords for `cfg` (3.1.1). */
export function capabilities(cfg: SimConfig): { lo: number; hi: number } {
  // CQR = 1: queues must be physically contiguous; AMS = 0: round robin only.
  const cqr = R.CAP_CQR_MASK << R.CAP_CQR_SHIFT;
  const lo = (((cfg.mqes & R.CAP_MQES_MASK) << R.CAP_MQES_SHIFT) | cqr | ((cfg.timeout & R.CAP_TO_MASK) << R.CAP_TO_SHIFT)) >>> 0;
  // MPSMIN = MPSMAX = 0: 4 KiB pages only; NSSRS = 0; BPS = 0.
  const hi = (((cfg.dstrd & R.CAP_DSTRD_MASK) << R.CAP_DSTRD_SHIFT) | (R.CAP_CSS_NVM << R.CAP_CSS_SHIFT)) >>> 0;
  return { lo, hi };
}

/** A 64-bit register (two dwords at byte offsets `lo`, `hi`) as a number. */
export function reg64(bar: Uint32Array, lo: number, hi: number): number {
  return Atomics.load(bar, hi >>> 2) * U32 + Atomics.load(bar, lo >>> 2);
}

/** CC, AQA, ASQ, ACQ as one comparable value (slow path only). */
export function adminRegisters(bar: Uint32Array): string {
  return [R.REG_CC, R.REG_AQA, R.REG_ASQ, R.REG_ASQ_HI, R.REG_ACQ, R.REG_ACQ_HI].map((r) => Atomics.load(bar, r >>> 2)).join(',');
}

/**
 * Why CC.EN = 1 with `cc` cannot take effect, or undefined when it can:
 * QEMU nvme_start_ctrl's checks, plus the admin queues inside the DMA window.
 */
export function enableRefusal(bar: Uint32Array, cc: number, capHi: number, win: DmaWindow): string | undefined {
  const aqa = Atomics.load(bar, R.REG_AQA >>> 2);
  const asq = reg64(bar, R.REG_ASQ, R.REG_ASQ_HI);
  const acq = reg64(bar, R.REG_ACQ, R.REG_ACQ_HI);
  const asqs = R.regField(aqa, R.AQA_ASQS_SHIFT, R.AQA_ASQS_MASK);
  const acqs = R.regField(aqa, R.AQA_ACQS_SHIFT, R.AQA_ACQS_MASK);
  const mps = R.regField(cc, R.CC_MPS_SHIFT, R.CC_MPS_MASK);
  const mpsMin = R.regField(capHi, R.CAP_MPSMIN_SHIFT, R.CAP_MPSMIN_MASK);
  const mpsMax = R.regField(capHi, R.CAP_MPSMAX_SHIFT, R.CAP_MPSMAX_MASK);
  if (asq === 0 || acq === 0) return 'ASQ or ACQ is 0';
  if (asq % R.PAGE_SIZE !== 0 || acq % R.PAGE_SIZE !== 0) return 'ASQ or ACQ not page aligned';
  if (R.regField(cc, R.CC_CSS_SHIFT, R.CC_CSS_MASK) !== R.CC_CSS_NVM) return 'CC.CSS is not the NVM command set';
  if (mps < mpsMin || mps > mpsMax) return `CC.MPS ${mps} outside CAP.MPSMIN..MPSMAX`;
  if (R.regField(cc, R.CC_AMS_SHIFT, R.CC_AMS_MASK) !== R.CC_AMS_RR) return 'CC.AMS is not round robin (CAP.AMS = 0)';
  if (R.regField(cc, R.CC_IOCQES_SHIFT, R.CC_IOCQES_MASK) !== R.CQES_LOG2) return `CC.IOCQES is not ${R.CQES_LOG2}`;
  if (R.regField(cc, R.CC_IOSQES_SHIFT, R.CC_IOSQES_MASK) !== R.SQES_LOG2) return `CC.IOSQES is not ${R.SQES_LOG2}`;
  if (asqs === 0 || acqs === 0) return 'AQA.ASQS or AQA.ACQS is 0';
  if (!win.contains(asq, (asqs + 1) * SQE_SIZE)) return 'the admin SQ is outside the DMA window';
  if (!win.contains(acq, (acqs + 1) * CQE_SIZE)) return 'the admin CQ is outside the DMA window';
  return undefined;
}
