// A process's membership of a group: its slot in the shared process table,
// the robust cross-process lock over the admin queue and the group's tables,
// noticing dead members and reclaiming what they held, and the primary role.
//
// The lock word holds holder slot + 1. Fast path: one compare-and-swap in the
// Wasm core. A process that finds it held and must wait marks itself in the
// header's wait mask, arms its own wake word (PROC_LOCK_WAKE = 1) and sleeps
// on it with the kernel futex (it wakes across processes; Atomics.wait does
// not): the asynchronous path (withLockAsync, the admin queue's) in the libuv
// thread pool, so the event loop goes on; lock() (close, dead members'
// cleanup, controller reset, queue ids) on the calling thread. A release
// wakes the next sleeping waiter after the releaser (round robin), one wake
// per sleep, none for a waiter that is not asleep. It does not hand the lock
// over: whoever runs first takes it, since a handoff to a process that is
// not on a CPU would leave the lock idle for a scheduler round. A waiter
// that waited PRIORITY_AFTER_MS reserves the lock for itself (HDR_LOCK_WANT,
// stamped HDR_LOCK_WANT_AT); a reservation not taken up within RESERVE_US
// lapses. Every LIVENESS_EVERY_MS at most, a process that finds the lock
// busy checks whether the holder is still alive (pid AND start time from
// the process table); a dead holder's lock is taken over with a CAS from its
// value, then the admin queue is made consistent before going on.
import { RegionState, PROC_SLOTS, ProcState, ProcRole } from '../assembly/abi/region.js';
import { futexWait, futexWaitAsync, futexWake, processAlive, processStartTime } from '../hal/index.js';
import type { CoreExports } from './core.js';
import type { Region } from './region.js';
import { ResourceError, ControllerError, NvmeError } from './errors.js';
import { ADMIN_LOCK, ALLOC_LOCK, type RegionHeader } from './layout/header.js';
import type { ProcTable } from './layout/proc-table.js';
import type { ControllerBlock } from './layout/ctrl-block.js';

/** The group closed (its last member left) while this process was joining: start afresh. */
export class GroupClosedError extends NvmeError {
  override readonly name = 'GroupClosedError';
}

const SPIN = 200;
const LIVENESS_EVERY_MS = 10;
/** A live holder keeping the lock this long is stuck: fail rather than wait forever. */
const LOCK_WAIT_MAX_MS = 10_000;
/** After waiting this long a process reserves the lock for itself (HDR_LOCK_WANT): the bound on unfairness. */
const PRIORITY_AFTER_MS = 20;
/** A reservation its process has not taken up in this long lapses (alive but busy, or not scheduled): anyone may take the lock. */
const RESERVE_US = 2_000;
/** Before sleeping, the asynchronous path retries this long (holds are microseconds; a sleeper's wake-up costs a scheduler round). */
const SPIN_MS = 0.03;
/** A waiter in the thread pool looks again this often unwoken (liveness, deadline, a lapsed reservation). */
const WAIT_SLICE_MS = 2;

function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n) >>> 0;
}

export class Group {
  /** This process's slot in the process table. */
  self = -1;
  private depth = 0;
  private readonly hdr: RegionHeader;
  private readonly procs: ProcTable;
  private readonly ctrl: ControllerBlock;
  private readonly joiningSeen = new Map<number, number>();
  /** This process's bit in the wait mask is set. */
  private waiting = false;
  private lastLivenessCheck = -Infinity;
  /** Called after the admin lock was taken over from a dead holder. */
  onLockRecovered: (() => void) | undefined;

  constructor(
    readonly region: Region,
    readonly core: CoreExports,
  ) {
    this.hdr = region.hdr;
    this.procs = region.procs;
    this.ctrl = region.ctrl;
  }

  /** Virtual address of region offset `off` in this process (for the futex). */
  private addr(off: number): bigint {
    return this.region.layout.base + BigInt(this.region.layout.regionOff + off);
  }

