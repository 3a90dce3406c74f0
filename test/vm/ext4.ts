// Guest side: a filesystem round trip on a block device the kernel
// initiator gave: mkfs.ext4, mount, files written and checksummed, umount,
// mount again and checksum what the device gives back, umount, then
// `e2fsck -f -n` (forced check, changes nothing): clean means exit 0.
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { run } from './exec.js';

/** What the round trip saw. */
export interface Ext4RoundTrip {
  /** name -> sha256 of the data written. */
  written: Map<string, string>;
  /** name -> sha256 of what was read after umount and mount. */
  readBack: Map<string, string>;
  /** e2fsck -f -n exit status (0: clean) and output. */
  fsckStatus: number;
  fsckOutput: string;
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * mkfs.ext4 on `dev` (everything on it is lost), then files of the given
 * sizes (random data) written through a mount at `mountPoint`, re-read
 * after a remount, and e2fsck. Commands that fail throw GuestCommandError;
 * e2fsck's verdict is returned, not thrown.
 */
export function ext4RoundTrip(dev: string, mountPoint: string, sizes: readonly number[] = [4096, 1 << 20, 7 << 20, 123457]): Ext4RoundTrip {
  run('mkfs.ext4', ['-F', '-q', dev]);
  fs.mkdirSync(mountPoint, { recursive: true });
  const written = new Map<string, string>();
  run('mount', ['-t', 'ext4', dev, mountPoint]);
  try {
    fs.mkdirSync(path.join(mountPoint, 'dir'));
    sizes.forEach((size, i) => {
      const name = `dir/file-${i}-${size}`;
      const data = crypto.randomBytes(size);
      fs.writeFileSync(path.join(mountPoint, name), data);
      written.set(name, crypto.createHash('sha256').update(data).digest('hex'));
    });
    run('sync', []);
  } finally {
    run('umount', [mountPoint]);
  }
  // The page cache of the files went with the umount; the device's own too.
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
  const readBack = new Map<string, string>();
  run('mount', ['-t', 'ext4', '-o', 'ro', dev, mountPoint]);
  try {
    for (const name of written.keys()) readBack.set(name, sha256(path.join(mountPoint, name)));
  } finally {
    run('umount', [mountPoint]);
  }
  const fsck = run('e2fsck', ['-f', '-n', dev], { allowFail: true });
  return { written, readBack, fsckStatus: fsck.status, fsckOutput: `${fsck.stdout}${fsck.stderr}`.trim() };
}
