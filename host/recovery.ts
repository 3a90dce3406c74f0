// What a command past its deadline leads to (the policy; the deadline scan
// itself is host/timeouts.ts): an I/O command is aborted (Abort, 5.1); if it
// is still outstanding one timeout after the Abort completed (or the Abort
// failed), the controller is reset. An admin command leads to a reset at
// once: an Abort would queue behind it.
import type { TimedOutQueue } from './qpair-types.js';
import type { ResetReason } from './errors.js';

/** What the escalation needs of its controller. */
export interface RecoveryHost {
  /** Tell listeners (the 'timeout' event). */
  timedOut(t: { qid: number; cid: number; opcode: number }): void;
  abort(sqid: number, cid: number): Promise<boolean>;
  /** A reset runs or is being followed here. */
  resetBusy(): boolean;
  reset(reason: ResetReason): Promise<void>;
}

/** The onTimeout handler of a controller's queue pairs. */
export function timeoutEscalation(h: RecoveryHost): (qp: TimedOutQueue, cid: number, opcode: number, timeoutMs: number) => void {
  return (qp, cid, opcode, timeoutMs) => {
    h.timedOut({ qid: qp.qid, cid, opcode });
    if (qp.qid === 0 || h.resetBusy()) {
      void h.reset('timeout').catch(() => {});
      return;
    }
    const limit = Math.max(1, timeoutMs); // the command's own timeout, again, for the Abort to take effect
    const escalate = async (): Promise<void> => {
      try {
        await h.abort(qp.qid, cid);
      } catch {
        /* the Abort failed or timed out: wait below, then reset */
      }
      const end = performance.now() + limit;
      while (qp.isWaitingFor(cid) && performance.now() < end && !qp.isClosed) await new Promise((r) => setTimeout(r, 1));
      if (qp.isWaitingFor(cid) && !qp.isClosed) await h.reset('timeout');
    };
    void escalate().catch(() => {});
  };
}
