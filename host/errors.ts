// Typed errors of the public API. Every failure a caller can meet is one of
// these (or a HalError from the system-call layer), never a bare string.
import fs from 'node:fs';
import {
  Sct, GenericSc, CommandSpecificSc, MediaSc, PathSc, SF_SC_SHIFT, SF_SC_MASK, SF_SCT_SHIFT, SF_SCT_MASK, SF_DNR_SHIFT, SF_DNR_MASK,
  SF_M_SHIFT, SF_M_MASK, SF_CRD_SHIFT, SF_CRD_MASK,
} from '../assembly/nvme/status.js';
import { AdminOpc, NvmOpc } from '../assembly/nvme/cmd.js';
import { CoreStatus } from '../assembly/abi/status.js';
export { HalError } from '../hal/errors.js';

export class NvmeError extends Error {}

/** An argument was rejected before anything was sent to the device. */
export class InvalidArgumentError extends NvmeError {
  override readonly name: string = 'InvalidArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly value?: unknown,
  ) {
    super(`invalid ${argument}: expected ${expected}${value === undefined ? '' : `, got ${fmt(value)}`}`);
  }
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `${v.constructor.name}(${v.length})`;
  try {
    return String(v);
  } catch {
    return typeof v;
  }
}

/** Acronyms the spec writes in capitals, and the small words it writes in lower case. */
const ACRONYMS = new Set(['lba', 'sgl', 'cmb', 'pmr', 'aer', 'id', 'nvm', 'ana', 'pi', 'prp', 'sq', 'cq', 'io']);
const SMALL = new Set(['of', 'in', 'to', 'for', 'the', 'a', 'or', 'and', 'by', 'on']);

/** An enum member's name as the spec writes it: 'LbaOutOfRange' -> 'LBA Out of Range'. */
export function specName(member: string): string {
  return member
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(' ')
    .map((w, i) => {
      const l = w.toLowerCase();
      if (ACRONYMS.has(l)) return l.toUpperCase();
      return i > 0 && SMALL.has(l) ? l : w;
    })
    .join(' ');
}

/** The spec's name of status `sc` of type `sct` (4.6.1.2), e.g. 'Zone Invalid Write'; numbers when unknown. */
export function statusName(sct: number, sc: number): string {
  const table: Record<number, Record<number, string>> = {
    [Sct.Generic]: GenericSc as unknown as Record<number, string>,
    [Sct.CommandSpecific]: CommandSpecificSc as unknown as Record<number, string>,
    [Sct.MediaError]: MediaSc as unknown as Record<number, string>,
    [Sct.PathRelated]: PathSc as unknown as Record<number, string>,
  };
  const member = table[sct]?.[sc];
  return member !== undefined ? specName(member) : `sct ${sct} sc 0x${sc.toString(16).padStart(2, '0')}`;
}

/** The spec's name of an admin or NVM opcode, e.g. 'Get Features'. */
export function opcodeName(admin: boolean, opcode: number): string {
  const n = (admin ? (AdminOpc as unknown as Record<number, string>) : (NvmOpc as unknown as Record<number, string>))[opcode];
  return n !== undefined ? specName(n) : `opcode 0x${opcode.toString(16).padStart(2, '0')}`;
}

/** The controller completed a command with a non-zero status (4.6.1). */
export class NvmeStatusError extends NvmeError {
  override readonly name = 'NvmeStatusError';
  readonly statusName: string;
  constructor(
    /** Status Code Type */
    readonly sct: number,
    /** Status Code */
    readonly sc: number,
    /** Do Not Retry */
    readonly dnr: boolean,
    readonly opcode: number,
    readonly cid: number,
    readonly qid: number,
    /** More: the Error Information log has details. */
    readonly more = false,
    /** Command Retry Delay index. */
    readonly crd = 0,
  ) {
    const sn = statusName(sct, sc);
    super(`${opcodeName(qid === 0, opcode)} failed: ${sn} (sct ${sct}, sc 0x${sc.toString(16).padStart(2, '0')}${dnr ? ', dnr' : ''}) on qid ${qid} cid ${cid}`);
    this.statusName = sn;
  }
}

