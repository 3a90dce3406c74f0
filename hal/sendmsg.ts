// Gathered socket writes: one sendmsg(2) of many pieces, for the NVMe/TCP
// target's answers (host/nvmf/target/socket-io.ts): a read's C2HData header,
// its data and its CapsuleResp, and every other answer ready in the same
// poll, in one system call.
//
//   msghdr (56 bytes)                 iovec[capacity], 16 bytes each
//   +0  msg_name        0             +0  iov_base   address of the piece
//   +8  msg_namelen     0             +8  iov_len    its length
//   +16 msg_iov        -------------> iovec[0]
//   +24 msg_iovlen      count
//   +32 msg_control     0
//   +40 msg_controllen  0
//   +48 msg_flags       0
//
// Both live in a SharedArrayBuffer: its memory never moves, so the address
// in msg_iov is written once. A piece must be memory that never moves too
// (sendmsg reads it after JavaScript let go of it): a view of a
// SharedArrayBuffer (the driver's region, a Wasm memory, an arena). Each
// buffer's address is learnt once (addressOf) and kept.
import { EAGAIN, EINTR } from './errno.js';
import { c, errno } from './libc.js';
import { HalError } from './errors.js';
import { addressOf } from './mmap.js';
import { MSG_DONTWAIT, MSG_NOSIGNAL } from './socket.js';

const MSGHDR_SIZE = 56;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const IOVEC_SIZE = 16;
/** Linux's UIO_MAXIOV: pieces one sendmsg takes at most. */
export const IOV_MAX = 1024;

/** sendGathered's answer when the socket's send buffer takes nothing (EAGAIN). */
export const GATHER_BLOCKED = -1;

const bases = new WeakMap<SharedArrayBuffer, number>();

/** Address of a SharedArrayBuffer's first byte (learnt once per buffer). */
function baseOf(sab: SharedArrayBuffer): number {
  let a = bases.get(sab);
  if (a === undefined) {
    a = Number(addressOf(new Uint8Array(sab, 0, 1)));
    bases.set(sab, a);
  }
  return a;
}

/** Can `b` be a piece of a Gather: a view of memory that never moves? */
export function gatherable(b: Uint8Array): boolean {
  return b.buffer instanceof SharedArrayBuffer && b.length > 0;
}

const NO_PIECE = new Uint8Array(0);

/**
 * A msghdr and its iovec array, filled piece by piece and sent at once; it
 * keeps each piece (and its length) until settle() says what became of it.
 */
export class Gather {
  /** Pieces added since the last settle() or clear(). */
  count = 0;
  /** Their bytes. */
  total = 0;
  private readonly pieces: Uint8Array[] = [];
  private readonly lens: number[] = [];
  private settling = false;
  private readonly mem: SharedArrayBuffer;
  private readonly msg: Uint8Array;
  private readonly words: Uint32Array;

  constructor(readonly capacity = 64) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > IOV_MAX) throw new RangeError(`Gather capacity: an integer from 1 to ${IOV_MAX}, not ${capacity}`);
    this.mem = new SharedArrayBuffer(MSGHDR_SIZE + capacity * IOVEC_SIZE);
    this.msg = new Uint8Array(this.mem, 0, MSGHDR_SIZE);
    this.words = new Uint32Array(this.mem);
    setAddress(this.words, MSG_IOV / 4, baseOf(this.mem) + MSGHDR_SIZE);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Add the first `len` bytes of `b` (gatherable(b), not full): sent after the pieces before it. */
  add(b: Uint8Array, len = b.length): void {
    if (this.settling) throw new Error('Gather.add during settle(): a callback may not write');
    this.pieces[this.count] = b;
    this.lens[this.count] = len;
    const w = (MSGHDR_SIZE + this.count * IOVEC_SIZE) / 4;
    setAddress(this.words, w, baseOf(b.buffer as SharedArrayBuffer) + b.byteOffset);
    setAddress(this.words, w + 2, len);
    this.count++;
    this.total += len;
  }

  clear(): void {
    for (let i = 0; i < this.count; i++) this.pieces[i] = NO_PIECE;
    this.count = 0;
    this.total = 0;
  }

  /**
   * After send() took `n` bytes (0 when it took none or failed): `sent(i)`
   * for each piece wholly sent and `unsent(rest, i)` for each other one
   * (`rest`: its bytes not sent, a view), in order; then the Gather is empty.
   * The callbacks may not add.
   */
  settle(n: number, sent: (i: number) => void, unsent: (rest: Uint8Array, i: number) => void): void {
    this.settling = true;
    try {
      for (let i = 0; i < this.count; i++) {
        const len = this.lens[i]!;
        if (n >= len) {
          n -= len;
          sent(i);
        } else {
          unsent(this.pieces[i]!.subarray(n, len), i);
          n = 0;
        }
      }
    } finally {
      this.settling = false;
      this.clear();
    }
  }

  /**
   * Send the pieces on socket `fd` now, as many bytes as its send buffer
   * takes: the byte count (perhaps fewer than total), GATHER_BLOCKED when it
   * takes none; a HalError ('sendmsg', errno) for a broken connection. The
   * pieces stay added (the caller settles).
   */
  send(fd: number): number {
    setAddress(this.words, MSG_IOVLEN / 4, this.count);
    const n = Number(c.sendmsg(fd, this.msg, MSG_DONTWAIT | MSG_NOSIGNAL) as number | bigint);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN || e === EINTR) return GATHER_BLOCKED;
    throw new HalError('sendmsg', e, `socket fd ${fd}`);
  }
}

/** A 64-bit little-endian word at 32-bit index `w` (a Number below 2^53: no BigInt per call). */
function setAddress(words: Uint32Array, w: number, v: number): void {
  words[w] = v >>> 0;
  words[w + 1] = Math.floor(v / 0x100000000);
}
