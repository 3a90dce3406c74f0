// The last member of a group removes the group's socket directory when it
// leaves (rmdir, only when empty). A member joining at that moment found the
// directory gone between its mkdir and its lstat, and its open failed with a
// raw ENOENT (kill-stress, seed 20261202, round 892). Both windows are forced
// here by removing the directory from inside the calls that precede them:
// the joiner makes the directory again and listens on its socket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Controller } from '../host/index.js';
import { ensurePrivateDir, groupSocketDir, socketName } from '../host/mp/socket-dir.js';
import { until } from './helpers/wait.js';

const tag = `mprace${process.pid}`;
const run = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-race-'));
const runDirWas = process.env.NVME_WASM_RUN_DIR;

// Only while this file's tests run: the runner holds every test file in one process.
test.before(() => {
  process.env.NVME_WASM_RUN_DIR = path.join(run, 'r');
});
test.after(() => {
  if (runDirWas === undefined) delete process.env.NVME_WASM_RUN_DIR;
  else process.env.NVME_WASM_RUN_DIR = runDirWas;
  fs.rmSync(run, { recursive: true, force: true });
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

/** Replace fs[name] until restore(); `hook` runs before the real call. */
function patch<K extends 'lstatSync' | 'rmSync'>(name: K, hook: (p: string) => void): () => void {
  const real = fs[name];
  (fs as unknown as Record<string, unknown>)[name] = (p: fs.PathLike, ...rest: unknown[]) => {
    hook(String(p));
    return (real as (...a: unknown[]) => unknown)(p, ...rest);
  };
  return () => {
    (fs as unknown as Record<string, unknown>)[name] = real;
  };
}

test('the directory removed between mkdir and lstat: made again, private', () => {
  const dir = path.join(run, 'r', 'g1');
  let removed = 0;
  const restore = patch('lstatSync', (p) => {
    if (p === dir && removed++ === 0) fs.rmdirSync(dir); // the last member leaving, at the worst moment
  });
  try {
    ensurePrivateDir(dir);
  } finally {
    restore();
  }
  assert.is(removed, 2, 'lstat was called again after the directory went');
  const st = fs.lstatSync(dir);
  assert.ok(st.isDirectory());
  assert.is(st.mode & 0o777, 0o700);
});

test('the directory removed between its check and the bind: the member listens on its socket all the same', async () => {
  const g = 7;
  const dir = groupSocketDir(`${tag}_${g}`);
  let removed = 0;
  const restore = patch('rmSync', (p) => {
    // start() clears a stale socket file of its own name just before it binds.
    if (path.dirname(p) === dir && path.basename(p).startsWith('mp_socket_') && removed++ === 0) fs.rmdirSync(dir);
  });
  let ctrl: Controller | undefined;
  try {
    ctrl = await Controller.open({ shmId: g, filePrefix: tag, regionSize: 32 << 20 });
    restore();
    assert.is(removed, 1, 'the directory was removed before the bind');
    const sock = path.join(dir, socketName(ctrl.group.self, process.pid));
    await until(() => fs.existsSync(sock), 10_000, `the socket ${sock}`);
    assert.ok(fs.lstatSync(sock).isSocket());
    assert.is(fs.lstatSync(dir).mode & 0o777, 0o700);
  } finally {
    restore();
    await ctrl?.close();
  }
});

test.run();
