// Accessors for the process table (assembly/abi/region.ts, PROC_*): the only
// module that reads or writes its entries. An entry's state changes by
// compare-and-swap or under the group lock and is read atomically; its other
// words are written by the process claiming it, before it turns Live.
//
//   process table (PROC_SLOTS x PROC_ENTRY_SIZE bytes at PROC_TABLE_OFF)
//   entry +0   state | pid | start time lo | start time hi
//         +16  cleaner (slot + 1) | generation | role | lock wake (futex word)
import {
  PROC_TABLE_OFF, PROC_ENTRY_SIZE, PROC_SLOTS, PROC_STATE, PROC_PID, PROC_START_LO, PROC_START_HI, PROC_CLEANER, PROC_GEN,
  PROC_ROLE, PROC_LOCK_WAKE, ProcState, ProcRole,
} from '../../assembly/abi/region.js';

export class ProcTable {
  private readonly dv: DataView;
  private readonly i32: Int32Array;
  readonly slots: number = PROC_SLOTS;

  /** `bytes` starts at region offset 0 and spans the table (a mapping, or bytes read from the file). */
  constructor(bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.i32 = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }

  private off(slot: number, field: number): number {
    return PROC_TABLE_OFF + slot * PROC_ENTRY_SIZE + field;
  }

  state(slot: number): ProcState { return Atomics.load(this.i32, this.off(slot, PROC_STATE) >>> 2) as ProcState; }
  setState(slot: number, s: ProcState): void { Atomics.store(this.i32, this.off(slot, PROC_STATE) >>> 2, s); }
  casState(slot: number, from: ProcState, to: ProcState): boolean {
    return Atomics.compareExchange(this.i32, this.off(slot, PROC_STATE) >>> 2, from, to) === from;
  }

  pid(slot: number): number { return this.dv.getUint32(this.off(slot, PROC_PID), true); }
  /** Start time in clock ticks since boot: with the pid, what identifies a process. */
  startTime(slot: number): number {
    return this.dv.getUint32(this.off(slot, PROC_START_LO), true) + this.dv.getUint32(this.off(slot, PROC_START_HI), true) * 2 ** 32;
  }
  /** Slot + 1 of the process cleaning up after this one, 0 = none. */
  cleaner(slot: number): number { return this.dv.getUint32(this.off(slot, PROC_CLEANER), true); }
  setCleaner(slot: number, v: number): void { this.dv.setUint32(this.off(slot, PROC_CLEANER), v, true); }
  /** Bumped each time the slot is claimed. */
  generation(slot: number): number { return this.dv.getUint32(this.off(slot, PROC_GEN), true); }
  role(slot: number): ProcRole { return this.dv.getUint32(this.off(slot, PROC_ROLE), true) as ProcRole; }
  setRole(slot: number, r: ProcRole): void { this.dv.setUint32(this.off(slot, PROC_ROLE), r, true); }

  /** Region offset of the slot's lock wake word (its process sleeps on it waiting for the group lock). */
  lockWakeOffset(slot: number): number { return this.off(slot, PROC_LOCK_WAKE); }
  /** The slot's process is about to sleep on its lock wake word: 1 = asleep, wake me. */
  armLockWake(slot: number): void { Atomics.store(this.i32, this.off(slot, PROC_LOCK_WAKE) >>> 2, 1); }
  /** Disarm the slot's lock wake word; true if its process was asleep on it (the caller then wakes it). */
  takeLockWake(slot: number): boolean { return Atomics.exchange(this.i32, this.off(slot, PROC_LOCK_WAKE) >>> 2, 0) === 1; }
  /** Fill a slot just claimed (state Joining): who holds it, a fresh generation. */
  fill(slot: number, pid: number, startTime: number, role: ProcRole): void {
    this.dv.setUint32(this.off(slot, PROC_PID), pid, true);
    this.dv.setUint32(this.off(slot, PROC_START_LO), startTime % 2 ** 32, true);
    this.dv.setUint32(this.off(slot, PROC_START_HI), Math.floor(startTime / 2 ** 32), true);
    this.setCleaner(slot, 0);
    this.dv.setUint32(this.off(slot, PROC_GEN), this.generation(slot) + 1, true);
    this.setRole(slot, role);
  }
}
