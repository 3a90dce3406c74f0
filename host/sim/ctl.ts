// The simulated controller's two files, both in SimConfig.directory:
//
//   nvme-wasm-sim-NAME.bar   BAR0: registers (regs.ts) then doorbells
//   nvme-wasm-sim-NAME.ctl   this sideband page, which real hardware does not
//                            have: it plays the IOMMU (which file backs the
//                            DMA window), carries fault-injection requests,
//                            and says whether the device is alive.
//
//   ctl page (all u32 unless noted)
//   0x000 +---------------------------+
//         | MAGIC .. BAR_SIZE          |  identity, liveness, DMA mapping
//   0x040 | DMA_PATH (256 bytes)       |  file backing IOVA [DMA_IOVA, +DMA_LEN)
//   0x140 | SIM_START_LO, _HI          |  the sim process's start time (pid reuse)
//   0x200 | FAULTS, FAULT_COUNT x 32 B |  per-command fault rules
//   0x400 | FLAGS                      |  device-wide faults
//   0x5fc | IRQ_VECTORS                |  interrupt vectors the sim signals
//   0x600 | IRQ, 64 x 8 B              |  per vector: wake count, armed (irq.ts)
//   0x800 | CONFIG (JSON, 2 KiB)       |  the effective SimConfig
//   0x1000+---------------------------+

export const CTL_SIZE = 0x1000;
export const CTL_MAGIC_VALUE = 0x4d53564e; // "NVSM"

export const CTL_MAGIC = 0x00;
export const CTL_SIM_PID = 0x04;
export const CTL_HEARTBEAT = 0x08; // bumped by the sim's loop at least every 10 ms
export const CTL_STATE = 0x0c; // SimState
export const CTL_STOP = 0x10; // set to 1 to ask the sim to exit
export const CTL_DMA_SEQ = 0x14; // a driver bumps this after writing DMA_IOVA/LEN/PATH
export const CTL_DMA_ACK = 0x18; // the sim copies DMA_SEQ here once it has (un)mapped
export const CTL_DMA_RESULT = 0x1c; // 0, or the errno of the failed mapping
export const CTL_DMA_IOVA_LO = 0x20;
export const CTL_DMA_IOVA_HI = 0x24;
export const CTL_DMA_LEN = 0x28;
export const CTL_FAULT_SEQ = 0x2c; // bumped after the fault table changes
export const CTL_BAR_SIZE = 0x30;
export const CTL_CONFIG_LEN = 0x34;
// The driver whose DMA window the simulator serves: its pid (0: none) and a token of that driver (several may live in one process).
export const CTL_DMA_OWNER_PID = 0x38;
export const CTL_DMA_OWNER_TOKEN = 0x3c;
export const CTL_DMA_PATH = 0x40;
export const CTL_DMA_PATH_LEN = 256;
// The sim's process start time (clock ticks since boot, /proc/PID/stat): its pid alone may be a later process's.
export const CTL_SIM_START_LO = 0x140;
export const CTL_SIM_START_HI = 0x144;

/** The sim's start time from a ctl page, `word(off)` reading the u32 at byte offset `off` (0: a page without one). */
export function ctlSimStart(word: (off: number) => number): number {
  return word(CTL_SIM_START_LO) + word(CTL_SIM_START_HI) * 2 ** 32;
}

/** Record the sim's start time `start` (clock ticks since boot) in ctl page words `ctl`. */
export function setCtlSimStart(ctl: Uint32Array, start: number): void {
  Atomics.store(ctl, CTL_SIM_START_LO >>> 2, start >>> 0);
  Atomics.store(ctl, CTL_SIM_START_HI >>> 2, Math.floor(start / 2 ** 32));
}

/** The life of a simulated controller, in its ctl page (CTL_STATE). */
export enum SimState {
  Starting = 0,
  Running = 1,
  Stopping = 2,
  Stopped = 3,
}

