// Process identity: pid plus start time, so a recycled pid is never taken
// for a live process.
import fs from 'node:fs';

/** Start time of a process in clock ticks since boot (/proc/PID/stat field 22), or undefined if gone. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19]); // field 22 overall, 20th after the name
}

export function currentPid(): number {
  return process.pid;
}

/** True if `pid` runs and started at `startTime`. */
export function processAlive(pid: number, startTime: number): boolean {
  return processStartTime(pid) === startTime;
}
