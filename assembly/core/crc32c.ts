// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the NVMe/TCP header
// and data digest (TCP 3.6.3.1; iSCSI's, RFC 3720 B.4), slicing-by-8 over
// bytes of the shared region: a DMA buffer's digest without copying it out.
//
//   table T (8 x 256 u32, core statics)
//   T[0][b]       = CRC of the byte b
//   T[k][b]       = T[k-1][b] shifted through one more zero byte
//   8 bytes at a time: c ^= first 4 bytes, then
//   c = T[7][c0] ^ T[6][c1] ^ T[5][c2] ^ T[4][c3] ^ T[3][d0] ^ T[2][d1] ^ T[1][d2] ^ T[0][d3]
//
// Seeds chain: crc32c(b, crc32c(a, 0)) is the CRC of a followed by b.
import { regionBase } from './mem';

const POLY: u32 = 0x82f63b78;
const T: usize = memory.data(8 * 256 * 4, 64);
let ready = false;

function init(): void {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    store<u32>(T + (<usize>b << 2), c);
  }
  for (let k: u32 = 1; k < 8; k++) {
    for (let b: u32 = 0; b < 256; b++) {
      const prev = load<u32>(T + ((<usize>(k - 1) << 10) | (<usize>b << 2)));
      store<u32>(T + ((<usize>k << 10) | (<usize>b << 2)), (prev >>> 8) ^ load<u32>(T + (<usize>(prev & 0xff) << 2)));
    }
  }
  ready = true;
}

// @ts-ignore: decorator
@inline function t(k: u32, b: u32): u32 {
  return load<u32>(T + ((<usize>k << 10) | (<usize>(b & 0xff) << 2)));
}

/** CRC32C of `len` bytes at region offset `off`, continuing from `seed` (a previous result, 0 to start). */
export function crc32c(off: u32, len: u32, seed: u32): u32 {
  if (!ready) init();
  let p = regionBase + <usize>off;
  const end = p + <usize>len;
  let c = ~seed;
  while (p + 8 <= end) {
    const lo = load<u32>(p) ^ c;
    const hi = load<u32>(p, 4);
    c = t(7, lo) ^ t(6, lo >>> 8) ^ t(5, lo >>> 16) ^ t(4, lo >>> 24) ^ t(3, hi) ^ t(2, hi >>> 8) ^ t(1, hi >>> 16) ^ t(0, hi >>> 24);
    p += 8;
  }
  while (p < end) {
    c = t(0, c ^ <u32>load<u8>(p)) ^ (c >>> 8);
    p++;
  }
  return ~c;
}
