// Reading fields out of Identify data and log pages: the little helpers
// host/identify.ts and host/log-pages.ts share.

/** An ASCII field (space or NUL padded), trailing padding removed. */
export const ascii = (b: Uint8Array, off: number, len: number): string =>
  Buffer.from(b.buffer, b.byteOffset + off, len).toString('latin1').replace(/[\s\0]+$/, '');

/** A 128-bit little-endian counter. */
export function u128(dv: DataView, off: number): bigint {
  return dv.getBigUint64(off, true) | (dv.getBigUint64(off + 8, true) << 64n);
}
