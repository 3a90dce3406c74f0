// Socket reads and writes without blocking, for polled NVMe/TCP queues: the
// initiator's (host/fabrics/connection.ts, FabricsOptions.poll) and the
// target's (host/nvmf/target/connection.ts, NvmfTargetOptions.pollSockets).
// The fds are Node's (libuv set them O_NONBLOCK); MSG_DONTWAIT says so again.
import { EAGAIN, EINTR } from './errno.js';
import { c, errno, fail } from './libc.js';
import { HalError } from './errors.js';

export const MSG_DONTWAIT = 0x40;
const MSG_MORE = 0x8000;
/** A peer gone must be an error (EPIPE), not a SIGPIPE. */
export const MSG_NOSIGNAL = 0x4000;
const F_DUPFD_CLOEXEC = 1030;

/** recvNonBlocking's answer when nothing is there to read (EAGAIN). */
export const RECV_NOTHING = -1;
/** sendNonBlocking's answer when the socket's send buffer is full (EAGAIN). */
export const SEND_BLOCKED = -1;

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

/**
 * Write `buf` to socket `fd` now, as much as its send buffer takes: the byte
 * count (perhaps fewer than buf.length), SEND_BLOCKED when it takes nothing
 * (or a signal came first); a HalError ('send', errno) for a broken
 * connection. `more`: more follows at once (MSG_MORE: the kernel holds a
 * partial segment for it, as a cork would).
 */
export function sendNonBlocking(fd: number, buf: Uint8Array, more: boolean): number {
  const n = Number(c.send(fd, buf, buf.length, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0)) as number | bigint);
  if (n >= 0) return n;
  const e = errno();
  if (e === EAGAIN || e === EINTR) return SEND_BLOCKED;
  throw new HalError('send', e, `socket fd ${fd}`);
}

/** A second descriptor of the socket `fd` (close-on-exec), for a socket object of its own. */
export function dupSocket(fd: number): number {
  const d = c.fcntlInt(fd, F_DUPFD_CLOEXEC, 3) as number;
  if (d < 0) fail('fcntl', `F_DUPFD_CLOEXEC of fd ${fd}`);
  return d;
}
