// The spec's register sequences, as functions over the registers (and, for
// initialisation, the admin commands), each step citing its section of NVM
// Express Base Specification 1.4:
//   checkCapabilities   3.1.1   CAP: the command set and page size we use
//   disable             3.1.5, 7.3.2   CC.EN = 0, wait CSTS.RDY = 0
//   enable              7.6.1 steps 2-4   AQA/ASQ/ACQ, CC, wait CSTS.RDY = 1
//   initialise          7.6.1 steps 5-7   Identify, Number of Queues, namespaces
//   shutdown            7.6.2   CC.SHN = normal, wait CSTS.SHST = complete
// Every wait is bounded by CAP.TO (or more for the shutdown).
import {
  REG_CAP, REG_CAP_HI, REG_VS, REG_CC, REG_CSTS, REG_AQA, REG_ASQ, REG_ASQ_HI, REG_ACQ, REG_ACQ_HI, REG_ALL_ONES,
  CAP_CSS_SHIFT, CAP_CSS_MASK, CAP_CSS_NVM, CAP_MPSMIN_SHIFT, CAP_MPSMIN_MASK, CC_EN_SHIFT, CC_EN_MASK, CC_CSS_SHIFT, CC_CSS_MASK,
  CC_CSS_NVM, CC_MPS_SHIFT, CC_MPS_MASK, CC_AMS_SHIFT, CC_AMS_MASK, CC_AMS_RR, CC_SHN_SHIFT, CC_SHN_MASK, CC_SHN_NORMAL,
  CC_IOSQES_SHIFT, CC_IOSQES_MASK, CC_IOCQES_SHIFT, CC_IOCQES_MASK,
  CSTS_RDY_SHIFT, CSTS_RDY_MASK, CSTS_SHST_SHIFT, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, AQA_ACQS_SHIFT, AQA_ASQS_SHIFT,
  SQES_LOG2, CQES_LOG2, PAGE_SHIFT, regField, regFieldSet,
} from '../assembly/nvme/regs.js';
import { Cns } from '../assembly/nvme/cmd.js';
import type { Mmio } from '../hal/index.js';
import { ControllerError, NvmeTimeoutError } from './errors.js';
import { checkAlive, removedError } from './liveness.js';
import { parseControllerData, type ControllerData } from './identify.js';
import type { AdminCommands } from './admin-commands.js';

/** The registers of one controller, with what the waits need. */
export interface ControllerRegisters {
  readonly mmio: Mmio;
  /** How the controller is named in messages (its transport ID). */
  readonly description: string;
  /** CAP.TO in ms: the bound on every enable/disable wait. */
  readonly readyTimeoutMs: number;
  /**
   * The device is known to be gone although its registers do not say so (a
   * simulator whose process exited leaves them as they were): every wait
   * ends at once with ControllerError('removed') instead of running to its bound.
   */
  readonly deviceGone?: () => boolean;
}

/** The check every register wait makes on each round: removed (all ones, or known gone) ends it. */
function goneCheck(r: ControllerRegisters): () => void {
  return () => {
    if (r.mmio.read32(REG_CSTS) === REG_ALL_ONES) throw removedError(r.description);
    if (r.deviceGone?.()) throw new ControllerError(`${r.description}: the device is gone (its process exited)`, 'removed');
  };
}

/** The controller's main registers as they read now (3.1). */
export interface Registers {
  cap: bigint;
  vs: number;
  cc: number;
  csts: number;
}

export function readRegisters(m: Mmio): Registers {
  return {
    cap: BigInt(m.read32(REG_CAP)) | (BigInt(m.read32(REG_CAP_HI)) << 32n),
    vs: m.read32(REG_VS),
    cc: m.read32(REG_CC),
    csts: m.read32(REG_CSTS),
  };
}

/** Wait until `cond()` holds, polling every millisecond, at most `timeoutMs`; `fail` may throw to end the wait early. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string, fail?: () => void): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (cond()) return;
    fail?.();
    if (performance.now() > end) throw new NvmeTimeoutError(what, timeoutMs);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** 3.1.1: a device at all, with the NVM command set and 4 KiB pages (CC.MPS = 0 needs CAP.MPSMIN = 0, 3.1.5). */
export function checkCapabilities(m: Mmio): void {
  const capLo = m.read32(REG_CAP);
  const capHi = m.read32(REG_CAP_HI);
  if (capLo === REG_ALL_ONES && capHi === REG_ALL_ONES) throw new ControllerError('registers read all ones: no device', 'removed');
  if (!(regField(capHi, CAP_CSS_SHIFT, CAP_CSS_MASK) & CAP_CSS_NVM)) throw new ControllerError('controller lacks the NVM command set (CAP.CSS)', 'unsupported');
  const mpsmin = regField(capHi, CAP_MPSMIN_SHIFT, CAP_MPSMIN_MASK);
  if (mpsmin !== 0) throw new ControllerError(`controller needs pages of ${2 ** (PAGE_SHIFT + mpsmin)} bytes; this driver uses ${2 ** PAGE_SHIFT} (CAP.MPSMIN)`, 'unsupported');
}

/** Clear CC.EN and wait for CSTS.RDY = 0 (a controller reset, 3.1.5 / 7.3.2): the controller stops touching memory. */
export async function disable(r: ControllerRegisters): Promise<void> {
  const m = r.mmio;
  const cc = m.read32(REG_CC);
  if (regField(cc, CC_EN_SHIFT, CC_EN_MASK)) m.write32(REG_CC, regFieldSet(cc, CC_EN_SHIFT, CC_EN_MASK, 0));
  await waitFor(() => regField(m.read32(REG_CSTS), CSTS_RDY_SHIFT, CSTS_RDY_MASK) === 0, r.readyTimeoutMs,
    `${r.description}: waiting for CSTS.RDY = 0 after CC.EN = 0 (CAP.TO)`, goneCheck(r));
}

