// eventfd(2): a kernel counter behind a file descriptor. VFIO signals one per
// interrupt vector (VFIO_DEVICE_SET_IRQS, vfio.ts); the host sleeps on it
// with poll(2) in the libuv thread pool, so the event loop goes on meanwhile
// (as futexWaitAsync does with a futex word). Nothing about NVMe.
import { c, errno, fail } from './libc.js';
import { HalError } from './errors.js';
import { EAGAIN, EINTR } from './errno.js';

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const POLLIN = 0x1;
// struct pollfd { int fd; short events; short revents; }
const POLLFD_SIZE = 8;

/** A new eventfd, counter 0, non-blocking (reads never block the event loop) and close-on-exec. */
export function eventfdCreate(): number {
  const fd = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
  if (fd < 0) fail('eventfd');
  return fd;
}

const counter = Buffer.alloc(8);

/** Read and reset the counter: what was signalled since the last read (0: nothing). */
export function eventfdDrain(fd: number): number {
  const r = Number(c.read(fd, counter, 8));
  if (r === 8) return Number(counter.readBigUInt64LE(0));
  if (r < 0 && errno() === EAGAIN) return 0;
  throw new HalError('read', errno(), `eventfd ${fd}`);
}

/** Add 1 to the counter: a sleeper on `fd` wakes (cancelling a wait, or a test's interrupt). */
export function eventfdSignal(fd: number): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(1n, 0);
  if (Number(c.write(fd, b, 8)) !== 8) throw new HalError('write', errno(), `eventfd ${fd}`);
}

/**
 * poll(2) for `fd` readable in the libuv thread pool, at most `timeoutMs`.
 * Resolves true when it is readable (or poll failed: the caller looks
 * again either way), false on timeout. The fd must stay open until this
 * settles.
 */
export function pollReadableAsync(fd: number, timeoutMs: number): Promise<boolean> {
  const pfd = Buffer.alloc(POLLFD_SIZE); // one per call: the pool thread reads it while this thread goes on
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  return new Promise((resolve, reject) => {
    c.poll.async(pfd, 1, Math.max(0, Math.ceil(timeoutMs)), (err: unknown, r: unknown) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(Number(r) !== 0);
      void pfd; // keep the pollfd alive until the call is over
    });
  });
}

/**
 * A set of descriptors to wait on at once, on this thread: poll(2) until
 * one is readable or `timeoutMs` passes. For a poller that would rather
 * block its thread for a bounded time than spin (host/nvmf/target/
 * poll-group.ts: its hot sockets and its device's interrupt eventfds): the
 * CPU idles, and the kernel wakes it, with no thread pool or event loop
 * in between. The pollfd array is allocated once.
 */
export class ReadableSet {
  /** Descriptors added since the last clear(). */
  count = 0;
  private readonly pfds: Buffer;
  constructor(readonly capacity = 64) {
    this.pfds = Buffer.alloc(capacity * POLLFD_SIZE);
  }

  clear(): void {
    this.count = 0;
  }

  /** Wait for `fd` too; false when the set is full. */
  add(fd: number): boolean {
    if (this.count === this.capacity) return false;
    const o = this.count * POLLFD_SIZE;
    this.pfds.writeInt32LE(fd, o);
    this.pfds.writeInt16LE(POLLIN, o + 4);
    this.pfds.writeInt16LE(0, o + 6);
    this.count++;
    return true;
  }

  /** Block until one is readable (or hung up), at most `timeoutMs` (rounded up to 1 ms): how many are; 0 on timeout or a signal. */
  wait(timeoutMs: number): number {
    if (this.count === 0) return 0;
    const r = c.poll(this.pfds, this.count, Math.max(1, Math.ceil(timeoutMs))) as number;
    if (r >= 0) return r;
    if (errno() === EINTR) return 0;
    throw new HalError('poll', errno(), `${this.count} descriptors`);
  }
}