// Fault rules: the first active rule matching a fetched command applies.
export const CTL_FAULTS = 0x200;
export const CTL_FAULT_COUNT = 16;
export const CTL_FAULT_SIZE = 32;
export const FAULT_KIND = 0; // FaultKind
export const FAULT_QID = 4; // FAULT_ANY or a queue id
export const FAULT_OPCODE = 8; // FAULT_ANY or an opcode
export const FAULT_REMAINING = 12; // commands still to hit; FAULT_ANY = forever
export const FAULT_STATUS = 16; // status field to complete with (status.ts statusField)
export const FAULT_PARAM = 20; // FaultKind.Delay: microseconds
export const FAULT_NSID = 24; // 0 = any
export const FAULT_ANY = 0xffffffff;

/** What a fault rule does to the commands it matches. */
export enum FaultKind {
  None = 0,
  /** Complete the command with FAULT_STATUS instead of executing it. */
  Status = 1,
  /** Execute the command but never post its completion. */
  DropCompletion = 2,
  /** Execute, then hold the completion FAULT_PARAM microseconds. */
  Delay = 3,
  /** Execute, then post a malformed completion: FAULT_PARAM is a Malformation. */
  Malformed = 4,
}

/** What a hostile controller gets wrong in a completion (FaultKind.Malformed). */
export enum Malformation {
  None = 0,
  /** The real completion, then a second entry naming a cid nobody sent. */
  UnknownCid = 1,
  /** The real completion, posted twice. */
  Duplicate = 2,
  /** SQID names another queue: the host cannot accept it as this command's. */
  WrongSqid = 3,
  /** SQHD beyond the queue's size. */
  SqhdOutOfRange = 4,
  /** A status code type the spec reserves (SCT 4). */
  ReservedStatus = 5,
}

// Device-wide faults
export const CTL_FLAGS = 0x400;
export const FLAG_FATAL = CTL_FLAGS + 0; // 1: set CSTS.CFS and stop processing
export const FLAG_NEVER_READY = CTL_FLAGS + 4; // 1: ignore CC.EN = 1 (CSTS.RDY stays 0)
export const AEN_SEQ = CTL_FLAGS + 8; // bumped to post an asynchronous event
export const AEN_DW0 = CTL_FLAGS + 12; // its completion dword 0 (cmd.ts AER_*)
export const FLAG_REMOVED = CTL_FLAGS + 16; // 1: surprise removal: BAR0 reads all ones, nothing is processed

// Interrupts (the simulator's MSI-X, irq.ts): per vector a count the sim
// bumps after posting to a CQ with IEN = 1 (a futex word: a sleeping driver
// is woken by FUTEX_WAKE on it) and a word the driver sets to ask for that
// wake (the sim clears it when it wakes, as one MSI-X message per arming).
export const CTL_IRQ_VECTORS = 0x5fc;
export const CTL_IRQ = 0x600;
export const CTL_IRQ_STRIDE = 8;
export const IRQ_COUNT = 0;
export const IRQ_ARMED = 4;
export const SIM_IRQ_VECTORS = 64;

export const CTL_CONFIG = 0x800;
export const CTL_CONFIG_MAX = 0x800;

/** The BAR0 file of the simulated controller `name` in `directory`. */
export function simBarPath(directory: string, name: string): string {
  return `${directory}/nvme-wasm-sim-${name}.bar`;
}
/** The ctl file of the simulated controller `name` in `directory`. */
export function simCtlPath(directory: string, name: string): string {
  return `${directory}/nvme-wasm-sim-${name}.ctl`;
}

/** Bytes of BAR0: registers, then a doorbell pair per queue (admin + I/O). */
export function simBarSize(maxIoQueuePairs: number, dstrd: number): number {
  const dbBytes = (maxIoQueuePairs + 1) * 2 * (4 << dstrd);
  return Math.ceil((0x1000 + dbBytes) / 4096) * 4096;
}
