// File descriptors: open, size, close. Errors carry the syscall and errno.
import { EINTR, EWOULDBLOCK } from './errno.js';
import { c, errno, fail } from './libc.js';
import { HalError } from './errors.js';

export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_CLOEXEC = 0o2000000;
/** Fail (ELOOP) rather than follow a symbolic link in the last path component. */
export const O_NOFOLLOW = 0o400000;

export function openFile(path: string, flags: number, mode = 0o600): number {
  const fd = c.open(path, flags | O_CLOEXEC, mode) as number;
  if (fd < 0) fail('open', path);
  return fd;
}

export function truncateFile(fd: number, length: number): void {
  if ((c.ftruncate(fd, length) as number) < 0) fail('ftruncate', `fd ${fd}, ${length} bytes`);
}

/**
 * Reserve the blocks of [0, length) now (posix_fallocate): on tmpfs and
 * hugetlbfs a page that cannot be had later is a SIGBUS at the first store,
 * here it is ENOSPC (a HalError) at once.
 */
export function allocateFile(fd: number, length: number): void {
  for (;;) {
    const err = c.posixFallocate(fd, 0, length) as number;
    if (err === 0) return;
    // A signal (a profiler's SIGPROF, SIGCHLD, a terminal resize) interrupts a
    // long reservation on hugetlbfs; the pages it got stay, so going on from
    // the start again makes progress.
    if (err === EINTR) continue;
    throw new HalError('posix_fallocate', err, `fd ${fd}, ${length} bytes`);
  }
}

export function closeFd(fd: number): void {
  if ((c.close(fd) as number) < 0) fail('close', `fd ${fd}`);
}

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * Hold a shared flock(2) on `fd`'s file (every member of a group does on
 * its region file): the kernel releases it when the process dies, so
 * "nobody holds one" proves nobody uses the file. Waits only for an
 * exclusive holder, which holds it for microseconds (tryFlockExclusive).
 */
export function flockShared(fd: number): void {
  // A blocking flock ends with EINTR when a signal arrives while it waits: wait again.
  while ((c.flock(fd, LOCK_SH) as number) < 0) if (errno() !== EINTR) fail('flock', `fd ${fd}, LOCK_SH`);
}

/** Take an exclusive flock(2) on `fd` if no process holds any lock on the file; false if one does. */
export function tryFlockExclusive(fd: number): boolean {
  if ((c.flock(fd, LOCK_EX | LOCK_NB) as number) === 0) return true;
  if (errno() === EWOULDBLOCK) return false;
  fail('flock', `fd ${fd}, LOCK_EX | LOCK_NB`);
}
