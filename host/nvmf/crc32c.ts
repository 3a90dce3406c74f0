// CRC32C (Castagnoli), the NVMe/TCP header and data digest (TCP 3.6.3.1).
// Three implementations with one meaning (seeds chain: crc32c(b, crc32c(a))
// is the CRC of a then b):
//   - crc32cJs: slicing-by-8 in JavaScript, no dependency;
//   - the Wasm core's crc32c (assembly/core/crc32c.ts) over region memory;
//   - @node-rs/crc32's crc32c (SSE 4.2 / ARMv8 CRC instructions, shipped
//     prebuilt inside its npm package).
// bench/crc32c.ts measures them; `crc32c` below is the one the PDU layer
// uses: the native one when it loads (fastest at every size measured, see
// docs/nvmf-target.md), the JavaScript one otherwise.
import { createRequire } from 'node:module';

const POLY = 0x82f63b78;
const T = new Int32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[b] = c;
}
for (let k = 1; k < 8; k++) {
  for (let b = 0; b < 256; b++) {
    const prev = T[(k - 1) * 256 + b]!;
    T[k * 256 + b] = (prev >>> 8) ^ T[prev & 0xff]!;
  }
}

/** CRC32C of `buf[start, end)` in JavaScript (slicing-by-8), continuing from `seed`. */
export function crc32cJs(buf: Uint8Array, seed = 0, start = 0, end = buf.length): number {
  let c = ~seed;
  let i = start;
  const stop8 = end - 8;
  while (i <= stop8) {
    const lo = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ c;
    c =
      T[0x700 | (lo & 0xff)]! ^
      T[0x600 | ((lo >>> 8) & 0xff)]! ^
      T[0x500 | ((lo >>> 16) & 0xff)]! ^
      T[0x400 | (lo >>> 24)]! ^
      T[0x300 | buf[i + 4]!]! ^
      T[0x200 | buf[i + 5]!]! ^
      T[0x100 | buf[i + 6]!]! ^
      T[buf[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = T[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc = (input: Uint8Array, initialState?: number) => number;

function loadNative(): NativeCrc | undefined {
  if (process.env.NVME_WASM_CRC32C === 'js') return undefined;
  try {
    const m = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: NativeCrc };
    return typeof m.crc32c === 'function' && m.crc32c(Buffer.from('123456789')) === 0xe3069283 ? m.crc32c : undefined;
  } catch {
    return undefined;
  }
}

/** @node-rs/crc32's crc32c if it loaded here (undefined otherwise). */
export const crc32cNative: NativeCrc | undefined = loadNative();

/** Which implementation `crc32c` uses: 'native' or 'js'. */
export const crc32cImpl: 'native' | 'js' = crc32cNative ? 'native' : 'js';

/** Headers are short: below this many bytes the JavaScript loop beats a native call (bench:crc32c: 2.1 vs 1.0 GB/s at 72 bytes, 1.9 vs 6.3 GB/s at 4 KiB). */
const NATIVE_FROM = 256;

/** CRC32C of `buf` (all of it), continuing from `seed`. */
export function crc32c(buf: Uint8Array, seed = 0): number {
  if (crc32cNative && buf.length >= NATIVE_FROM) return crc32cNative(buf, seed) >>> 0;
  return crc32cJs(buf, seed);
}

/** The Wasm core's export (assembly/core/crc32c.ts); host/core.ts's CoreExports does not name it. */
export interface WasmCrc32c {
  crc32c(off: number, len: number, seed: number): number;
}