  procState(slot: number): ProcState {
    return this.procs.state(slot);
  }

  procPid(slot: number): number {
    return this.procs.pid(slot);
  }

  private procStart(slot: number): number {
    return this.procs.startTime(slot);
  }

  /** Is the process recorded in `slot` running (same pid, same start time)? */
  slotAlive(slot: number): boolean {
    const st = this.procState(slot);
    if (st !== ProcState.Live) return false;
    return processAlive(this.procPid(slot), this.procStart(slot));
  }

  /** Slots of live members (the table says Live and the process runs). */
  liveSlots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < PROC_SLOTS; s++) if (this.slotAlive(s)) out.push(s);
    return out;
  }

  // ---- the lock ----

  /**
   * Take the group lock (re-entrant within this process), waiting on this
   * thread: for the synchronous paths only (close, dead members' cleanup,
   * controller reset, queue ids); the admin queue waits with
   * withLockAsync(). Throws after LOCK_WAIT_MAX_MS behind a live holder.
   */
  lock(): void {
    if (this.depth > 0) {
      this.depth++;
      return;
    }
    for (let spin = 0; spin < SPIN; spin++) if (this.tryLock()) return;
    const t0 = performance.now();
    for (;;) {
      this.announceWait();
      if (this.tryLock()) return;
      this.checkWait(t0);
      futexWait(this.wakeAddr(), 1, 1);
    }
  }

  /**
   * Run `fn` under the group lock, waiting for it without blocking the event
   * loop (a futex wait in the thread pool, woken when the lock is handed to
   * this process). `fn` runs at once if the lock is free. Rejects with a
   * ControllerError after LOCK_WAIT_MAX_MS behind a live holder; a dead
   * holder's lock is taken over as in lock().
   */
  async withLockAsync<T>(fn: () => T): Promise<T> {
    if (!this.tryLock() && !this.spinLock()) {
      const t0 = performance.now();
      for (;;) {
        this.announceWait();
        if (this.tryLock()) break;
        this.checkWait(t0);
        await futexWaitAsync(this.wakeAddr(), 1, WAIT_SLICE_MS);
        if (this.tryLock()) break;
      }
    }
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Does this process hold the lock now (inside lock()/withLock/withLockAsync's function)? */
  get held(): boolean {
    return this.depth > 0;
  }

  unlock(): void {
    if (--this.depth > 0) return;
    this.core.lockRelease(ADMIN_LOCK);
    // Wake one sleeping waiter: the one the lock is reserved for, else the
    // next after this process (round robin). It is not handed the lock:
    // whoever runs first takes it (a handoff to a process that is not on a
    // CPU would leave the lock idle for a scheduler round); one that waited
    // PRIORITY_AFTER_MS reserves it for itself.
    const want = this.hdr.lockWant;
    let wake = -1;
    if (want !== 0 && want !== this.self + 1) {
      if (this.procs.takeLockWake(want - 1)) wake = want - 1;
    } else {
      const lo = this.hdr.lockWaitLo;
      const hi = this.hdr.lockWaitHi;
      const self = this.self;
      const others = self < 32 ? (lo & ~(1 << self)) | hi : lo | (hi & ~(1 << (self - 32)));
      if (others !== 0) {
        for (let i = 1; i < PROC_SLOTS; i++) {
          const s = (self + i) % PROC_SLOTS;
          if (((s < 32 ? lo >>> s : hi >>> (s - 32)) & 1) !== 0 && this.procs.takeLockWake(s)) {
            wake = s;
            break;
          }
        }
      }
    }
    if (wake >= 0) futexWake(this.addr(this.procs.lockWakeOffset(wake)));
  }

  /** Retry tryLock for up to SPIN_MS (the asynchronous path, before it sleeps). */
  private spinLock(): boolean {
    const end = performance.now() + SPIN_MS;
    do {
      for (let i = 0; i < 20; i++) if (this.tryLock()) return true;
    } while (performance.now() < end);
    return false;
  }

  /**
   * Take the lock only if that needs no waiting (or its holder is dead and
   * it can be taken over): for polls and housekeeping, which must never
   * block the event loop behind another process. Returns false if busy, or
   * reserved for another process.
   */
  tryLock(): boolean {
    if (this.depth > 0) {
      this.depth++;
      return true;
    }
    const me = this.self + 1;
    const want = this.hdr.lockWant;
    if (want !== 0 && want !== me) {
      if (!this.reservationLapsed(want)) return false;
      this.hdr.casLockWant(want, 0);
    }
    const holder = this.core.lockTry(ADMIN_LOCK, this.self);
    if (holder === 0 || holder === me) {
      this.took();
      return true;
    }
    if (this.livenessDue() && !this.slotAlive(holder - 1) && this.core.lockSteal(ADMIN_LOCK, holder, this.self)) {
      this.took();
      this.onLockRecovered?.();
      return true;
    }
    return false;
  }

  /**
   * Mark this process as waiting and arm its wake word (1: asleep), before a
   * last tryLock and the futex wait on 1: a release after the arming swaps
   * the word to 0 and wakes it, and a wait that starts after that swap
   * returns at once (the word is no longer 1). One wake per sleep, and none
   * for a waiter that is not asleep.
   */
  private announceWait(): void {
    this.procs.armLockWake(this.self);
    if (!this.waiting) {
      this.waiting = true;
      this.hdr.setLockWaiting(this.self, true);
    }
  }

  /** Give up waiting: this process's bit and reservation go. */
  private stopWaiting(): void {
    if (this.waiting) {
      this.waiting = false;
      this.hdr.setLockWaiting(this.self, false);
    }
    const me = this.self + 1;
    if (this.hdr.lockWant === me) this.hdr.casLockWant(me, 0);
  }

  /** The lock was just taken: no longer waiting; a turn starts if none is running. */
  private took(): void {
    this.depth = 1;
    const me = this.self + 1;
    if (this.hdr.lockWant === me) this.hdr.casLockWant(me, 0);
    if (this.waiting) {
      this.waiting = false;
      this.hdr.setLockWaiting(this.self, false);
    }
  }

  /** Throw after LOCK_WAIT_MAX_MS of waiting; after PRIORITY_AFTER_MS reserve the lock for this process. */
  private checkWait(t0: number): void {
    const now = performance.now();
    if (now - t0 > LOCK_WAIT_MAX_MS) {
      this.stopWaiting();
      const holder = this.hdr.adminLockWord;
      if (holder !== 0) throw new ControllerError(`the group lock has been held for over ${LOCK_WAIT_MAX_MS} ms by pid ${this.procPid(holder - 1)}, which is alive`, 'state');
      throw new ControllerError(`could not take the group lock in ${LOCK_WAIT_MAX_MS} ms`, 'state');
    }
    if (now - t0 > PRIORITY_AFTER_MS && this.hdr.lockWant === 0) this.hdr.casLockWant(0, this.self + 1, monoUs());
  }

  /** Liveness checks (a /proc read) at most every LIVENESS_EVERY_MS: a failed tryLock must stay cheap. */
  private livenessDue(): boolean {
    const now = performance.now();
    if (now - this.lastLivenessCheck < LIVENESS_EVERY_MS) return false;
    this.lastLivenessCheck = now;
    return true;
  }

  /** A reservation for `want` (slot + 1) no longer holds: its process left, died, or did not take it up in time. */
  private reservationLapsed(want: number): boolean {
    const slot = want - 1;
    if (this.procState(slot) !== ProcState.Live) return true;
    if (((monoUs() - this.hdr.lockWantAt) >>> 0) <= RESERVE_US) return false;
    // Lapsed; a dead waiter also leaves the wait mask, or it would be handed the lock again and again.
    if (this.livenessDue() && !this.slotAlive(slot)) this.hdr.setLockWaiting(slot, false);
    return true;
  }

  /** This process's lock wake word (virtual address, for the futex). */
  private wakeAddr(): bigint {
    return this.addr(this.procs.lockWakeOffset(this.self));
  }

  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /**
   * The allocator lock is held only for a page-map scan; if its holder died
   * there, take it over and repair the page map. Called by the region when
   * an allocation keeps finding the lock busy.
   */
  recoverAllocLock(): boolean {
    const holder = this.hdr.allocLockWord;
    if (holder === 0 || this.slotAlive(holder - 1)) return false;
    if (!this.core.lockSteal(ALLOC_LOCK, holder, this.self)) return false;
    this.core.dmaRepair();
    this.core.lockRelease(ALLOC_LOCK);
    return true;
  }

  // ---- membership ----

  /**
   * Claim a free slot for this process. The claim is a compare-and-swap on
   * the slot's state (Free to Joining), not the group lock: a process must
   * never hold the lock under an identity the others cannot see alive, or
   * they would take it over while it is inside. Then, under the lock, a
   * secondary checks the group is still Ready (not being closed).
   */
  join(role: ProcRole): number {
    const pid = process.pid;
    const start = processStartTime(pid) ?? 0;
    for (let s = 0; s < PROC_SLOTS; s++) {
      if (!this.procs.casState(s, ProcState.Free, ProcState.Joining)) continue;
      this.procs.fill(s, pid, start, role);
      this.hdr.setLockWaiting(s, false); // a bit the slot's previous process left
      this.core.mboxReset(s);
      this.procs.setState(s, ProcState.Live);
      this.setSelf(s);
      if (role === ProcRole.Secondary) {
        const ready = this.withLock(() => this.hdr.state === RegionState.Ready);
        if (!ready) {
          this.procs.setState(s, ProcState.Free);
          throw new GroupClosedError();
        }
      }
      return s;
    }
    throw new ResourceError(`the group's process table is full (${PROC_SLOTS} processes)`, 'slot');
  }

  /**
   * Take a slot while holding the lock already (the primary's first step, or
   * a process that had to borrow slot 0 to take the lock at all).
   */
  setSelf(slot: number): void {
    this.self = slot;
    this.core.setSelf(slot);
  }

  /**
   * Leave as the last member? Decided under the lock: if no other member is
   * alive, the region is marked Closed (a joiner that has not claimed a slot
   * yet will start a fresh group) and true is returned.
   */
  closeIfLast(): boolean {
    return this.withLock(() => {
      if (this.liveSlots().some((s) => s !== this.self)) return false;
      this.hdr.state = RegionState.Closed;
      return true;
    });
  }

  /**
   * Leave: free the slot and this process's memory (its queues must be gone
   * already). Returns true if this process turned out to be the last member
   * after all: closeIfLast() said no because another member was alive, and
   * that member has left since (each saw the other at its closeIfLast); the
   * region is then marked Closed here, and this process does the last
   * member's work (shutdown, removing the file). Otherwise nobody would, and
   * the file would outlive the group.
   */
  leave(adminDesc: number): boolean {
    const s = this.self;
    this.region.allocatorOp(() => this.core.dmaFreeOwner(s, s));
    return this.withLock(() => {
      this.core.qpReleaseOwner(adminDesc, s);
      this.core.mboxReset(s);
      if (this.primarySlot() === s) this.hdr.primarySlot = -1;
      this.procs.setState(s, ProcState.Free);
      if (this.hdr.state === RegionState.Closed || this.liveSlots().length > 0) return false;
      this.hdr.state = RegionState.Closed;
      return true;
    });
  }

  // ---- primary role ----

  primarySlot(): number {
    return this.hdr.primarySlot;
  }

  /** Become primary if there is none or it died. Returns true if this process is primary now. */
  claimPrimary(): boolean {
    const cur = this.hdr.primarySlot;
    if (cur === this.self) return true;
    if (cur >= 0 && this.slotAlive(cur)) return false;
    if (!this.hdr.casPrimary(cur, this.self)) return false;
    this.procs.setRole(this.self, ProcRole.Primary);
    return true;
  }

  // ---- dead members ----

  /**
   * Mark dead members for cleanup by this process (under the lock). Returns
   * their slots: Live entries whose process is gone, and Cleaning entries
   * whose cleaner died too.
   */
  claimDead(): number[] {
    const dead: number[] = [];
    if (!this.tryLock()) return dead; // busy: the next round will look
    try {
      for (let s = 0; s < PROC_SLOTS; s++) {
        if (s === this.self) continue;
        const st = this.procState(s);
        // A Joining slot is in someone's hands for microseconds; only one still
        // Joining a whole round later, with a dead pid, was left by a crash.
        if (st === ProcState.Joining) {
          const gen = this.procs.generation(s);
          const seen = this.joiningSeen.get(s);
          this.joiningSeen.set(s, gen);
          if (seen !== gen) continue;
        } else this.joiningSeen.delete(s);
        if ((st === ProcState.Live || st === ProcState.Joining) && !processAlive(this.procPid(s), this.procStart(s))) {
          this.procs.setCleaner(s, this.self + 1);
          this.procs.setState(s, ProcState.Cleaning);
          dead.push(s);
        } else if (st === ProcState.Cleaning) {
          const cleaner = this.procs.cleaner(s);
          if (cleaner === 0 || (cleaner - 1 !== this.self && !this.slotAlive(cleaner - 1))) {
            this.procs.setCleaner(s, this.self + 1);
            dead.push(s);
          }
        }
      }
    } finally {
      this.unlock();
    }
    return dead;
  }

  /** Finish a dead member's cleanup: its slot becomes free (its queues and memory are gone). */
  releaseDead(slot: number, adminDesc: number): void {
    this.withLock(() => {
      this.core.qpReleaseOwner(adminDesc, slot); // admin slots held for its unread completions
      this.region.allocatorOp(() => this.core.dmaFreeOwner(slot, this.self));
      this.core.mboxReset(slot);
      this.hdr.setLockWaiting(slot, false); // it died waiting for the lock
      // It died running a reset: free the reset for a survivor to take over, before the slot can be reused
      // (followers take over only from an owner that is not alive, and a reused slot would look alive).
      if (this.ctrl.resetOwner === slot + 1) this.ctrl.resetOwner = 0;
      if (this.primarySlot() === slot) this.hdr.primarySlot = -1;
      this.procs.setState(slot, ProcState.Free);
    });
  }

  // ---- I/O queue ids ----

  /** Take a free QID for this process (under the lock), or throw ResourceError. */
  takeQid(): number {
    return this.withLock(() => {
      const max = this.ctrl.maxQueuePairs;
      let inUse = 0;
      for (let q = 1; q <= max; q++) {
        if (this.ctrl.qidOwner(q) < 0) {
          this.ctrl.setQidOwner(q, this.self);
          return q;
        }
        inUse++;
      }
      throw new ResourceError(`no I/O queue pair left: the controller granted ${max} and all ${inUse} are in use by the group`, 'qid');
    });
  }

  releaseQid(qid: number): void {
    this.withLock(() => {
      this.ctrl.setStatsBlock(qid, 0); // its stats block goes with it
      this.ctrl.setQidOwner(qid, -1);
    });
  }

  /** QIDs owned by process slot `slot`. */
  qidsOf(slot: number): number[] {
    const max = this.ctrl.maxQueuePairs;
    const out: number[] = [];
    for (let q = 1; q <= max; q++) if (this.ctrl.qidOwner(q) === slot) out.push(q);
    return out;
  }

  qidsInUse(): number {
    const max = this.ctrl.maxQueuePairs;
    let n = 0;
    for (let q = 1; q <= max; q++) if (this.ctrl.qidOwner(q) >= 0) n++;
    return n;
  }
}
