// A region's memory is reserved when it is created (posix_fallocate), so a
// full /dev/shm is a typed error at open, never a SIGBUS in the middle of
// the I/O (issue 16 E). Run in a private mount namespace whose /dev/shm is
// an 8 MiB tmpfs (root only: unshare and mount).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

const isRoot = process.getuid?.() === 0;

test('a region that does not fit /dev/shm is a ResourceError at open, and the process lives', () => {
  if (!isRoot) {
    console.log('  (skipped: needs root for a private mount namespace)');
    return;
  }
  const script = `import { Controller } from ${JSON.stringify(new URL('../host/index.js', import.meta.url).href)};
    try {
      const c = await Controller.open({ regionSize: 64 << 20, hugepages: 'never' });
      const b = c.allocDma(32 << 20, { zero: true }); // without a reservation: SIGBUS somewhere in here
      b.bytes.fill(1);
      console.log('opened and touched');
      await c.close();
    } catch (e) { console.log(e.name + ': ' + e.message); process.exitCode = 3; }`;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
    `mount -t tmpfs -o size=8m none /dev/shm && exec "${process.execPath}" --input-type=module -e "$0"`, script], { encoding: 'utf8', timeout: 60000 });
  assert.is(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.is(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /^ResourceError: no room for a 67108864-byte region in \/dev\/shm/m);
});

test.run();
