// The ctl page's DMA mapping request (ctl.ts CTL_DMA_*), both ends: a
// client writes which file backs which IOVA range and bumps CTL_DMA_SEQ;
// the simulator maps it (or unmaps, for an empty path), then writes the
// result and copies the sequence number to CTL_DMA_ACK.
import {
  CTL_DMA_SEQ,
  CTL_DMA_ACK,
  CTL_DMA_RESULT,
  CTL_DMA_IOVA_LO,
  CTL_DMA_IOVA_HI,
  CTL_DMA_LEN,
  CTL_DMA_PATH,
  CTL_DMA_PATH_LEN,
} from './ctl.js';

const U32 = 2 ** 32;

/** What a DMA request asks for; an empty path drops the window. */
export interface DmaRequest {
  path: string;
  iova: number;
  len: number;
}

/**
 * Client side: write a request (`path` of 0 bytes: unmap) and bump
 * CTL_DMA_SEQ; returns the sequence number to wait for in CTL_DMA_ACK.
 */
export function postDmaRequest(ctl: Uint32Array, bytes: Uint8Array, path: Uint8Array, iova: bigint, len: number): number {
  bytes.fill(0, CTL_DMA_PATH, CTL_DMA_PATH + CTL_DMA_PATH_LEN);
  bytes.set(path, CTL_DMA_PATH);
  if (path.length > 0) {
    Atomics.store(ctl, CTL_DMA_IOVA_LO >>> 2, Number(iova & 0xffffffffn));
    Atomics.store(ctl, CTL_DMA_IOVA_HI >>> 2, Number(iova >> 32n));
  }
  Atomics.store(ctl, CTL_DMA_LEN >>> 2, len >>> 0);
  return (Atomics.add(ctl, CTL_DMA_SEQ >>> 2, 1) + 1) >>> 0;
}

/** Client side: the sequence number of the last request the simulator finished. */
export function dmaAck(ctl: Uint32Array): number {
  return Atomics.load(ctl, CTL_DMA_ACK >>> 2);
}

/** Client side: 0, or the errno of the failed mapping. */
export function dmaResult(ctl: Uint32Array): number {
  return Atomics.load(ctl, CTL_DMA_RESULT >>> 2);
}

/** Simulator side: the sequence number of the last request posted. */
export function dmaSeq(ctl: Uint32Array): number {
  return Atomics.load(ctl, CTL_DMA_SEQ >>> 2);
}

/** Simulator side: the request as written. */
export function readDmaRequest(ctl: Uint32Array, bytes: Uint8Array): DmaRequest {
  let end = CTL_DMA_PATH;
  while (end < CTL_DMA_PATH + CTL_DMA_PATH_LEN && bytes[end] !== 0) end++;
  const path = Buffer.from(bytes.buffer, bytes.byteOffset + CTL_DMA_PATH, end - CTL_DMA_PATH).toString('utf8');
  const iova = Atomics.load(ctl, CTL_DMA_IOVA_HI >>> 2) * U32 + Atomics.load(ctl, CTL_DMA_IOVA_LO >>> 2);
  return { path, iova, len: Atomics.load(ctl, CTL_DMA_LEN >>> 2) };
}

/** Simulator side: request `seq` is done with `result` (0 or an errno). */
export function completeDmaRequest(ctl: Uint32Array, seq: number, result: number): void {
  Atomics.store(ctl, CTL_DMA_RESULT >>> 2, result);
  Atomics.store(ctl, CTL_DMA_ACK >>> 2, seq);
}
