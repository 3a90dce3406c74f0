// A socket read without blocking: recv(2) with MSG_DONTWAIT, for a polled
// NVMe/TCP queue (host/fabrics/connection.ts, FabricsOptions.poll).
import { EAGAIN, EINTR } from './errno.js';
import { c, errno } from './libc.js';
import { HalError } from './errors.js';

const MSG_DONTWAIT = 0x40;

/** recvNonBlocking's answer when nothing is there to read (EAGAIN). */
export const RECV_NOTHING = -1;

/**
 * Read at most `len` bytes of socket `fd` into `buf` now: the byte count,
 * 0 at end of stream, RECV_NOTHING when nothing is there (or a signal came
 * first); a HalError ('recv', errno) for a broken connection.
 */
export function recvNonBlocking(fd: number, buf: Uint8Array, len: number): number {
  const n = Number(c.recv(fd, buf, Math.min(len, buf.length), MSG_DONTWAIT) as number | bigint);
  if (n >= 0) return n;
  const e = errno();
  if (e === EAGAIN || e === EINTR) return RECV_NOTHING;
  throw new HalError('recv', e, `socket fd ${fd}`);
}