/**
 * How a timed-out command ended: 'aborted' (an Abort took it back),
 * 'reset' (a controller reset did), 'failed' (the controller or the queue
 * pair went away).
 */
export type TimeoutRecovery = 'aborted' | 'reset' | 'failed';

/** A command or a controller state change did not complete in time. */
export class NvmeTimeoutError extends NvmeError {
  override readonly name = 'NvmeTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly opcode?: number,
    readonly cid?: number,
    readonly qid?: number,
    /** For a command: how the driver took it back after the deadline. */
    readonly recovery?: TimeoutRecovery,
  ) {
    super(`${what} timed out after ${timeoutMs} ms${recovery ? ` (${recovery === 'failed' ? 'then the controller failed' : recovery === 'aborted' ? 'aborted' : 'ended by a controller reset'})` : ''}`);
  }
}

/** Why a controller reset happened. */
export type ResetReason = 'fatal' | 'timeout' | 'requested';

/**
 * The command was in flight when the controller was reset (by any process
 * of the group): it may or may not have been executed. The queue pair
 * comes back after the reset; the command may be retried.
 */
export class ControllerResetError extends NvmeError {
  override readonly name = 'ControllerResetError';
  constructor(
    readonly reason: ResetReason,
    /** The group's reset generation this reset started. */
    readonly generation: number,
  ) {
    super(`command ended by a controller reset (${reason === 'fatal' ? 'controller fatal status, CSTS.CFS' : reason === 'timeout' ? 'a command timed out and Abort did not take it back' : 'requested'})`);
  }
}

/** The controller is unusable: CSTS.CFS, removed, or not initialised. */
export class ControllerError extends NvmeError {
  override readonly name = 'ControllerError';
  constructor(
    message: string,
    readonly reason: 'fatal' | 'removed' | 'closed' | 'unsupported' | 'state' | 'reset-failed',
  ) {
    super(message);
  }
}

/** The driver ran out of a resource: queue ids, DMA memory, command slots. */
export class ResourceError extends NvmeError {
  override readonly name = 'ResourceError';
  constructor(
    message: string,
    readonly resource: 'qid' | 'dma' | 'slot',
  ) {
    super(message);
  }
}

/**
 * A message, request or reply between the processes of a group is larger
 * than the limit (MP_MAX_PAYLOAD bytes of JSON, host/mp/protocol.ts).
 */
export class MessageTooLargeError extends InvalidArgumentError {
  override readonly name: string = 'MessageTooLargeError';
  constructor(
    argument: string,
    /** Bytes of the payload's JSON text. */
    readonly size: number,
    /** The limit in bytes. */
    readonly limit: number,
  ) {
    super(argument, `at most ${limit} bytes of JSON`, `${size} bytes`);
  }
}

/**
 * A PCIe device cannot be used from user space as it is: missing, bound to
 * the kernel's driver, in use by another process, no IOMMU for VFIO, or not
 * enough rights. The message says what to do (usually `nvme-wasm setup`).
 */
export class PcieError extends NvmeError {
  override readonly name = 'PcieError';
  constructor(
    message: string,
    /** PCI address DDDD:BB:DD.F */
    readonly address: string,
    readonly reason: 'missing' | 'driver' | 'in-use' | 'permission' | 'iommu',
  ) {
    super(message);
  }
}

/**
 * The Wasm core refused an operation for a reason no caller argument
 * explains (its tables are inconsistent, or a build mismatch): a driver
 * fault, reported with the core's status.
 */
export class CoreStatusError extends NvmeError {
  override readonly name = 'CoreStatusError';
  readonly statusName: string;
  constructor(
    /** What the driver asked the core to do. */
    readonly operation: string,
    /** The CoreStatus it returned (assembly/abi/status.ts). */
    readonly status: number,
  ) {
    const n = CoreStatus[status] ?? String(status);
    super(`${operation}: the Wasm core returned ${n}`);
    this.statusName = n;
  }
}

