// -c core masks as SPDK/DPDK write them: a hex mask ('0x3', '3') or a CPU
// list ('[0,2-3]'). Applying one binds the polling thread with
// sched_setaffinity (hal/affinity.ts).
import { InvalidArgumentError as OptionValueError } from 'commander';
import { InvalidArgumentError } from '../errors.js';
import { threadAffinity, setThreadAffinity } from '../../hal/affinity.js';

const MAX_CPU = 1023;

/** The CPU numbers a mask names, ascending. Throws naming the accepted forms. */
export function parseCoreMask(text: string): number[] {
  const t = text.trim();
  const cpus = new Set<number>();
  const list = /^\[(.*)\]$/.exec(t);
  if (list) {
    for (const part of list[1]!.split(',')) {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
      if (!m) throw new OptionValueError(`Expected a hex core mask such as 0x3 or a CPU list such as [0,2-3], got '${text}'.`);
      const a = Number(m[1]);
      const b = m[2] !== undefined ? Number(m[2]) : a;
      if (b < a || b > MAX_CPU) throw new OptionValueError(`CPU range ${part.trim()} must be ascending and at most ${MAX_CPU}.`);
      for (let c = a; c <= b; c++) cpus.add(c);
    }
  } else {
    const m = /^(?:0x)?([0-9a-f]+)$/i.exec(t);
    if (!m) throw new OptionValueError(`Expected a hex core mask such as 0x3 or a CPU list such as [0,2-3], got '${text}'.`);
    const bits = BigInt(`0x${m[1]}`);
    for (let c = 0; c <= MAX_CPU && bits >> BigInt(c) !== 0n; c++) if ((bits >> BigInt(c)) & 1n) cpus.add(c);
  }
  if (cpus.size === 0) throw new OptionValueError('The core mask names no CPU.');
  return [...cpus].sort((a, b) => a - b);
}

export function maskString(cpus: number[]): string {
  let m = 0n;
  for (const c of cpus) m |= 1n << BigInt(c);
  return `0x${m.toString(16)}`;
}

/**
 * Bind the calling thread to the CPUs of `cpus` this process may use.
 * Returns the CPUs applied; throws (naming -c) when none of them is
 * available (offline, or outside the process's cpuset).
 */
export function applyCoreMask(cpus: number[]): number[] {
  const use = usableCores(cpus);
  setThreadAffinity(use);
  return use;
}

/** The CPUs of `cpus` this process may use; throws (naming -c) when there are none. Binds nothing. */
export function usableCores(cpus: number[]): number[] {
  const allowed = new Set(threadAffinity());
  const use = cpus.filter((c) => allowed.has(c));
  if (use.length === 0) {
    throw new InvalidArgumentError('-c, --core-mask', `a mask naming a CPU this process can run on (${[...allowed].join(',')})`, maskString(cpus));
  }
  return use;
}
