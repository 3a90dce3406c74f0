// The region on hugetlbfs (root only: the test reserves pages and mounts
// hugetlbfs if needed, as CI runs as root), and the /dev/shm fallback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Controller, ResourceError } from '../host/index.js';
import { hugetlbfsMount, hugePagesFree } from '../hal/index.js';
import { pattern } from './helpers/rand.js';

const root = process.getuid?.() === 0;

function ensureHugepages(pages: number): boolean {
  try {
    const total = Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
    if (hugePagesFree() < pages) fs.writeFileSync('/proc/sys/vm/nr_hugepages', String(total + pages - hugePagesFree()));
    if (!hugetlbfsMount()) {
      fs.mkdirSync('/dev/hugepages', { recursive: true });
      execFileSync('mount', ['-t', 'hugetlbfs', 'nodev', '/dev/hugepages']);
    }
    return hugePagesFree() >= pages && hugetlbfsMount() !== undefined;
  } catch {
    return false;
  }
}

test('hugepages never: the region lives in /dev/shm', async () => {
  const ctrl = await Controller.open({ hugepages: 'never', regionSize: 8 << 20 });
  try {
    assert.is(ctrl.region.file.hugetlbfs, false);
    assert.ok(ctrl.region.file.path.startsWith('/dev/shm/'));
    assert.not.ok(fs.existsSync(ctrl.region.file.path), 'unlinked once both sides mapped it: no file left by a crash');
  } finally {
    await ctrl.close();
  }
});

test('hugepages require: on hugetlbfs with verified I/O (root), or a ResourceError saying what to do', async () => {
  if (!root || !ensureHugepages(8)) {
    const free = hugePagesFree();
    if (free === 0 || !hugetlbfsMount()) {
      const e = await Controller.open({ hugepages: 'require', regionSize: 8 << 20 }).catch((x: unknown) => x);
      assert.instance(e, ResourceError);
      assert.match((e as Error).message, /hugetlbfs|nr_hugepages/);
    }
    return;
  }
  const ctrl = await Controller.open({ hugepages: 'require', regionSize: 8 << 20 });
  try {
    assert.is(ctrl.region.file.hugetlbfs, true);
    assert.ok(ctrl.region.file.path.startsWith(hugetlbfsMount()!));
    const d = pattern(3, 64, 512, 5);
    await ctrl.namespace(1).write(3, d);
    assert.ok((await ctrl.namespace(1).readBlocks(3, 64)).equals(d));
  } finally {
    await ctrl.close();
  }
});

test('the debug build of the core runs the same I/O', async () => {
  const ctrl = await Controller.open({ debugCore: true, regionSize: 8 << 20, hugepages: 'never' });
  try {
    const d = pattern(9, 16, 512, 6);
    await ctrl.namespace(1).write(9, d);
    assert.ok((await ctrl.namespace(1).readBlocks(9, 16)).equals(d));
  } finally {
    await ctrl.close();
  }
});

test.run();
