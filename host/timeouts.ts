// Command deadlines of a queue pair: the scan that finds commands past their
// timeout, and ending every outstanding command at once (a controller
// reset, a dead controller, a deleted queue pair). The policy of what a
// timeout leads to (Abort, then a reset) is the owner's: host/recovery.ts.
import { PROMISE_CB, type CommandTable } from './command-table.js';

/** Callback-path polls between two looks at the clock for timeouts. */
export const POLLS_PER_TIMEOUT_CHECK = 256;
/** Least time between two timeout scans of a queue pair. */
export const TIMEOUT_SCAN_MS = 5;

/**
 * Stamp the deadline of commands that have none yet (callback-path ones:
 * the hot path reads no clock) and call `expired(k)` for each command
 * past its deadline that has not timed out before.
 */
export function scanDeadlines(t: CommandTable, now: number, expired: (k: number) => void): void {
  for (let k = 0; k < t.size; k++) {
    if (t.cbs[k] === undefined || t.timedOut[k] || t.limits[k] === 0) continue;
    const d = t.deadlines[k]!;
    if (d === 0) t.deadlines[k] = now + t.limits[k]!;
    else if (d <= now) expired(k);
  }
}

/**
 * End every outstanding command: `errorFor(k, timedOut)` says with what (a
 * command past its deadline gets its timeout error). Promise-path commands
 * settle (after their cleanup), callback-path ones get their callback; a
 * callback or cleanup that throws does not stop the others.
 */
export function endOutstanding(t: CommandTable, errorFor: (k: number, timedOut: boolean) => Error): void {
  for (let k = 0; k < t.size; k++) {
    const cb = t.cbs[k];
    if (cb === undefined) continue;
    t.cbs[k] = undefined;
    const timedOut = t.timedOut[k] === 1;
    t.timedOut[k] = 0;
    const e = errorFor(k, timedOut);
    try {
      if (cb === PROMISE_CB) t.finish(k, e, 0);
      else cb(e, 0);
    } catch {
      /* the command is gone either way */
    }
  }
}
