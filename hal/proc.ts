// Process identity: pid plus start time, so a recycled pid is never taken
// for a live process. And the rule every cleanup decision rests on: a
// process is dead only when the kernel says so (no such pid, or a pid whose
// start time differs). Anything else (no file descriptor left to read
// /proc with, a read refused) means "unknown", and unknown is alive: nothing
// of a member whose fate is unknown is ever reclaimed.
import fs from 'node:fs';
import os from 'node:os';
import { HalError } from './errors.js';

/** What the kernel says of a recorded process. */
export type Liveness = 'alive' | 'dead' | 'unknown';

/** A process that is not there: the pid has no /proc entry, or kill(pid, 0) says ESRCH. */
const GONE = new Set(['ENOENT', 'ESRCH']);

/** kill(pid, 0): does a process with this pid exist (whatever its start time)? */
function pidExists(pid: number): boolean | undefined {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true; // exists, owned by someone else
    return undefined;
  }
}

/**
 * /proc/PID/stat field 22 (the start time), or the errno code that stopped
 * the read; 'ESRCH' for a zombie (state Z or X: it exited and runs no more,
 * its parent has not reaped it yet).
 */
function readStartTime(pid: number): number | string {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO';
  }
  // The command name (field 2) is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return 'ESRCH'; // field 3: state
  const t = Number(fields[19]); // field 22 overall, 20th after the name
  return Number.isFinite(t) ? t : 'EBADMSG';
}

/**
 * Start time of a process in clock ticks since boot (/proc/PID/stat field
 * 22), or undefined if there is no such process. Throws HalError when the
 * kernel could not be asked (EMFILE, EACCES, ...): the caller cannot tell.
 */
export function processStartTime(pid: number): number | undefined {
  const t = readStartTime(pid);
  if (typeof t === 'number') return t;
  if (GONE.has(t) || pidExists(pid) === false) return undefined;
  throw new HalError('read', (os.constants.errno as Record<string, number>)[t] ?? 0, `/proc/${pid}/stat: cannot tell whether process ${pid} runs`);
}

/** Does a process with this pid run (whatever its start time)? True unless the kernel says there is none. */
export function pidRunning(pid: number): boolean {
  const t = readStartTime(pid);
  if (typeof t === 'number') return true;
  if (GONE.has(t)) return false;
  return pidExists(pid) !== false;
}

export function currentPid(): number {
  return process.pid;
}

/**
 * Is the process recorded as (`pid`, `startTime`) running? 'dead' only on
 * the kernel's word: no such pid, or another start time. When /proc cannot
 * be read, kill(pid, 0) still tells a vanished pid ('dead'); otherwise
 * 'unknown'.
 */
export function processLiveness(pid: number, startTime: number): Liveness {
  const t = readStartTime(pid);
  if (typeof t === 'number') return t === startTime ? 'alive' : 'dead';
  if (GONE.has(t)) return 'dead';
  return pidExists(pid) === false ? 'dead' : 'unknown';
}

/**
 * True unless the process is known to be dead: what every cleanup
 * decision (taking over a lock, reaping a member, claiming the primary
 * role, closing the group as its last member) must ask.
 */
export function processAlive(pid: number, startTime: number): boolean {
  return processLiveness(pid, startTime) !== 'dead';
}
