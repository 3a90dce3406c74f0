// Controller reset for a whole group, and the escalation that leads to it.
//
// Any member may reset the controller: on CSTS.CFS (9.5: the host resets a
// controller that reports fatal status), when a command's Abort did not take
// it back, or on request (Controller.reset()). The members meet in the
// region's controller block:
//
//   CTRL_RESET_GEN     even: controller usable   odd: a reset is running
//   CTRL_RESET_OWNER   slot + 1 of the member running it
//   CTRL_RESET_RESULT  ResetResult of the last reset
//   CTRL_RESET_REASON  ResetCause of the last reset
//
//   resetter                                  every other member
//   --------                                  ------------------
//   lock; GEN odd; unlock                     sees GEN change (polls: 5 ms,
//   fail own in-flight commands                 watchdog: 100 ms, admin submit)
//   CC.EN = 0, wait CSTS.RDY = 0 (7.3.2)      fails own in-flight commands,
//   lock; admin rings + mailboxes reset;        holds submissions
//     unlock                                  waits for GEN even (takes the
//   AQA/ASQ/ACQ, CC.EN = 1, CSTS.RDY = 1        reset over if the resetter died)
//   Set Features Number of Queues (5.21.1.7)
//   lock; RESULT; GEN even; unlock
//   recreate own I/O queues                   recreates its own I/O queues
//
// Each member recreates the I/O queues it owns, with the same memory and
// queue ids (Create I/O CQ, then SQ): the queue pair objects a program holds
// stay valid. A newer reset may start while a member still recreates its
// queues after the last one (back-to-back resets): the member then drops
// that recreation (its Create commands are refused or failed, never posted
// into the newer reset) and follows the newer reset from the start; it
// catches up with every reset before its own reset work ends. Commands in
// flight when the reset starts end with ControllerResetError (or NvmeTimeoutError for the command whose timeout
// caused it); Promise-path commands submitted during the reset wait for it.
// If the controller does not come back, every member fails everything with
// ControllerError 'reset-failed' (or 'removed').
import { ResetResult, ResetCause, PROC_SLOTS } from '../assembly/abi/region.js';
import { CSTS_CFS_SHIFT, CSTS_CFS_MASK, REG_ALL_ONES, REG_CSTS, regField } from '../assembly/nvme/regs.js';
import { ControllerError, ControllerResetError, type ResetReason } from './errors.js';
import type { Group } from './group.js';
import type { Region } from './region.js';
import type { CoreExports } from './core.js';
import type { AdminQueue } from './admin.js';
import type { IoQueuePair } from './io-qpair.js';
import type { ControllerBlock } from './layout/ctrl-block.js';
import type { AdminCommands } from './admin-commands.js';
import { disable, enable, type ControllerRegisters, type AdminQueueRegisters } from './init-sequence.js';
import { restoreShadowDoorbells, useShadowDoorbells } from './shadow-doorbells.js';

/** What the reset needs from the controller it belongs to. */
export interface ResetHost {
  readonly region: Region;
  readonly group: Group;
  readonly core: CoreExports;
  readonly admin: AdminQueue;
  readonly commands: AdminCommands;
  /** The registers, with the CAP.TO bound on every wait. */
  readonly regs: ControllerRegisters;
  readonly doorbellStride: number;
  /** The admin rings' device addresses, for AQA/ASQ/ACQ again. */
  adminQueueRegisters(): AdminQueueRegisters;
  ownQueuePairs(): IoQueuePair[];
  /**
   * Create I/O CQ then SQ for `qp` (same qid, same memory); `current` is
   * called as each command is posted (under the group lock) and throws once
   * a newer reset began: that command is refused instead of posted.
   */
  recreateQueues(qp: IoQueuePair, current: () => void): Promise<void>;
  /** The controller is gone for good: fail everything. */
  failForever(err: ControllerError): void;
  /** A reset this process took part in is over (re-arm events, tell listeners). */
  resetDone(info: ResetInfo): void;
}

export interface ResetInfo {
  reason: ResetReason;
  /** The group's reset generation after it (even). */
  generation: number;
  /** True in the process that ran it. */
  ranHere: boolean;
}