/** The admin queue as the registers name it (7.6.1 step 2). */
export interface AdminQueueRegisters {
  /** Entries in each admin ring. */
  depth: number;
  /** Device addresses of the admin SQ and CQ. */
  asq: bigint;
  acq: bigint;
}

/**
 * 7.6.1 steps 2 to 4 (also after every reset): the admin queue registers,
 * then CC.EN = 1, then CSTS.RDY = 1 within CAP.TO.
 */
export async function enable(r: ControllerRegisters, aq: AdminQueueRegisters): Promise<void> {
  const m = r.mmio;
  // Step 2: admin queue attributes and bases (3.1.8 - 3.1.10), as 32-bit
  // accesses, low dword first.
  m.write32(REG_AQA, ((aq.depth - 1) << AQA_ACQS_SHIFT) | ((aq.depth - 1) << AQA_ASQS_SHIFT));
  m.write32(REG_ASQ, Number(aq.asq & 0xffffffffn));
  m.write32(REG_ASQ_HI, Number(aq.asq >> 32n));
  m.write32(REG_ACQ, Number(aq.acq & 0xffffffffn));
  m.write32(REG_ACQ_HI, Number(aq.acq >> 32n));

  // Step 3: NVM command set, 4 KiB pages (MPS 0), round robin, 64/16-byte
  // entries, enable. Written after the admin registers: EN makes the
  // controller read them.
  let cc = 0;
  cc = regFieldSet(cc, CC_CSS_SHIFT, CC_CSS_MASK, CC_CSS_NVM);
  cc = regFieldSet(cc, CC_MPS_SHIFT, CC_MPS_MASK, 0);
  cc = regFieldSet(cc, CC_AMS_SHIFT, CC_AMS_MASK, CC_AMS_RR);
  cc = regFieldSet(cc, CC_IOSQES_SHIFT, CC_IOSQES_MASK, SQES_LOG2);
  cc = regFieldSet(cc, CC_IOCQES_SHIFT, CC_IOCQES_MASK, CQES_LOG2);
  cc = regFieldSet(cc, CC_EN_SHIFT, CC_EN_MASK, 1);
  m.write32(REG_CC, cc);

  // Step 4: CSTS.RDY within CAP.TO (3.1.1), failing early on CSTS.CFS.
  await waitFor(() => regField(m.read32(REG_CSTS), CSTS_RDY_SHIFT, CSTS_RDY_MASK) === 1, r.readyTimeoutMs,
    `${r.description}: waiting for CSTS.RDY = 1 after CC.EN = 1 (CAP.TO)`, () => {
      goneCheck(r)();
      checkAlive(m, r.description);
    });
}

/** What initialisation found out. */
export interface Initialised {
  /** Identify Controller (5.15.2.2). */
  data: ControllerData;
  /** Bytes per command: MDTS (in CAP.MPSMIN pages: 4 KiB here) capped by the driver's limit. */
  maxTransfer: number;
  /** I/O queue pairs granted (Number of Queues, both directions). */
  maxQueuePairs: number;
}

/**
 * 7.6.1 steps 1 to 6: reset the controller (it may still be enabled from a
 * previous user), enable it with the admin queue, Identify Controller,
 * Number of Queues. Step 7 (namespaces) is the caller's.
 */
export async function initialiseController(r: ControllerRegisters, aq: AdminQueueRegisters, admin: AdminCommands, opts: { maxTransferBytes: number; requestedQueuePairs: number }): Promise<Initialised> {
  checkCapabilities(r.mmio);
  await disable(r); // step 1
  await enable(r, aq); // steps 2 to 4
  // Step 5: Identify Controller (5.15.2.2).
  const data = parseControllerData(await admin.identify(Cns.Controller, 0));
  const mdtsBytes = data.mdts === 0 ? Infinity : 2 ** data.mdts * 2 ** PAGE_SHIFT;
  // Step 6: Number of Queues (5.21.1.7); 0xFFFF is reserved, so at most 65535 (0's based 0xFFFE).
  const want = Math.min(opts.requestedQueuePairs, 0xfffe);
  const got = await admin.setNumberOfQueues(want);
  return { data, maxTransfer: Math.min(mdtsBytes, opts.maxTransferBytes), maxQueuePairs: Math.min(got.sq, got.cq, want) };
}

/**
 * 7.6.2 normal shutdown: CC.SHN = 01b, then CSTS.SHST = 10b (shutdown
 * complete), bounded by CAP.TO or 5 s, whichever is longer. The I/O queues
 * must be deleted first (7.6.2 step 1, the caller's).
 */
export async function shutdown(r: ControllerRegisters): Promise<void> {
  const m = r.mmio;
  m.write32(REG_CC, regFieldSet(m.read32(REG_CC), CC_SHN_SHIFT, CC_SHN_MASK, CC_SHN_NORMAL));
  await waitFor(() => regField(m.read32(REG_CSTS), CSTS_SHST_SHIFT, CSTS_SHST_MASK) === CSTS_SHST_COMPLETE,
    Math.max(r.readyTimeoutMs, 5000), `${r.description}: waiting for CSTS.SHST = complete after CC.SHN`, goneCheck(r));
}
