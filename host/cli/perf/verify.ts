// The --verify data pattern. Every block written carries, in its first 20
// bytes, a magic word, its own LBA (64-bit), the write's sequence number
// and the NSID; the rest of the block is filled with words derived from
// (LBA, sequence, word index), so a stale, misplaced or torn block shows.
export const VERIFY_MAGIC = 0x574d564e; // 'NVMW'
const MIX = 2654435761; // Knuth's multiplicative hash constant

function fillWord(lba: number, seq: number, w: number): number {
  return (Math.imul(seq, MIX) ^ Math.imul(lba >>> 0, 0x85ebca6b) ^ w) >>> 0;
}

/** Fill `words` (a Uint32Array over the I/O buffer) for blocks from `lba`. */
export function fillPattern(words: Uint32Array, lba: number, blocks: number, blockWords: number, seq: number, nsid: number): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * blockWords;
    const l = lba + b;
    words[o] = VERIFY_MAGIC;
    words[o + 1] = l >>> 0;
    words[o + 2] = Math.floor(l / 2 ** 32);
    words[o + 3] = seq;
    words[o + 4] = nsid;
    for (let w = 5; w < blockWords; w++) words[o + w] = fillWord(l, seq, w);
  }
}

export interface Mismatch {
  nsid: number;
  lba: number;
  expectedSeq: number;
  /** What the block held: its header fields, or which word differed. */
  found: string;
}

/** Check blocks read from `lba` against sequence `seq`; the first bad block, or undefined. */
export function checkPattern(words: Uint32Array, lba: number, blocks: number, blockWords: number, seq: number, nsid: number): Mismatch | undefined {
  for (let b = 0; b < blocks; b++) {
    const o = b * blockWords;
    const l = lba + b;
    const hdrOk = words[o] === VERIFY_MAGIC && words[o + 1] === l >>> 0 && words[o + 2] === Math.floor(l / 2 ** 32) && words[o + 3] === seq && words[o + 4] === nsid;
    if (!hdrOk) {
      const foundLba = words[o + 1]! + words[o + 2]! * 2 ** 32;
      return { nsid, lba: l, expectedSeq: seq, found: `magic 0x${words[o]!.toString(16)} lba ${foundLba} seq ${words[o + 3]} nsid ${words[o + 4]}` };
    }
    for (let w = 5; w < blockWords; w++) {
      if (words[o + w] !== fillWord(l, seq, w)) return { nsid, lba: l, expectedSeq: seq, found: `header right, data word ${w} differs` };
    }
  }
  return undefined;
}
