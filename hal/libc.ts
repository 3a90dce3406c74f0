// koffi bindings to the few libc entry points the HAL needs. Nothing else in
// the project calls native code.
import koffi from 'koffi';
import { HalError } from './errors.js';

const lib = koffi.load('libc.so.6');

export const c = {
  open: lib.func('int open(const char *path, int flags, uint32_t mode)'),
  close: lib.func('int close(int fd)'),
  ftruncate: lib.func('int ftruncate(int fd, int64_t length)'),
  mmap: lib.func('uintptr_t mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, int64_t off)'),
  munmap: lib.func('int munmap(uintptr_t addr, size_t len)'),
  // memmove(p, p, 0) returns p: the way to learn a typed array's address.
  memmoveAddr: lib.func('uintptr_t memmove(void *dst, void *src, size_t n)'),
  // syscall(2) is variadic; glibc's implementation reads its arguments from
  // registers without va_start, so fixed prototypes are safe on x86-64.
  futexWait: lib.func('long syscall(long nr, uintptr_t uaddr, int op, uint32_t val, void *timeout)'),
  futexWake: lib.func('long syscall(long nr, uintptr_t uaddr, int op, int count)'),
  // sched_yield(2): let another runnable process (a lock holder on this CPU) go first.
  schedYield: lib.func('int sched_yield()'),
  getpid: lib.func('int getpid()'),
  // ioctl(2) is variadic too; its third argument is either a pointer or an
  // integer, hence two fixed prototypes (same register on x86-64).
  ioctlPtr: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
  ioctlInt: lib.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
  mlock: lib.func('int mlock(uintptr_t addr, size_t len)'),
  // pidfd_open(2) / pidfd_getfd(2) (Linux 5.6): duplicate a file descriptor
  // another process holds (a VFIO group can be opened only once).
  pidfdOpen: lib.func('long syscall(long nr, int pid, unsigned int flags)'),
  pidfdGetfd: lib.func('long syscall(long nr, int pidfd, int targetfd, unsigned int flags)'),
  // getsockopt(SOL_SOCKET, SO_PEERCRED): who is at the other end of a Unix socket.
  getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32_t *len)'),
  // flock(2): advisory locks the kernel drops when the holder dies.
  flock: lib.func('int flock(int fd, int operation)'),
  // recv(2) with MSG_DONTWAIT: a polled socket read (host/fabrics/connection.ts, FabricsOptions.poll).
  recv: lib.func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)'),
  // send(2) with MSG_DONTWAIT: a polled socket write (host/nvmf/target/connection.ts).
  send: lib.func('long send(int fd, const uint8_t *buf, size_t len, int flags)'),
  // sendmsg(2) with MSG_DONTWAIT: gathered writes of a polled socket (hal/sendmsg.ts).
  sendmsg: lib.func('long sendmsg(int fd, const uint8_t *msg, int flags)'),
  // fcntl(2) is variadic; F_DUPFD_CLOEXEC takes an int (a register on x86-64).
  fcntlInt: lib.func('int fcntl(int fd, int cmd, int arg)'),
  // posix_fallocate(3): returns the error number itself (0 on success), not -1.
  posixFallocate: lib.func('int posix_fallocate(int fd, int64_t offset, int64_t len)'),
  // eventfd(2), and read/write of its 8-byte counter; poll(2) to sleep on
  // one in the libuv pool (`.async`).
  eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
  read: lib.func('long read(int fd, void *buf, size_t n)'),
  write: lib.func('long write(int fd, void *buf, size_t n)'),
  poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
};

export function errno(): number {
  return koffi.errno();
}

/** Throw a HalError for a failed call (a -1 return), reading errno at once. */
export function fail(syscall: string, detail?: string): never {
  throw new HalError(syscall, koffi.errno(), detail);
}