const REASONS: Record<ResetCause, ResetReason> = {
  [ResetCause.Requested]: 'requested',
  [ResetCause.Fatal]: 'fatal',
  [ResetCause.Timeout]: 'timeout',
};
const CAUSES: Record<ResetReason, ResetCause> = { requested: ResetCause.Requested, fatal: ResetCause.Fatal, timeout: ResetCause.Timeout };

/** Times a resetter brings the controller down and up when its admin commands go unanswered. */
const CONTROLLER_TRIES = 2;

/** How long a member waits for another's reset before it checks whether that one died. */
const FOLLOW_POLL_MS = 2;

/** Where this process is in a reset (one at a time; `cycle` runs them in turn). */
type Phase = 'idle' | 'follow' | 'controller' | 'recreate';

export class GroupReset {
  private seenGen: number;
  private running: Promise<void> | undefined;
  private readonly ctrl: ControllerBlock;
  private phase: Phase = 'idle';
  /** A command timed out while this process recreated its queues: reset again once this step ends. */
  private again: ResetCause | undefined;
  /** Ends the wait of a recreation a newer reset (or `again`) made pointless. */
  private supersede: (() => void) | undefined;

  constructor(private readonly h: ResetHost) {
    this.ctrl = h.region.ctrl;
    this.seenGen = this.gen() & ~1;
  }

  private gen(): number {
    return this.ctrl.resetGeneration;
  }

  /** The group's reset generation (even: usable, odd: a reset runs). */
  get generation(): number {
    return this.gen();
  }

  /** Why the last (or current) reset of the group happened. */
  get lastReason(): ResetReason {
    return REASONS[this.ctrl.resetCause] ?? 'requested';
  }

  /** Resets completed in this group. */
  get count(): number {
    return this.ctrl.resets;
  }

  /** Resolves when no reset runs here (whatever its outcome). */
  settled(): Promise<void> {
    return this.running ? this.running.catch(() => {}) : Promise.resolve();
  }

  /**
   * Resolves once this process has caught up with the group's resets: it
   * follows one another member started that it has not noticed yet, and
   * waits for the one it runs or follows (whatever their outcome).
   */
  caughtUp(): Promise<void> {
    if (!this.running && this.gen() !== this.seenGen) this.start(() => this.follow());
    return this.settled();
  }

  /** A reset this process runs or follows is under way. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Admin submissions must wait: a reset runs (and not here), or this
   * process has not caught up with one yet (and starts to).
   */
  holdsAdmin(): boolean {
    const g = this.gen();
    if (g === this.seenGen) return (g & 1) === 1 && this.ctrl.resetOwner !== this.h.group.self + 1;
    this.poll();
    return true;
  }

  /**
   * The cheap look every poll's liveness check and the watchdog take: follow
   * a reset another member started, or start one on CSTS.CFS. While this
   * process still recreates its queues after a reset, a newer one ends that
   * recreation (the cycle then follows the newer one).
   */
  poll(csts?: number): void {
    if (this.running) {
      if (this.phase === 'recreate' && this.gen() !== this.seenGen) this.supersede?.();
      return;
    }
    if (this.gen() !== this.seenGen) {
      this.start(() => this.follow());
      return;
    }
    const c = csts ?? this.h.regs.mmio.read32(REG_CSTS);
    if (c !== REG_ALL_ONES && regField(c, CSTS_CFS_SHIFT, CSTS_CFS_MASK)) this.start(() => this.run(ResetCause.Fatal));
  }

  /**
   * Reset the controller (or join the reset already under way). Resolves when this process has its queues back.
   * A 'timeout' during a reset here (a command of the reset itself went unanswered) is not joined
   * (it would wait on that very command): while queues are recreated it leads to another reset;
   * while the controller is brought back up it fails that reset's commands and brings the
   * controller down and up again (CONTROLLER_TRIES in all, then the reset fails).
   */
  reset(reason: ResetReason): Promise<void> {
    if (!this.running) return this.start(() => this.run(CAUSES[reason]));
    if (reason === 'timeout') {
      if (this.phase === 'recreate') {
        this.again = ResetCause.Timeout;
        this.supersede?.();
      } else if (this.phase === 'controller') {
        // Fail the reset's own commands (the one that timed out with them): the controller goes down and up again.
        this.again = ResetCause.Timeout;
        this.h.admin.suspend(new ControllerResetError('timeout', this.gen()));
      }
    }
    return this.running;
  }

