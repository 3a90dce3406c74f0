// NVMe/TCP PDU layouts, NVM Express TCP Transport Specification 1.0
// (revision 1.0, 2021-06-02; in this file "TCP 3.x" refers to its sections).
// Shared by the target (host/nvmf/target), the initiator and the tests.
// All multi-byte fields are little endian. Offsets are from the first byte of
// the PDU (the common header is part of every PDU header).
//
// A PDU on the wire (TCP 3.6.1, Figure "PDU Structure"):
//
//   0        HLEN      HLEN+4     PDO              PDO+DATAL     PLEN
//   +--------+---------+----------+----------------+-------------+
//   | header |  HDGST  |   PAD    |      DATA      |    DDGST    |
//   | (CH +  | (opt.,  | (to PDO) |   (optional)   | (opt., when |
//   |  PSH)  | CRC32C) |          |                |  DATA)      |
//   +--------+---------+----------+----------------+-------------+
//
// HDGST covers the HLEN header bytes; DDGST covers DATA only (no padding).
// ICReq, ICResp, H2CTermReq and C2HTermReq never carry digests.

/** PDU types (TCP 3.6.2, Figure "PDU Type"). */
export enum PduType {
  ICReq = 0x00,
  ICResp = 0x01,
  H2CTermReq = 0x02,
  C2HTermReq = 0x03,
  CapsuleCmd = 0x04,
  CapsuleResp = 0x05,
  H2CData = 0x06,
  C2HData = 0x07,
  R2T = 0x09,
}

//   Common Header, CH (8 bytes, TCP 3.6.2)
//   byte 0 +--------+--------+--------+--------+
//          |  TYPE  | FLAGS  |  HLEN  |  PDO   |
//        4 +--------+--------+--------+--------+
//          |              PLEN (u32)           |
//        8 +-----------------------------------+
export const CH_TYPE: u32 = 0; // u8
export const CH_FLAGS: u32 = 1; // u8
export const CH_HLEN: u32 = 2; // u8: header length (CH + PSH), digests excluded
export const CH_PDO: u32 = 3; // u8: PDU data offset (0 when no data)
export const CH_PLEN: u32 = 4; // u32: whole PDU length, digests and padding included
export const CH_SIZE: u32 = 8;

// CH.FLAGS bits (TCP 3.6.2 and the PDU sections)
export const FLAG_HDGSTF: u32 = 1 << 0; // a header digest follows the header
export const FLAG_DDGSTF: u32 = 1 << 1; // a data digest follows the data
export const FLAG_LAST_PDU: u32 = 1 << 2; // H2CData / C2HData: last PDU of the transfer
export const FLAG_SUCCESS: u32 = 1 << 3; // C2HData: the command completed; no CapsuleResp follows

/** Bytes of a header or data digest (CRC32C, TCP 3.6.3.1). */
export const DIGEST_SIZE: u32 = 4;

/** PDU Format Version 1.0 (ICReq / ICResp PFV). */
export const PFV_1_0: u32 = 0;

//   ICReq (HLEN 128, PLEN 128, TCP 3.6.2.2)
//   byte 0 | CH (type 0x00)                    |
//        8 +--------+--------+--------+--------+
//          |       PFV       |  HPDA  | DGST   |
//       12 +--------+--------+--------+--------+
//          |            MAXR2T (u32)           |  0's based
//       16 +-----------------------------------+
//          |       reserved (112 bytes)        |
//      128 +-----------------------------------+
export const ICREQ_PFV: u32 = 8; // u16
export const ICREQ_HPDA: u32 = 10; // u8: host PDU data alignment, dwords, 0's based (0..31)
export const ICREQ_DGST: u32 = 11; // u8: DGST_HDGST_ENABLE | DGST_DDGST_ENABLE
export const ICREQ_MAXR2T: u32 = 12; // u32: outstanding R2Ts per command, 0's based
export const ICREQ_SIZE: u32 = 128;
export const HPDA_MAX: u32 = 31;

//   ICResp (HLEN 128, PLEN 128, TCP 3.6.2.3)
//   byte 0 | CH (type 0x01)                    |
//        8 +--------+--------+--------+--------+
//          |       PFV       |  CPDA  | DGST   |
//       12 +--------+--------+--------+--------+
//          |          MAXH2CDATA (u32)         |  bytes, >= 4096, dword multiple
//       16 +-----------------------------------+
//          |       reserved (112 bytes)        |
//      128 +-----------------------------------+
export const ICRESP_PFV: u32 = 8; // u16
export const ICRESP_CPDA: u32 = 10; // u8
export const ICRESP_DGST: u32 = 11; // u8
export const ICRESP_MAXH2CDATA: u32 = 12; // u32
export const ICRESP_SIZE: u32 = 128;
export const MAXH2CDATA_MIN: u32 = 4096;

// ICReq / ICResp DGST bits
export const DGST_HDGST_ENABLE: u32 = 1 << 0;
export const DGST_DDGST_ENABLE: u32 = 1 << 1;

//   H2CTermReq / C2HTermReq (HLEN 24, TCP 3.6.2.4 and 3.6.2.5)
//   byte 0 | CH (type 0x02 / 0x03)             |
//        8 +--------+--------+--------+--------+
//          |       FES       |   FEI (u32) ... |
//       12 +--------+--------+--------+--------+
//          | ... FEI         |    reserved     |
//       16 +-----------------------------------+
//          |          reserved (8 bytes)       |
//       24 +-----------------------------------+
//          | DATA: the header of the PDU in    |  up to TERMREQ_DATA_MAX bytes
//          | error (PDO = 0: no DATA field     |
//          | offset is given)                  |
export const TERMREQ_FES: u32 = 8; // u16
export const TERMREQ_FEI: u32 = 10; // u32 (not naturally aligned)
export const TERMREQ_HLEN: u32 = 24;
export const TERMREQ_DATA_MAX: u32 = 128; // bytes of the offending PDU copied
export const TERMREQ_PLEN_MAX: u32 = 152; // HLEN + TERMREQ_DATA_MAX

