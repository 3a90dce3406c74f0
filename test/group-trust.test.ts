// Files of a group or a simulator that another user could have planted
// (issue 16 C): /dev/shm is everyone's. Another user's region file, a link
// in its place, or a file others may write is refused with UnsafePathError
// and left alone; NVME_WASM_TRUSTED_UIDS lets a process join another
// user's group on purpose. (Root only: it hands files to uid 65534.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { Controller, UnsafePathError } from '../host/index.js';

const tag = `trust${process.pid}`;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const region = (g: number) => `/dev/shm/${tag}_${g}.region`;
const open = (g: number) => Controller.open({ shmId: g, filePrefix: tag, regionSize: 32 << 20 });
const skip = (): boolean => {
  if (!isRoot) console.log('  (skipped: needs root to create another user\'s file)');
  return !isRoot;
};

test.after(() => {
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

test("another user's region file under the group's name is refused and left alone", async () => {
  if (skip()) return;
  fs.writeFileSync(region(1), Buffer.alloc(0x4000, 0x41), { mode: 0o666 });
  fs.chownSync(region(1), NOBODY, NOBODY);
  const e = await open(1).then(() => undefined, (x: unknown) => x);
  assert.instance(e, UnsafePathError);
  assert.is((e as UnsafePathError).path, region(1));
  assert.is((e as UnsafePathError).owner, NOBODY);
  assert.match((e as Error).message, /belongs to uid 65534/);
  const st = fs.statSync(region(1));
  assert.is(st.uid, NOBODY, 'the file is still there, untouched');
  assert.is(fs.readFileSync(region(1))[0], 0x41);
});

test('a symbolic link under the group\'s name is refused, its target untouched', async () => {
  if (skip()) return;
  const victim = `/dev/shm/${tag}_victim`;
  fs.writeFileSync(victim, 'precious');
  fs.symlinkSync(victim, region(2));
  const e = await open(2).then(() => undefined, (x: unknown) => x);
  assert.instance(e, UnsafePathError);
  assert.match((e as Error).message, /symbolic link/);
  assert.is(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.ok(fs.lstatSync(region(2)).isSymbolicLink(), 'the link was not replaced');
});

test('a region file others may write is refused, even our own', async () => {
  const p = region(3);
  fs.writeFileSync(p, Buffer.alloc(0x4000));
  fs.chmodSync(p, 0o622);
  const e = await open(3).then(() => undefined, (x: unknown) => x);
  assert.instance(e, UnsafePathError);
  assert.match((e as Error).message, /group or others may write it \(mode 622\)/);
});

test('NVME_WASM_TRUSTED_UIDS: another user\'s (stale) group is trusted on purpose, then started afresh', async () => {
  if (skip()) return;
  const p = region(4);
  fs.writeFileSync(p, Buffer.alloc(0x4000), { mode: 0o600 });
  fs.chownSync(p, NOBODY, NOBODY);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(p, old, old); // no header and old: a stale group
  process.env.NVME_WASM_TRUSTED_UIDS = String(NOBODY);
  try {
    const ctrl = await open(4);
    assert.ok(ctrl.isPrimary, 'the stale file was replaced by a new group');
    await ctrl.close();
  } finally {
    delete process.env.NVME_WASM_TRUSTED_UIDS;
  }
});

test("another user's simulator is refused", async () => {
  if (skip()) return;
  const ctl = `/dev/shm/nvme-wasm-sim-${tag}.ctl`;
  fs.writeFileSync(ctl, Buffer.alloc(4096), { mode: 0o644 });
  fs.chownSync(ctl, NOBODY, NOBODY);
  try {
    const e = await Controller.open({ transport: `trtype:sim name:${tag}` }).then(() => undefined, (x: unknown) => x);
    assert.instance(e, UnsafePathError);
    assert.is((e as UnsafePathError).path, ctl);
  } finally {
    fs.rmSync(ctl, { force: true });
  }
});

test.run();
