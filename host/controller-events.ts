// The events a Controller emits, typed (Controller extends this class).
import { EventEmitter } from 'node:events';
import type { BogusCompletion } from './qpair-types.js';
import type { ResetInfo } from './reset.js';
import type { ControllerError } from './errors.js';
import type { GroupNotification } from './mp/notify.js';
import type { FabricEvent } from './fabrics/association.js';

export class ControllerEvents {
  protected readonly events = new EventEmitter();

  /**
   * Events: 'asyncEvent' (dword 0 of an Asynchronous Event Request
   * completion, in every member of a group), 'primary' (this process took
   * the primary role), 'memberCleaned' (a dead member's slot was reclaimed),
   * 'bogusCompletion' (a malformed completion was consumed and ignored),
   * 'timeout' (a command passed its deadline: recovery starts), 'reset' (a
   * controller reset is over and this process has its queues back: every
   * member gets it), 'removed' / 'failed' (the controller is gone for good:
   * registers read all ones, or it did not come back from a reset).
   */
  on(event: 'asyncEvent' | 'primary' | 'memberCleaned', fn: (arg: number) => void): this;
  on(event: 'bogusCompletion', fn: (b: BogusCompletion) => void): this;
  on(event: 'reset', fn: (info: ResetInfo) => void): this;
  on(event: 'timeout', fn: (t: { qid: number; cid: number; opcode: number }) => void): this;
  on(event: 'removed' | 'failed', fn: (err: ControllerError) => void): this;
  /** A notification of another process of the group (see notifyGroup). */
  on(event: 'notification', fn: (n: GroupNotification) => void): this;
  /**
   * NVMe/TCP (docs/nvmf-host.md): 'disconnected' (the connection was lost;
   * commands in flight ended with Host Pathing Error), 'reconnected' (the
   * association is back, queues resumed), 'lost' (ctrl_loss_tmo passed: the
   * controller is then reported removed).
   */
  on(event: 'disconnected' | 'reconnected' | 'lost', fn: (e: FabricEvent) => void): this;
  on(event: string, fn: (arg: any) => void): this { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.on(event, fn);
    return this;
  }

  off(event: 'asyncEvent' | 'primary' | 'memberCleaned', fn: (arg: number) => void): this;
  off(event: 'bogusCompletion', fn: (b: BogusCompletion) => void): this;
  off(event: 'reset', fn: (info: ResetInfo) => void): this;
  off(event: 'timeout', fn: (t: { qid: number; cid: number; opcode: number }) => void): this;
  off(event: 'removed' | 'failed', fn: (err: ControllerError) => void): this;
  off(event: 'notification', fn: (n: GroupNotification) => void): this;
  off(event: 'disconnected' | 'reconnected' | 'lost', fn: (e: FabricEvent) => void): this;
  off(event: string, fn: (arg: any) => void): this { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.events.off(event, fn);
    return this;
  }

  /** Emit `event` to its listeners. */
  protected emit(event: string, arg: unknown): void {
    this.events.emit(event, arg);
  }
}