/** The error a command completed with, from its 15-bit status field (4.6.1). */
export function statusError(sf: number, opcode: number, cid: number, qid: number): NvmeStatusError {
  return new NvmeStatusError(
    (sf >>> SF_SCT_SHIFT) & SF_SCT_MASK,
    (sf >>> SF_SC_SHIFT) & SF_SC_MASK,
    ((sf >>> SF_DNR_SHIFT) & SF_DNR_MASK) === 1,
    opcode,
    cid,
    qid,
    ((sf >>> SF_M_SHIFT) & SF_M_MASK) === 1,
    (sf >>> SF_CRD_SHIFT) & SF_CRD_MASK,
  );
}

/** A CoreStatus from a submission or an allocation, as the typed error a caller should see. */
export function coreError(st: number, what: string): NvmeError {
  switch (st) {
    case CoreStatus.Misaligned:
      return new InvalidArgumentError(`${what} buffer`, 'a dword (4-byte) aligned DMA buffer');
    case CoreStatus.BadLength:
      return new InvalidArgumentError(`${what} length`, 'a non-zero length within the maximum transfer size');
    case CoreStatus.OutOfRegion:
      return new InvalidArgumentError(`${what} buffer`, "a DMA buffer inside this controller's region");
    case CoreStatus.BadArgument:
      return new InvalidArgumentError(what, 'valid command fields');
    case CoreStatus.SqFull:
    case CoreStatus.NoSlot:
      return new ResourceError(`${what}: queue pair is full`, 'slot');
    case CoreStatus.NoMemory:
      return new ResourceError(`${what}: no DMA memory left in the region`, 'dma');
    default:
      return new CoreStatusError(what, st);
  }
}

/** Data read back differs from what was written (demo, perf -V). */
export class VerifyError extends NvmeError {
  override readonly name = 'VerifyError';
  constructor(
    message: string,
    readonly nsid: number,
    readonly lba: number,
    readonly blocks: number,
  ) {
    super(message);
  }
}

/**
 * A file or directory the driver would create or use is not safe: it is a
 * symbolic link, belongs to another user, or others may write it (a local
 * user could plant or read what the group keeps there).
 */
export class UnsafePathError extends NvmeError {
  override readonly name = 'UnsafePathError';
  constructor(
    readonly path: string,
    /** uid of its owner. */
    readonly owner: number,
    /** What is wrong, in words. */
    readonly reason: string,
  ) {
    super(`refusing ${path}: ${reason} (owner uid ${owner}); remove it, or set NVME_WASM_RUN_DIR to a directory of your own`);
  }
}

/**
 * This user may not open a file of a group or a simulator (EACCES or EPERM):
 * it exists and belongs to someone else. Never taken for "no such group".
 */
export class GroupAccessError extends NvmeError {
  override readonly name = 'GroupAccessError';
  constructor(
    readonly path: string,
    /** uid of its owner (-1 if it could not be read). */
    readonly owner: number,
    readonly code: 'EACCES' | 'EPERM',
    /** Its permission bits. */
    readonly mode: number,
  ) {
    super(
      `permission denied opening ${path} (${code}; owner uid ${owner}, mode ${mode.toString(8).padStart(4, '0')}, this user uid ${process.getuid?.() ?? -1}): ` +
        `run as uid ${owner} (the user that started the group), or use another -i / --file-prefix for a group of your own`,
    );
  }

  /** The error for `path` (its owner and mode read by lstat). */
  static of(path: string, code: 'EACCES' | 'EPERM'): GroupAccessError {
    let owner = -1;
    let mode = 0;
    try {
      const st = fs.lstatSync(path);
      owner = st.uid;
      mode = st.mode & 0o7777;
    } catch {
      // unreadable: the numbers stay unknown
    }
    return new GroupAccessError(path, owner, code, mode);
  }
}

/**
 * I/O on a namespace this driver lists but does not transfer data for (its
 * LBA format carries metadata, separate or extended, or has no usable data
 * size). Admin commands and the other namespaces are unaffected.
 */
export class UnsupportedNamespaceError extends NvmeError {
  override readonly name = 'UnsupportedNamespaceError';
  constructor(
    readonly nsid: number,
    /** Why, in words (e.g. 'LBA format 2: 8 bytes of metadata per block, extended LBA'). */
    readonly reason: string,
  ) {
    super(`namespace ${nsid} is listed but not usable for I/O by nvme-wasm: ${reason}`);
  }
}
