// CPU affinity of the calling thread (sched_setaffinity / sched_getaffinity
// through koffi). Nothing about NVMe: the CLI's -c core mask uses it.
import os from 'node:os';
import koffi from 'koffi';
import { HalError } from './errors.js';

const lib = koffi.load('libc.so.6');
// pid 0 = the calling thread (Linux applies affinity per thread).
const setAffinity = lib.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)');
const getAffinity = lib.func('int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)');

/** 1024 CPUs, glibc's cpu_set_t size. */
const MASK_BYTES = 128;

function toBytes(cpus: Iterable<number>): Uint8Array {
  const m = new Uint8Array(MASK_BYTES);
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= MASK_BYTES * 8) throw new RangeError(`CPU ${c} is outside 0..${MASK_BYTES * 8 - 1}`);
    m[c >>> 3]! |= 1 << (c & 7);
  }
  return m;
}

/** The CPUs the calling thread may run on. */
export function threadAffinity(): number[] {
  const m = new Uint8Array(MASK_BYTES);
  if (getAffinity(0, MASK_BYTES, m) !== 0) throw new HalError('sched_getaffinity', koffi.errno());
  const out: number[] = [];
  for (let c = 0; c < MASK_BYTES * 8; c++) if (m[c >>> 3]! & (1 << (c & 7))) out.push(c);
  return out;
}

/** Bind the calling thread (threads it starts later inherit it) to `cpus`. */
export function setThreadAffinity(cpus: Iterable<number>): void {
  if (setAffinity(0, MASK_BYTES, toBytes(cpus)) !== 0) throw new HalError('sched_setaffinity', koffi.errno());
}

/** CPUs the system has online (os.cpus() lists them). */
export function onlineCpus(): number[] {
  return os.cpus().map((_, i) => i);
}
