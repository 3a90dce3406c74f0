// Whose files the driver uses: a region, a simulator or a socket that
// another user could have created (the shared directories, /dev/shm and
// hugetlbfs, are writable by everyone) is refused, unless that user is
// trusted by configuration: NVME_WASM_TRUSTED_UIDS, a comma-separated list
// of uids whose groups and simulators this process may join (root joining a
// group an operator's account started, say). A file is never opened through
// a symbolic link (O_NOFOLLOW), and never used when others may write it.
import fs from 'node:fs';
import { openFile, closeFd, O_NOFOLLOW, HalError } from '../hal/index.js';
import { UnsafePathError, InvalidArgumentError, GroupAccessError } from './errors.js';

/** This process's uid and those NVME_WASM_TRUSTED_UIDS names. */
export function trustedUids(): Set<number> {
  const own = process.getuid?.() ?? 0;
  const env = process.env.NVME_WASM_TRUSTED_UIDS ?? '';
  const out = new Set<number>([own]);
  for (const part of env.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('NVME_WASM_TRUSTED_UIDS', 'a comma-separated list of uids', env);
    out.add(n);
  }
  return out;
}

/** Throw UnsafePathError unless `st` (of `path`) is a regular file of a trusted owner that group and others cannot write. */
export function checkTrustedFile(path: string, st: fs.Stats): void {
  if (!st.isFile()) throw new UnsafePathError(path, st.uid, 'it is not a regular file');
  if (!trustedUids().has(st.uid)) throw new UnsafePathError(path, st.uid, `it belongs to uid ${st.uid}, not this user (uid ${process.getuid?.() ?? 0}) nor one in NVME_WASM_TRUSTED_UIDS`);
  if ((st.mode & 0o022) !== 0) throw new UnsafePathError(path, st.uid, `group or others may write it (mode ${(st.mode & 0o777).toString(8)})`);
}

/**
 * Open an existing file of the group or a simulator: never through a
 * symbolic link, then checked by fstat (owner, mode) on what was opened.
 * EACCES/EPERM is a GroupAccessError naming the owner; other failures
 * (ENOENT, ...) are the HalError of open.
 */
export function openTrusted(path: string, flags: number): number {
  let fd: number;
  try {
    fd = openFile(path, flags | O_NOFOLLOW);
  } catch (e) {
    if (e instanceof HalError && e.code === 'ELOOP') throw new UnsafePathError(path, fs.lstatSync(path, { throwIfNoEntry: false })?.uid ?? -1, 'it is a symbolic link');
    // It exists and is someone else's: say so (never "no such group").
    if (e instanceof HalError && (e.code === 'EACCES' || e.code === 'EPERM')) throw GroupAccessError.of(path, e.code);
    throw e;
  }
  try {
    checkTrustedFile(path, fs.fstatSync(fd));
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}
