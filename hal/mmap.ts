// Mapping files over windows of a shared WebAssembly.Memory.
//
// A shared Wasm memory's backing store never moves (V8 reserves its maximum
// up front), so a file mapped with MAP_FIXED over part of it stays visible to
// Wasm code and to typed arrays on memory.buffer. Two processes mapping the
// same file each see the other's stores, atomics included.
import os from 'node:os';
import { HalError } from './errors.js';
import { c, fail } from './libc.js';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_FIXED = 0x10;
const MAP_FAILED = 0xffffffffffffffffn;

/** Virtual address of a typed array's first byte. */
export function addressOf(view: ArrayBufferView): bigint {
  return BigInt(c.memmoveAddr(view, view, 0) as number | bigint);
}

/** A shared Wasm memory of at least `bytes`, and its base address. */
export function createSharedMemory(bytes: number): { memory: WebAssembly.Memory; base: bigint } {
  const pages = Math.ceil(bytes / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const base = addressOf(new Uint8Array(memory.buffer, 0, 1));
  return { memory, base };
}

/**
 * Offset in a memory of base `base` of the first `align`-aligned virtual
 * address at or above offset `from`.
 */
export function alignedOffset(base: bigint, from: number, align: number): number {
  const a = BigInt(align);
  const addr = ((base + BigInt(from) + a - 1n) / a) * a;
  return Number(addr - base);
}

/** Map `len` bytes of `fd` at `fileOff` over memory offset `memOff` (MAP_FIXED). */
export function mapFixed(base: bigint, memOff: number, len: number, fd: number, fileOff = 0): void {
  const want = base + BigInt(memOff);
  const got = BigInt(c.mmap(want, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, fileOff) as number | bigint);
  if (got === MAP_FAILED) fail('mmap', `${len} bytes of fd ${fd} at offset ${fileOff}`);
  if (got !== want) throw new HalError('mmap', os.constants.errno.EINVAL, `MAP_FIXED placed the mapping at 0x${got.toString(16)}, not 0x${want.toString(16)}`);
}

/**
 * Undo mapFixed: put fresh anonymous zero pages back over the window, so the
 * Wasm memory stays fully backed and the file mapping is dropped.
 */
export function unmapFixed(base: bigint, memOff: number, len: number): void {
  const want = base + BigInt(memOff);
  const MAP_PRIVATE = 0x02;
  const MAP_ANONYMOUS = 0x20;
  const got = BigInt(c.mmap(want, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) as number | bigint);
  if (got === MAP_FAILED) fail('mmap', `anonymous remap of ${len} bytes`);
}