  private start(first: () => Promise<void>): Promise<void> {
    // The cycle runs a microtask later, with `running` already set: the callbacks
    // it fails may submit again, and must not start a second reset.
    const p = Promise.resolve().then(() => this.cycle(first)).finally(() => {
      if (this.running === p) {
        this.running = undefined;
        this.phase = 'idle';
      }
    });
    this.running = p;
    p.catch(() => {}); // reported through failForever and the commands
    return p;
  }

  /**
   * One reset after another until this process has caught up: a newer reset
   * that began while it was in one (even one already over) is followed
   * before `running` clears, so nothing is left suspended behind a reset
   * nobody here follows.
   */
  private async cycle(first: () => Promise<void>): Promise<void> {
    let step = first;
    for (;;) {
      await step();
      if (this.gen() !== this.seenGen) {
        step = () => this.follow();
      } else if (this.again !== undefined) {
        const cause = this.again;
        this.again = undefined;
        step = () => this.run(cause);
      } else {
        return;
      }
    }
  }

  /** Run a reset here, unless another member started one since we last looked. */
  private async run(cause: ResetCause): Promise<void> {
    const h = this.h;
    this.failIfGone();
    const me = h.group.self + 1;
    const g = h.group.withLock(() => {
      const cur = this.gen();
      if (cur !== this.seenGen) return -1; // someone else did or does: follow theirs
      this.ctrl.resetCause = cause;
      this.ctrl.resetOwner = me;
      this.ctrl.resetGeneration = cur + 1; // odd: others hold their submissions from here
      return cur + 1;
    });
    if (g < 0) return this.follow();
    this.seenGen = g;
    await this.resetController(g, cause);
  }

