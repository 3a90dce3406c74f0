// What a member does for its group besides its own I/O, every 100 ms (and
// at once where it matters): notice the controller died, reclaim dead
// members (delete their I/O queues, 5.6 then 5.5, and free their memory and
// slot), take the primary role when it is free, read this process's
// mailbox, check deadlines nobody polls for, and, as primary, keep the
// Asynchronous Event Requests armed (their completions reach every member).
import { AdminOpc } from '../assembly/nvme/cmd.js';
import type { CoreExports } from './core.js';
import type { Region } from './region.js';
import type { Group } from './group.js';
import type { AdminQueue } from './admin.js';
import type { AdminCommands } from './admin-commands.js';

/** How often the duties run. */
const WATCH_MS = 100;

/** What the duties need of their controller. */
export interface DutiesHost {
  readonly region: Region;
  readonly core: CoreExports;
  readonly group: Group;
  readonly admin: AdminQueue;
  readonly commands: AdminCommands;
  /** A member of a named group (not a private driver). */
  readonly shared: boolean;
  readonly isClosed: boolean;
  isAlive(): boolean;
  /** The liveness check (throws a ControllerError for a dead controller). */
  checkAlive(): void;
  /** Deadline scans of this process's I/O queue pairs. */
  checkTimeouts(now: number): void;
  /** This process became primary. */
  becamePrimary(): void;
  /** A dead member's slot was reclaimed. */
  memberCleaned(slot: number): void;
}

export class GroupDuties {
  private timer: NodeJS.Timeout | undefined;
  private cleanup: Promise<void> = Promise.resolve();

  constructor(private readonly h: DutiesHost, private primary: boolean) {}

  /** Is this process the group's primary now? */
  get isPrimary(): boolean {
    return this.primary;
  }

  start(): void {
    this.timer = setInterval(() => this.watch(), WATCH_MS);
    this.timer.unref();
    if (this.primary && this.h.shared) this.armAsyncEvents();
  }

  /** Stop the timer; resolves when cleanups already started are done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.cleanup.catch(() => {});
  }

  private watch(): void {
    const h = this.h;
    if (h.isClosed) return;
    try {
      h.checkAlive();
      if (h.shared) {
        this.reapDead();
        this.checkPrimary();
        h.admin.processCompletions();
      }
      const now = performance.now();
      h.admin.checkTimeouts(now);
      h.checkTimeouts(now);
    } catch {
      /* a dead controller is reported to the commands that wait on it */
    }
  }

  /** Start cleaning up after members that died; resolves when all started cleanups are done. */
  reapDead(): Promise<void> {
    for (const slot of this.h.group.claimDead()) this.cleanup = this.cleanup.then(() => this.cleanDead(slot));
    return this.cleanup;
  }

  /**
   * A dead member's leftovers: its I/O queues deleted on the controller,
   * then its queue ids, memory and mailbox reclaimed and its slot recycled.
   * Completions of its admin commands are discarded by whoever reaps them.
   */
  private async cleanDead(slot: number): Promise<void> {
    const h = this.h;
    for (const qid of h.group.qidsOf(slot)) {
      if (h.isAlive()) await h.commands.deleteIoQueues(qid, { bestEffort: true });
      h.group.releaseQid(qid);
    }
    h.group.releaseDead(slot, h.admin.desc);
    h.memberCleaned(slot);
  }

  /** Take the primary role if it is free (its holder died or left). */
  checkPrimary(): void {
    if (this.primary) return;
    if (this.h.group.claimPrimary()) {
      this.primary = true;
      this.h.becamePrimary();
      this.armAsyncEvents();
    }
  }

  /** Keep the group's number of Asynchronous Event Requests outstanding (primary duty). */
  armAsyncEvents(): void {
    const h = this.h;
    if (!this.primary || h.isClosed) return;
    const wanted = h.region.ctrl.aerWanted;
    // Counted under the lock, waited for off the event loop (another member may hold it).
    // Counted and posted in one hold of the lock (posted at once, so a count
    // that follows sees them), waited for off the event loop.
    h.group.withLockAsync(() => {
      if (!this.primary || h.isClosed) return;
      h.admin.postParked(); // what was parked before goes first, and is counted
      const armed = h.core.qpCountOpcode(h.admin.desc, AdminOpc.AsyncEventRequest);
      for (let i = armed; i < wanted; i++) {
        h.commands.asyncEventRequest().then(() => this.armAsyncEvents(), () => {});
      }
    }).catch(() => {}); // the lock stayed busy too long: the next event or primary check arms them
  }
}
