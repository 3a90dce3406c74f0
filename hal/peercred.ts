// Who is at the other end of a connected Unix domain socket, as the kernel
// recorded it when the connection was made (socket(7) SO_PEERCRED): pid,
// uid and gid, which the peer cannot forge. Node does not expose it; the
// socket's file descriptor does.
import type net from 'node:net';
import { c, fail } from './libc.js';
import { HalError } from './errors.js';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } */
const UCRED_SIZE = 12;

/** The kernel's record of a Unix socket peer. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The file descriptor under a Node socket (Linux: libuv's pipe handle keeps it in `fd`). */
export function socketFd(sock: net.Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new HalError('getsockopt', 9 /* EBADF */, 'the socket has no file descriptor (closed, or not a Unix socket)');
  return fd;
}

/** SO_PEERCRED of a connected Unix socket. */
export function peerCredentials(sock: net.Socket): PeerCredentials {
  const buf = Buffer.alloc(UCRED_SIZE);
  const len = [UCRED_SIZE];
  if (c.getsockopt(socketFd(sock), SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) fail('getsockopt', 'SO_PEERCRED');
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}
