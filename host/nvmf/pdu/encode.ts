// NVMe/TCP PDU encoders. Each writes a PDU header (common header, the
// PDU-specific header, the header digest and the padding up to PDO) into a
// buffer the caller preallocated and returns how many bytes of it go on the
// wire before the PDU's data; the data (if any) and its digest
// (writeDigest) are the caller's to send after it. Nothing is allocated.
// Layouts: assembly/nvme/tcp.ts.
import {
  PduType, CH_TYPE, CH_FLAGS, CH_HLEN, CH_PDO, CH_PLEN, FLAG_HDGSTF, FLAG_DDGSTF, FLAG_LAST_PDU, FLAG_SUCCESS, DIGEST_SIZE,
  ICREQ_PFV, ICREQ_HPDA, ICREQ_DGST, ICREQ_MAXR2T, ICREQ_SIZE, ICRESP_PFV, ICRESP_CPDA, ICRESP_DGST, ICRESP_MAXH2CDATA,
  DGST_HDGST_ENABLE, DGST_DDGST_ENABLE, TERMREQ_FES, TERMREQ_FEI, TERMREQ_HLEN, TERMREQ_DATA_MAX, CAPCMD_HLEN, CAPRESP_HLEN,
  DATA_CCCID, DATA_TTAG, DATA_DATAO, DATA_DATAL, DATA_HLEN, R2T_CCCID, R2T_TTAG, R2T_R2TO, R2T_R2TL, R2T_HLEN, PFV_1_0,
  pduDataOffset,
} from '../../../assembly/nvme/tcp.js';
import { crc32cJs } from '../crc32c.js';

/** What was negotiated on a connection (ICReq / ICResp): digests and the peer's data alignment. */
export interface PduDigests {
  /** Header digests on CapsuleCmd, CapsuleResp, H2CData, C2HData, R2T. */
  hdgst: boolean;
  /** Data digests on PDUs that carry data. */
  ddgst: boolean;
  /** Data alignment the receiver asked for (HPDA or CPDA), 0's based dwords. */
  pda: number;
}

/** No digests, no alignment: the state before ICReq / ICResp. */
export const NO_DIGESTS: Readonly<PduDigests> = Object.freeze({ hdgst: false, ddgst: false, pda: 0 });

/**
 * Fill the common header of a PDU whose specific header is already in
 * `buf[8, hlen)`, then the header digest and padding. Returns the bytes of
 * `buf` to send before `dataLen` bytes of data.
 */
export function finishHeader(buf: Uint8Array, type: PduType, flags: number, hlen: number, dataLen: number, d: PduDigests): number {
  const hd = d.hdgst && type !== PduType.ICReq && type !== PduType.ICResp && type !== PduType.H2CTermReq && type !== PduType.C2HTermReq;
  let f = flags & ~(FLAG_HDGSTF | FLAG_DDGSTF);
  if (hd) f |= FLAG_HDGSTF;
  const dd = d.ddgst && dataLen > 0 && type !== PduType.H2CTermReq && type !== PduType.C2HTermReq;
  if (dd) f |= FLAG_DDGSTF;
  const head = hlen + (hd ? DIGEST_SIZE : 0);
  const pdo = dataLen > 0 ? (type === PduType.H2CTermReq || type === PduType.C2HTermReq ? hlen : pduDataOffset(hlen, hd, d.pda)) : 0;
  const plen = (dataLen > 0 ? pdo + dataLen : head) + (dd ? DIGEST_SIZE : 0);
  buf[CH_TYPE] = type;
  buf[CH_FLAGS] = f;
  buf[CH_HLEN] = hlen;
  buf[CH_PDO] = type === PduType.H2CTermReq || type === PduType.C2HTermReq ? 0 : pdo;
  writeU32(buf, CH_PLEN, plen);
  if (hd) writeU32(buf, hlen, crc32cJs(buf, 0, 0, hlen)); // short: the JS loop, and no view
  const wire = dataLen > 0 ? pdo : head;
  for (let i = head; i < wire; i++) buf[i] = 0;
  return wire;
}

/** Write a data digest (the CRC32C of the data, seed chained by the caller) at `buf[off, off + 4)`. */
export function writeDigest(buf: Uint8Array, off: number, crc: number): void {
  writeU32(buf, off, crc);
}

/** ICReq (TCP 3.6.2.2). */
export function encodeICReq(buf: Uint8Array, o: { hpda?: number; hdgst?: boolean; ddgst?: boolean; maxr2t?: number; pfv?: number }): number {
  buf.fill(0, 0, ICREQ_SIZE);
  writeU16(buf, ICREQ_PFV, o.pfv ?? PFV_1_0);
  buf[ICREQ_HPDA] = o.hpda ?? 0;
  buf[ICREQ_DGST] = (o.hdgst ? DGST_HDGST_ENABLE : 0) | (o.ddgst ? DGST_DDGST_ENABLE : 0);
  writeU32(buf, ICREQ_MAXR2T, o.maxr2t ?? 0);
  return finishHeader(buf, PduType.ICReq, 0, ICREQ_SIZE, 0, { hdgst: false, ddgst: false, pda: 0 });
}

