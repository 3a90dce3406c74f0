// File descriptors: open, size, close. Errors carry the syscall and errno.
import { c, fail } from './libc.js';

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

export function closeFd(fd: number): void {
  if ((c.close(fd) as number) < 0) fail('close', `fd ${fd}`);
}
