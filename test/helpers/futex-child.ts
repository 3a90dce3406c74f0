// Child of hal.test: map the same file, store 42 in word 1, wake word 0.
import { openFile, closeFd, O_RDWR, createSharedMemory, alignedOffset, mapFixed, futexWake } from '../../hal/index.js';

const fd = openFile(process.argv[2]!, O_RDWR);
const { memory, base } = createSharedMemory(8 << 20);
const off = alignedOffset(base, 1 << 20, 2 << 20);
mapFixed(base, off, 2 << 20, fd);
closeFd(fd);
const i32 = new Int32Array(memory.buffer, off, 16);
setTimeout(() => {
  Atomics.store(i32, 1, 42);
  Atomics.store(i32, 0, 1);
  futexWake(base + BigInt(off));
}, 100);