/** ICResp (TCP 3.6.2.3). */
export function encodeICResp(buf: Uint8Array, o: { cpda?: number; hdgst: boolean; ddgst: boolean; maxh2cdata: number; pfv?: number }): number {
  buf.fill(0, 0, ICREQ_SIZE);
  writeU16(buf, ICRESP_PFV, o.pfv ?? PFV_1_0);
  buf[ICRESP_CPDA] = o.cpda ?? 0;
  buf[ICRESP_DGST] = (o.hdgst ? DGST_HDGST_ENABLE : 0) | (o.ddgst ? DGST_DDGST_ENABLE : 0);
  writeU32(buf, ICRESP_MAXH2CDATA, o.maxh2cdata);
  return finishHeader(buf, PduType.ICResp, 0, ICREQ_SIZE, 0, { hdgst: false, ddgst: false, pda: 0 });
}

/**
 * H2CTermReq or C2HTermReq (TCP 3.6.2.4, 3.6.2.5) with the first bytes (at
 * most 128) of the offending PDU header as its data. `buf` must hold
 * 24 + 128 bytes. Returns the whole PDU's length (its data is in `buf`).
 */
export function encodeTermReq(buf: Uint8Array, type: PduType.H2CTermReq | PduType.C2HTermReq, fes: number, fei: number, offending?: Uint8Array): number {
  buf.fill(0, 0, TERMREQ_HLEN);
  writeU16(buf, TERMREQ_FES, fes);
  writeU32(buf, TERMREQ_FEI, fei);
  const n = offending ? Math.min(offending.length, TERMREQ_DATA_MAX) : 0;
  if (offending && n > 0) buf.set(offending.subarray(0, n), TERMREQ_HLEN);
  finishHeader(buf, type, 0, TERMREQ_HLEN, n, { hdgst: false, ddgst: false, pda: 0 });
  return TERMREQ_HLEN + n;
}

/** CapsuleCmd (TCP 3.6.2.6) whose SQE is already at `buf[8, 72)`, with `dataLen` bytes of in-capsule data to follow. */
export function encodeCapsuleCmd(buf: Uint8Array, dataLen: number, d: PduDigests): number {
  return finishHeader(buf, PduType.CapsuleCmd, 0, CAPCMD_HLEN, dataLen, d);
}

/** CapsuleResp (TCP 3.6.2.7) whose CQE is already at `buf[8, 24)`. */
export function encodeCapsuleResp(buf: Uint8Array, d: PduDigests): number {
  return finishHeader(buf, PduType.CapsuleResp, 0, CAPRESP_HLEN, 0, d);
}

/** C2HData (TCP 3.6.2.9). `success`: the command completed (no CapsuleResp follows; only with `last`). */
export function encodeC2HData(buf: Uint8Array, cccid: number, datao: number, datal: number, last: boolean, success: boolean, d: PduDigests): number {
  writeU16(buf, DATA_CCCID, cccid);
  writeU16(buf, DATA_TTAG, 0);
  writeU32(buf, DATA_DATAO, datao);
  writeU32(buf, DATA_DATAL, datal);
  writeU32(buf, 20, 0);
  return finishHeader(buf, PduType.C2HData, (last ? FLAG_LAST_PDU : 0) | (last && success ? FLAG_SUCCESS : 0), DATA_HLEN, datal, d);
}

/** H2CData (TCP 3.6.2.8) answering the R2T with `ttag`. */
export function encodeH2CData(buf: Uint8Array, cccid: number, ttag: number, datao: number, datal: number, last: boolean, d: PduDigests): number {
  writeU16(buf, DATA_CCCID, cccid);
  writeU16(buf, DATA_TTAG, ttag);
  writeU32(buf, DATA_DATAO, datao);
  writeU32(buf, DATA_DATAL, datal);
  writeU32(buf, 20, 0);
  return finishHeader(buf, PduType.H2CData, last ? FLAG_LAST_PDU : 0, DATA_HLEN, datal, d);
}

/** R2T (TCP 3.6.2.10). */
export function encodeR2T(buf: Uint8Array, cccid: number, ttag: number, r2to: number, r2tl: number, d: PduDigests): number {
  writeU16(buf, R2T_CCCID, cccid);
  writeU16(buf, R2T_TTAG, ttag);
  writeU32(buf, R2T_R2TO, r2to);
  writeU32(buf, R2T_R2TL, r2tl);
  writeU32(buf, 20, 0);
  return finishHeader(buf, PduType.R2T, 0, R2T_HLEN, 0, d);
}

/** Little-endian field access on a plain Uint8Array (no DataView per PDU). */
export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}
export function readU16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
