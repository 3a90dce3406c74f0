// Where the messaging sockets of a group live, and their names:
//
//   <run dir>/<prefix>_<shmId>/mp_socket_<slot>_<pid>
//
// (like DPDK's /var/run/dpdk/<prefix>/mp_socket_<pid>), and the removal of
// sockets left by processes that are gone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { UnsafePathError } from '../errors.js';

/**
 * Where the groups' sockets live: $NVME_WASM_RUN_DIR, else
 * <tmpdir>/nvme-wasm-<uid>: one per user (as /run/user/<uid>), so one
 * user's directory never stands in another's way, and each is private.
 */
export function runDir(): string {
  return process.env.NVME_WASM_RUN_DIR ?? path.join(os.tmpdir(), `nvme-wasm-${process.getuid?.() ?? 0}`);
}

/** The socket directory of a group named `groupName` (its region file's name without '.region'). */
export function groupSocketDir(groupName: string): string {
  const dir = path.join(runDir(), groupName);
  // sun_path holds 107 bytes: a long prefix gets a hashed directory name.
  return dir.length <= 72 ? dir : path.join(runDir(), createHash('sha1').update(groupName).digest('hex').slice(0, 16));
}

const SOCKET_RE = /^mp_socket_(\d+)_(\d+)$/;
/** Slots of the process table: a socket name with a slot outside 0 .. 63 is stale. */
const MAX_SLOTS = 64;

/** The socket file name of the process `pid` in slot `slot`. */
export function socketName(slot: number, pid: number): string {
  return `mp_socket_${slot}_${pid}`;
}

/**
 * Remove the socket files in `dir` whose process is not the live member of
 * its slot (`live(slot, pid)` says whether it is), except `keep`'s own.
 */
export function removeStaleSockets(dir: string, keep: { slot: number; pid: number }, live: (slot: number, pid: number) => boolean): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = SOCKET_RE.exec(n);
    if (!m) continue;
    const slot = Number(m[1]);
    const pid = Number(m[2]);
    if (slot === keep.slot && pid === keep.pid) continue;
    if (slot < 0 || slot >= MAX_SLOTS || !live(slot, pid)) fs.rmSync(path.join(dir, n), { force: true });
  }
}

/**
 * Make `dir` (and the run directory above it) exist as this user's private
 * directories: created with mode 0700; an existing one is used only if it
 * is a real directory (not a link), owned by this user, and neither group
 * nor others may write it. Otherwise UnsafePathError, and nothing is
 * created inside.
 */
export function ensurePrivateDir(dir: string): void {
  const uid = process.getuid?.() ?? 0;
  for (const d of [runDir(), dir]) {
    const st = makeDir(d);
    if (st.isSymbolicLink()) throw new UnsafePathError(d, st.uid, 'it is a symbolic link');
    if (!st.isDirectory()) throw new UnsafePathError(d, st.uid, 'it is not a directory');
    if (st.uid !== uid) throw new UnsafePathError(d, st.uid, `it belongs to another user (this process runs as uid ${uid})`);
    if ((st.mode & 0o022) !== 0) throw new UnsafePathError(d, st.uid, `group or others may write it (mode ${(st.mode & 0o777).toString(8)})`);
  }
}

/** Times a group directory removed under a joiner is made again before giving up (here, and before its bind: messaging.ts). */
export const DIR_REMAKES = 10;

/**
 * mkdir `d` (0700) if it is not there, and lstat it. The last member of a
 * group removes the group's directory when it leaves (rmdir, only when
 * empty), so a joiner can find it gone between the two: it makes it again.
 */
function makeDir(d: string): fs.Stats {
  for (let i = 1; ; i++) {
    try {
      fs.mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      return fs.lstatSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || i >= DIR_REMAKES) throw e;
    }
  }
}
