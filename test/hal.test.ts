// The HAL: errors carry the syscall and errno; a file mapped over a Wasm
// memory window is shared with another process; the futex wakes across
// processes; process identity includes start time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  HalError, openFile, truncateFile, closeFd, O_RDWR, O_CREAT, O_EXCL, createSharedMemory, alignedOffset, mapFixed,
  futexWait, futexWake, processStartTime, processAlive, Mmio,
} from '../hal/index.js';

test('a failed open is a HalError naming the syscall, errno and path', () => {
  try {
    openFile('/nonexistent-dir/x', O_RDWR);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, HalError);
    const h = e as HalError;
    assert.is(h.syscall, 'open');
    assert.is(h.code, 'ENOENT');
    assert.is(h.errno, 2);
    assert.match(h.message, /nonexistent-dir/);
  }
});

test('O_EXCL on an existing file: EEXIST; ftruncate on a bad fd: EBADF', () => {
  const p = `/dev/shm/nvme-wasm-haltest-${process.pid}`;
  const fd = openFile(p, O_RDWR | O_CREAT | O_EXCL);
  try {
    assert.throws(() => openFile(p, O_RDWR | O_CREAT | O_EXCL), (e: unknown) => e instanceof HalError && e.code === 'EEXIST');
  } finally {
    closeFd(fd);
    fs.rmSync(p);
  }
  assert.throws(() => truncateFile(9999, 4096), (e: unknown) => e instanceof HalError && e.syscall === 'ftruncate' && e.code === 'EBADF');
});

test('mmap of a bad fd: HalError from mmap', () => {
  const { base } = createSharedMemory(4 << 20);
  const off = alignedOffset(base, 1 << 20, 4096);
  assert.throws(() => mapFixed(base, off, 4096, 9999), (e: unknown) => e instanceof HalError && e.syscall === 'mmap' && e.code === 'EBADF');
});

test('a mapped window and the futex work across processes', async () => {
  const p = `/dev/shm/nvme-wasm-haltest2-${process.pid}`;
  const fd = openFile(p, O_RDWR | O_CREAT);
  truncateFile(fd, 2 << 20);
  const { memory, base } = createSharedMemory(8 << 20);
  const off = alignedOffset(base, 1 << 20, 2 << 20);
  mapFixed(base, off, 2 << 20, fd);
  closeFd(fd);
  const i32 = new Int32Array(memory.buffer, off, 16);
  Atomics.store(i32, 0, 0);
  const child = fileURLToPath(new URL('./helpers/futex-child.js', import.meta.url));
  const proc = spawn(process.execPath, [child, p], { stdio: 'inherit' });
  // The child stores 42 in word 1 then wakes word 0's waiters.
  let r: string = 'timeout';
  for (let i = 0; i < 50 && Atomics.load(i32, 1) !== 42; i++) r = futexWait(base + BigInt(off), 0, 200);
  assert.is(Atomics.load(i32, 1), 42, 'the other process\'s store is visible');
  assert.ok(['woken', 'changed', 'timeout'].includes(r));
  await new Promise((res) => proc.once('exit', res));
  // Word 0 now holds 1.
  assert.is(futexWait(base + BigInt(off), 0, 10), 'changed', 'value differs: no sleep');
  assert.is(futexWait(base + BigInt(off), 1, 30), 'timeout');
  assert.is(futexWake(base + BigInt(off)), 0);
  fs.rmSync(p);
});

test('process identity: pid plus start time', () => {
  const st = processStartTime(process.pid);
  assert.type(st, 'number');
  assert.ok(processAlive(process.pid, st!));
  assert.not.ok(processAlive(process.pid, st! + 1), 'same pid, other start time: not the same process');
  assert.is(processStartTime(2 ** 22 + 7), undefined);
});

test('MMIO window: 32-bit stores and loads', () => {
  const { memory } = createSharedMemory(1 << 20);
  const m = new Mmio(memory.buffer, 65536, 4096);
  m.write32(0x14, 0xdeadbeef);
  assert.is(m.read32(0x14), 0xdeadbeef);
  assert.is(new DataView(memory.buffer).getUint32(65536 + 0x14, true), 0xdeadbeef);
});

test.run();