  /** The resetter's part, from the controller going down to GEN even. */
  private async resetController(g: number, cause: ResetCause): Promise<void> {
    const h = this.h;
    this.phase = 'controller';
    this.suspendAll(new ControllerResetError(REASONS[cause], g));
    let result = ResetResult.Ok;
    let failure: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        // 7.3.2: CC.EN 1 -> 0 deletes every queue; RDY = 0 says the controller stopped touching memory.
        await disable(h.regs);
        // Only now may the rings be cleared: a controller still enabled could post into them.
        h.group.withLock(() => {
          h.core.qpReset(h.admin.desc);
          for (let s = 0; s < PROC_SLOTS; s++) h.core.mboxReset(s); // entries name cids of the old rings
        });
        await enable(h.regs, h.adminQueueRegisters());
        h.admin.resume(); // ours may post (GEN is odd and we own it); others still hold
        // 5.21.1.7: the grant again, as the group had it; then the shadow doorbell pages, which the reset forgot.
        await h.commands.setNumberOfQueues(h.region.ctrl.maxQueuePairs);
        await restoreShadowDoorbells(h.region, h.commands);
        break;
      } catch (e) {
        // One of these commands went unanswered (reset('timeout') failed it): the controller down and up again, once.
        if (this.again !== undefined && attempt < CONTROLLER_TRIES && h.regs.mmio.read32(REG_CSTS) !== REG_ALL_ONES && !h.regs.deviceGone?.()) {
          this.again = undefined;
          continue;
        }
        failure = e;
        result = h.regs.mmio.read32(REG_CSTS) === REG_ALL_ONES || h.regs.deviceGone?.() ? ResetResult.Removed : ResetResult.Failed;
        break;
      }
    }
    this.again = undefined; // this reset was the one asked for
    const done = h.group.withLock(() => {
      this.ctrl.resetResult = result;
      this.ctrl.resetOwner = 0;
      if (result === ResetResult.Ok) this.ctrl.countReset();
      this.ctrl.resetGeneration = g + 1; // even: members recreate their queues
      return g + 1;
    });
    this.seenGen = done;
    await this.finish(done, cause, true, failure);
  }

  /** Another member runs (or ran) the reset: end our commands, wait, get our queues back. */
  private async follow(): Promise<void> {
    const h = this.h;
    this.phase = 'follow';
    // A device known gone: what is in flight ends with 'removed', not with a reset that cannot finish.
    this.failIfGone();
    let g = this.gen();
    this.suspendAll(new ControllerResetError(REASONS[this.ctrl.resetCause] ?? 'requested', g | 1));
    // Bounded: CAP.TO for the disable, again for the enable, and slack for the admin commands.
    const limit = performance.now() + 2 * h.regs.readyTimeoutMs + 30_000;
    while ((g & 1) === 1) {
      const owner = this.ctrl.resetOwner;
      if (owner === 0 || !h.group.slotAlive(owner - 1)) {
        // The resetter died mid-reset: take it over (under the lock, once).
        const took = h.group.withLock(() => {
          if (this.gen() !== g || this.ctrl.resetOwner !== owner) return false;
          this.ctrl.resetOwner = h.group.self + 1;
          return true;
        });
        if (took) {
          this.seenGen = g;
          return this.resetController(g, this.ctrl.resetCause);
        }
      }
      this.failIfGone(); // nobody will finish it (a simulator whose process exited): the registers would not say so
      if (performance.now() > limit) {
        const err = new ControllerError(`${h.regs.description}: a controller reset by another process did not finish`, 'reset-failed');
        h.failForever(err);
        throw err;
      }
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      g = this.gen();
    }
    this.seenGen = g;
    await this.finish(g, this.ctrl.resetCause, false, undefined);
  }

  private async finish(g: number, cause: ResetCause, ranHere: boolean, failure: unknown): Promise<void> {
    const h = this.h;
    const result = this.ctrl.resetResult;
    if (result !== ResetResult.Ok) {
      const why = failure instanceof Error ? `: ${failure.message}` : '';
      const err = result === ResetResult.Removed
        ? new ControllerError(`${h.regs.description}: registers read all ones during a reset (device removed?)`, 'removed')
        : new ControllerError(`${h.regs.description}: the controller did not come back from a reset${why}`, 'reset-failed');
      h.failForever(err);
      throw err;
    }
    this.phase = 'recreate';
    h.admin.resume();
    useShadowDoorbells(h.region, h.core, h.doorbellStride); // they may have been turned off
    // A newer reset (or a timeout that asks for one) ends this recreation: the cycle follows it. Its
    // Create commands still parked are refused when they come to be posted (`current`), those in
    // flight fail when the newer reset suspends the admin queue: none reaches the controller after.
    const stale = (): boolean => this.gen() !== g || this.again !== undefined;
    const current = (): void => {
      if (this.gen() !== g) throw new ControllerResetError(this.lastReason, this.gen() | 1);
    };
    const newer = new Promise<'newer'>((r) => (this.supersede = () => r('newer')));
    try {
      for (const qp of h.ownQueuePairs()) {
        if (stale()) return;
        h.core.qpReset(qp.desc);
        const made = h.recreateQueues(qp, current);
        const got = await Promise.race([made.then(() => undefined, (e: unknown) => e as Error), newer]);
        if (got === 'newer' || stale()) {
          made.catch(() => {}); // ends when its commands are refused or failed
          return;
        }
        if (got === undefined) qp.resume();
        else qp.failAll(new ControllerError(`queue pair ${qp.qid} could not be created again after a reset: ${got.message}`, 'reset-failed'));
      }
    } finally {
      this.supersede = undefined;
    }
    if (stale()) return;
    h.resetDone({ reason: REASONS[cause] ?? 'requested', generation: g, ranHere });
  }

  /** The device is known gone (ControllerRegisters.deviceGone): fail everything with 'removed' and throw it. */
  private failIfGone(): void {
    const h = this.h;
    if (!h.regs.deviceGone?.()) return;
    const err = new ControllerError(`${h.regs.description}: the device is gone (its process exited)`, 'removed');
    h.failForever(err);
    throw err;
  }

  private suspendAll(err: ControllerResetError): void {
    this.h.admin.suspend(err);
    for (const qp of this.h.ownQueuePairs()) qp.suspend(err);
  }
}
