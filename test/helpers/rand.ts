// A small seeded generator, so failures replay.
export function xorshift(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

/** Blocks stamped with their LBA and a round number, so misplaced data is caught. */
export function pattern(lba: number, blocks: number, blockSize: number, round: number): Buffer {
  const b = Buffer.alloc(blocks * blockSize);
  for (let i = 0; i < blocks; i++) {
    const o = i * blockSize;
    b.writeDoubleLE(lba + i, o);
    b.writeUInt32LE(round >>> 0, o + 8);
    for (let j = 12; j < blockSize; j += 4) b.writeUInt32LE(((lba + i) * 2654435761 + j + round) >>> 0, o + j);
  }
  return b;
}