/** Fatal Error Status of a TermReq (TCP 3.6.2.4, Figure "FES"). */
export enum Fes {
  /** FEI: byte offset of the field in error within the PDU header. */
  InvalidPduHeaderField = 0x01,
  PduSequenceError = 0x02,
  /** FEI: the header digest value received. */
  HeaderDigestError = 0x03,
  DataTransferOutOfRange = 0x04,
  /** Also "R2T Limit Exceeded" in earlier drafts (the kernel names both). */
  DataTransferLimitExceeded = 0x05,
  /** FEI: byte offset of the unsupported parameter in the ICReq. */
  UnsupportedParameter = 0x06,
}

//   CapsuleCmd (HLEN 72, TCP 3.6.2.6)
//   byte 0 | CH (type 0x04)                    |
//        8 +-----------------------------------+
//          |  SQE (64 bytes, assembly/nvme/cmd |
//          |  SQE_* offsets from here)         |
//       72 +-----------------------------------+
//          | HDGST | PAD | in-capsule DATA | DDGST
export const CAPCMD_SQE: u32 = 8;
export const CAPCMD_HLEN: u32 = 72;

//   CapsuleResp (HLEN 24, TCP 3.6.2.7)
//   byte 0 | CH (type 0x05)                    |
//        8 +-----------------------------------+
//          |  CQE (16 bytes, CQE_* offsets)    |
//       24 +-----------------------------------+
//          | HDGST
export const CAPRESP_CQE: u32 = 8;
export const CAPRESP_HLEN: u32 = 24;

//   H2CData / C2HData (HLEN 24, TCP 3.6.2.8 and 3.6.2.9)
//   byte 0 | CH (type 0x06 / 0x07)             |
//        8 +--------+--------+--------+--------+
//          |      CCCID      |  TTAG (H2C) /   |
//          |                 |  reserved (C2H) |
//       12 +--------+--------+--------+--------+
//          |          DATAO (u32)              |  offset in the command's data
//       16 +-----------------------------------+
//          |          DATAL (u32)              |  bytes of DATA in this PDU
//       20 +-----------------------------------+
//          |          reserved                 |
//       24 +-----------------------------------+
//          | HDGST | PAD | DATA | DDGST
export const DATA_CCCID: u32 = 8; // u16: command capsule CID
export const DATA_TTAG: u32 = 10; // u16: H2CData only, the R2T's TTAG
export const DATA_DATAO: u32 = 12; // u32
export const DATA_DATAL: u32 = 16; // u32
export const DATA_HLEN: u32 = 24;

//   R2T (HLEN 24, TCP 3.6.2.10)
//   byte 0 | CH (type 0x09)                    |
//        8 +--------+--------+--------+--------+
//          |      CCCID      |      TTAG       |
//       12 +--------+--------+--------+--------+
//          |          R2TO (u32)               |  offset of the requested data
//       16 +-----------------------------------+
//          |          R2TL (u32)               |  bytes requested, <= MAXH2CDATA
//       20 +-----------------------------------+
//          |          reserved                 |
//       24 +-----------------------------------+
//          | HDGST
export const R2T_CCCID: u32 = 8; // u16
export const R2T_TTAG: u32 = 10; // u16
export const R2T_R2TO: u32 = 12; // u32
export const R2T_R2TL: u32 = 16; // u32
export const R2T_HLEN: u32 = 24;

/** The largest PDU header (ICReq / ICResp) plus a header digest. */
export const PDU_HEADER_MAX: u32 = 132;

/** Well-known TCP ports (NVMe/TCP 7.4.9.1): I/O controllers and discovery. */
export const NVME_TCP_PORT: u32 = 4420;
export const NVME_TCP_DISCOVERY_PORT: u32 = 8009;

/** HLEN each PDU type must have (0 for types that do not exist). */
export function pduHlen(type: u32): u32 {
  switch (type) {
    case PduType.ICReq:
    case PduType.ICResp:
      return ICREQ_SIZE;
    case PduType.H2CTermReq:
    case PduType.C2HTermReq:
      return TERMREQ_HLEN;
    case PduType.CapsuleCmd:
      return CAPCMD_HLEN;
    case PduType.CapsuleResp:
    case PduType.H2CData:
    case PduType.C2HData:
    case PduType.R2T:
      return DATA_HLEN;
    default:
      return 0;
  }
}

/** May a PDU of this type carry a header digest (when negotiated)? */
export function pduHasHdgst(type: u32): bool {
  return type >= PduType.CapsuleCmd && type <= PduType.R2T && type != 8;
}

/** May a PDU of this type carry DATA? */
export function pduHasData(type: u32): bool {
  return type == PduType.CapsuleCmd || type == PduType.H2CData || type == PduType.C2HData || type == PduType.H2CTermReq || type == PduType.C2HTermReq;
}

/** PDO for a PDU with `hlen` header bytes, a header digest or not, and a data alignment of `pda` (0's based dwords). */
export function pduDataOffset(hlen: u32, hdgst: bool, pda: u32): u32 {
  const raw = hlen + (hdgst ? DIGEST_SIZE : 0);
  const align = (pda + 1) * 4;
  const up = raw + align - 1;
  return up - (up % align); // no division: the TypeScript reading has no integer divide
}
