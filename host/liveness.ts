// Is the controller still there? CSTS read all ones means the device is
// gone (surprise removal); CSTS.CFS means it hit a fatal error (9.5: the
// host resets it). The one place both are told apart and reported.
import { REG_CSTS, REG_ALL_ONES, CSTS_CFS_SHIFT, CSTS_CFS_MASK, regField } from '../assembly/nvme/regs.js';
import type { Mmio } from '../hal/index.js';
import { ControllerError } from './errors.js';

/** What every path that finds BAR0 reading all ones reports. */
export function removedError(description: string): ControllerError {
  return new ControllerError(`${description}: registers read all ones (device removed?)`, 'removed');
}

/** Throw if the controller reports a fatal status or reads as removed. */
export function checkAlive(mmio: Mmio, description: string): void {
  const csts = mmio.read32(REG_CSTS);
  if (csts === REG_ALL_ONES) throw removedError(description);
  if (regField(csts, CSTS_CFS_SHIFT, CSTS_CFS_MASK)) throw new ControllerError(`${description}: controller fatal status (CSTS.CFS)`, 'fatal');
}

/** False if the controller reports a fatal status or reads as removed. */
export function isAlive(mmio: Mmio, description: string): boolean {
  try {
    checkAlive(mmio, description);
    return true;
  } catch {
    return false;
  }
}
