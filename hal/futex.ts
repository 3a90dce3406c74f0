// The futex half of the cross-process lock. Atomics.wait/notify are
// process-local in V8, the kernel futex is not: a waiter in one process is
// woken by a wake on the same shared mapping from another. No
// FUTEX_PRIVATE_FLAG, precisely because the word is shared between processes.
import { EAGAIN, EINTR, ETIMEDOUT } from './errno.js';
import { c, errno } from './libc.js';
import { HalError } from './errors.js';

const SYS_futex = 202; // x86-64
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

const timespec = Buffer.alloc(16);

/**
 * Sleep while the u32 at `addr` equals `expected`, at most `timeoutMs`.
 * Returns 'woken', 'changed' (the value differed already) or 'timeout'.
 */
export function futexWait(addr: bigint, expected: number, timeoutMs: number): 'woken' | 'changed' | 'timeout' {
  timespec.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
  timespec.writeBigInt64LE(BigInt(Math.floor((timeoutMs % 1000) * 1e6)), 8);
  const r = Number(c.futexWait(SYS_futex, addr, FUTEX_WAIT, expected >>> 0, timespec));
  if (r === 0) return 'woken';
  const e = errno();
  if (e === EAGAIN) return 'changed';
  if (e === ETIMEDOUT) return 'timeout';
  if (e === EINTR) return 'woken';
  throw new HalError('futex', e, 'FUTEX_WAIT');
}

/** Wake up to `count` waiters on `addr`; returns how many were woken. */
export function futexWake(addr: bigint, count = 0x7fffffff): number {
  const r = Number(c.futexWake(SYS_futex, addr, FUTEX_WAKE, count));
  if (r < 0) throw new HalError('futex', errno(), 'FUTEX_WAKE');
  return r;
}

/**
 * futexWait in the libuv thread pool: the event loop goes on while a pool
 * thread sleeps. Resolves 'woken' (woken, or the value differed already)
 * or 'timeout'-or-other; errno is the pool thread's, so only the return
 * value says which, and the caller looks at the word again either way.
 */
export function futexWaitAsync(addr: bigint, expected: number, timeoutMs: number): Promise<'woken' | 'other'> {
  const ts = Buffer.alloc(16); // one per call: the pool thread reads it while this thread goes on
  ts.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
  ts.writeBigInt64LE(BigInt(Math.floor((timeoutMs % 1000) * 1e6)), 8);
  return new Promise((resolve, reject) => {
    c.futexWait.async(SYS_futex, addr, FUTEX_WAIT, expected >>> 0, ts, (err: unknown, r: unknown) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(Number(r) === 0 ? 'woken' : 'other');
      void ts; // keep the timespec alive until the call is over
    });
  });
}

/**
 * Give this CPU to another runnable process (sched_yield(2)): for a lock
 * waiter whose lock holder may be waiting for the CPU it spins on.
 */
export function yieldCpu(): void {
  c.schedYield();
}
