// NVMe over Fabrics definitions, NVM Express over Fabrics 1.1 (2019-10-22;
// "NVMe-oF 3.x" refers to its sections), plus the SGL descriptors NVMe/TCP
// uses (NVMe 1.4 4.4) and the discovery log page (NVMe-oF 5.3). Shared by the
// target, the initiator and the tests.

/** The opcode of every Fabrics command (NVMe-oF 6, Figure "Fabrics Command"). */
export const FABRICS_OPC: u32 = 0x7f;

/** Fabrics command types (NVMe-oF 6, Figure "Fabrics Command Type"). */
export enum FcType {
  PropertySet = 0x00,
  Connect = 0x01,
  PropertyGet = 0x04,
  AuthenticationSend = 0x05,
  AuthenticationReceive = 0x06,
  Disconnect = 0x08,
}

//   Fabrics command SQE (64 bytes, NVMe-oF 6)
//   byte  0 +--------+--------+-----------------+
//           | 0x7F   | rsvd / |       CID       |
//           |        | PSDT   |                 |
//         4 +--------+--------+-----------------+
//           | FCTYPE |    reserved (19 bytes)   |
//        24 +-----------------------------------+
//           | SGL1 (16 bytes: Connect's data)   |
//        40 +-----------------------------------+
//           | fctype-specific (24 bytes)        |
//        64 +-----------------------------------+
export const FAB_FCTYPE: u32 = 4; // u8
export const FAB_SGL1: u32 = 24;

//   Connect command (NVMe-oF 3.3, Figure "Connect Command")
//        40 +--------+--------+--------+--------+
//           |     RECFMT      |       QID       |
//        44 +--------+--------+--------+--------+
//           |     SQSIZE      | CATTR  |  rsvd  |  SQSIZE 0's based
//        48 +--------+--------+--------+--------+
//           |            KATO (u32, ms)         |
//        52 +-----------------------------------+
export const CONNECT_RECFMT: u32 = 40; // u16: 0
export const CONNECT_QID: u32 = 42; // u16
export const CONNECT_SQSIZE: u32 = 44; // u16, 0's based
export const CONNECT_CATTR: u32 = 46; // u8
export const CONNECT_KATO: u32 = 48; // u32, milliseconds (admin queue only)
export const CONNECT_RECFMT_1_0: u32 = 0;

//   Connect data (1024 bytes, NVMe-oF 3.3, Figure "Connect Command Data")
//   byte   0 +-----------------------------------+
//            | HOSTID (16 bytes)                 |
//         16 +-----------------+-----------------+
//            | CNTLID          | reserved        |  0xFFFF: dynamic
//         18 +-----------------+ ...  (238)      |
//        256 +-----------------------------------+
//            | SUBNQN (256 bytes, NUL ended)     |
//        512 +-----------------------------------+
//            | HOSTNQN (256 bytes, NUL ended)    |
//        768 +-----------------------------------+
//            | reserved (256)                    |
//       1024 +-----------------------------------+
export const CONNECT_DATA_HOSTID: u32 = 0;
export const CONNECT_DATA_HOSTID_LEN: u32 = 16;
export const CONNECT_DATA_CNTLID: u32 = 16; // u16
export const CONNECT_DATA_SUBNQN: u32 = 256;
export const CONNECT_DATA_HOSTNQN: u32 = 512;
export const CONNECT_DATA_SIZE: u32 = 1024;
export const NQN_FIELD_LEN: u32 = 256; // includes the terminating NUL
export const NQN_MAX_LEN: u32 = 223; // NVMe 1.4 7.9: at most 223 bytes of UTF-8
export const CNTLID_DYNAMIC: u32 = 0xffff;
export const CNTLID_MAX: u32 = 0xffef; // 0xFFF0.. are reserved

// Connect response dword 0 (NVMe-oF 3.3, Figure "Connect Response")
export const CONNECT_RSP_CNTLID_MASK: u32 = 0xffff; // success: the controller ID
// Connect Invalid Parameters: which parameter (IPO) and where (IATTR)
export const CONNECT_RSP_IPO_MASK: u32 = 0xffff; // byte offset of the parameter
export const CONNECT_RSP_IATTR_SHIFT: u32 = 16; // bit 16: 0 = in the SQE, 1 = in the Connect data
export const IATTR_SQE: u32 = 0;
export const IATTR_DATA: u32 = 1;

//   Property Get / Set (NVMe-oF 3.4 and 3.5)
//        40 +--------+--------------------------+
//           | ATTRIB |     reserved             |  ATTRIB 2:0 size
//        44 +--------+--------------------------+
//           |            OFST (u32)             |  register offset (regs.ts REG_*)
//        48 +-----------------------------------+
//           |  VALUE (u64, Property Set only)   |
//        56 +-----------------------------------+
// Property Get response: dwords 0 and 1 hold the value (64 bits).
export const PROP_ATTRIB: u32 = 40; // u8
export const PROP_OFST: u32 = 44; // u32
export const PROP_VALUE: u32 = 48; // u64
export const PROP_ATTRIB_SIZE_MASK: u32 = 0x7;
export const PROP_SIZE_4: u32 = 0; // 4-byte property
export const PROP_SIZE_8: u32 = 1; // 8-byte property

//   Disconnect (NVMe-oF 3.6)
//        40 +-----------------+-----------------+
//           |     RECFMT      |   reserved      |
export const DISCONNECT_RECFMT: u32 = 40;

/** Fabrics command specific status codes, SCT 1 (NVMe-oF 2.2.1, Figure "Fabrics Command Status Values"). */
export enum FabricsSc {
  ConnectIncompatibleFormat = 0x80,
  ConnectControllerBusy = 0x81,
  ConnectInvalidParameters = 0x82,
  ConnectRestartDiscovery = 0x83,
  ConnectInvalidHost = 0x84,
  DiscoverRestart = 0x90,
  AuthenticationRequired = 0x91,
}

/** NQN of the discovery subsystem (NVMe-oF 5). */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

// Discovery log page (Log Identifier 70h, NVMe-oF 5.3)
export const LOG_DISCOVERY: u32 = 0x70;
//   header (1024 bytes)
//   byte  0 | GENCTR (u64) | 8 NUMREC (u64) | 16 RECFMT (u16) | reserved
export const DISC_GENCTR: u32 = 0; // u64
export const DISC_NUMREC: u32 = 8; // u64
export const DISC_RECFMT: u32 = 16; // u16
export const DISC_HDR_SIZE: u32 = 1024;
//   entry (1024 bytes each, from byte 1024)
//   byte    0 +--------+--------+--------+--------+
//             | TRTYPE | ADRFAM |SUBTYPE |  TREQ  |
//           4 +--------+--------+--------+--------+
//             |     PORTID      |     CNTLID      |
//           8 +--------+--------+--------+--------+
//             |     ASQSZ       |     EFLAGS      |
//          12 | reserved (20)                     |
//          32 | TRSVCID (32 bytes, ASCII, space padded)
//          64 | reserved (192)                    |
//         256 | SUBNQN (256 bytes, NUL padded)    |
//         512 | TRADDR (256 bytes, ASCII, space padded)
//         768 | TSAS (256 bytes; TCP: SECTYPE u8) |
//        1024 +-----------------------------------+
export const DISCE_TRTYPE: u32 = 0;
export const DISCE_ADRFAM: u32 = 1;
export const DISCE_SUBTYPE: u32 = 2;
export const DISCE_TREQ: u32 = 3;
export const DISCE_PORTID: u32 = 4; // u16
export const DISCE_CNTLID: u32 = 6; // u16
export const DISCE_ASQSZ: u32 = 8; // u16
export const DISCE_EFLAGS: u32 = 10; // u16
export const DISCE_TRSVCID: u32 = 32;
export const DISCE_TRSVCID_LEN: u32 = 32;
export const DISCE_SUBNQN: u32 = 256;
export const DISCE_TRADDR: u32 = 512;
export const DISCE_TRADDR_LEN: u32 = 256;
export const DISCE_TSAS: u32 = 768;
export const DISCE_SIZE: u32 = 1024;

export const TRTYPE_TCP: u32 = 3; // NVMe-oF 5.3 Figure "TRTYPE"
export const ADRFAM_IPV4: u32 = 1;
export const ADRFAM_IPV6: u32 = 2;
export const SUBTYPE_REFERRAL: u32 = 1;
export const SUBTYPE_NVME: u32 = 2;
export const SUBTYPE_DISCOVERY: u32 = 3; // the current discovery subsystem (NVMe 2.0 numbering, what Linux lists)
export const TREQ_SECURE_NOT_SPECIFIED: u32 = 0;
export const TREQ_SECURE_REQUIRED: u32 = 1;
export const TREQ_SECURE_NOT_REQUIRED: u32 = 2;
export const TREQ_SQ_FLOW_CONTROL_DISABLE: u32 = 1 << 2;
export const TSAS_TCP_SECTYPE_NONE: u32 = 0;

// Identify Controller fields for fabrics (NVMe 1.4 Figure 247, bytes 1792+;
// the common ones, CNTLID, KAS, SGLS, SUBNQN, MAXCMD, live in identify.ts)
export const IDC_CNTRLTYPE: u32 = 111; // u8: 1 I/O, 2 discovery, 3 administrative
export const IDC_KAS: u32 = 320; // u16: Keep Alive granularity, 100 ms units
export const IDC_IOCCSZ: u32 = 1792; // u32: I/O queue command capsule size, 16-byte units (SQE included)
export const IDC_IORCSZ: u32 = 1796; // u32: I/O queue response capsule size, 16-byte units
export const IDC_ICDOFF: u32 = 1800; // u16: in-capsule data offset, 16-byte units
export const IDC_FCATT: u32 = 1802; // u8: bit 0 = 1 static controller model
export const IDC_MSDBD: u32 = 1803; // u8: maximum SGL data block descriptors
export const IDC_OFCS: u32 = 1804; // u16: optional fabric commands supported
export const CNTRLTYPE_IO: u32 = 1;
export const CNTRLTYPE_DISCOVERY: u32 = 2;
export const CAPSULE_UNIT: u32 = 16;

// SGLS bits (NVMe 1.4 Figure 247)
export const SGLS_SUPPORTED_NO_ALIGN: u32 = 0x1; // bits 1:0 = 01b
export const SGLS_KEYED: u32 = 1 << 2;
export const SGLS_OFFSET: u32 = 1 << 20; // SGL Offset (in-capsule data) supported

//   SGL descriptor (16 bytes, NVMe 1.4 4.4, in the SQE at SQE_PRP1 = 24)
//   byte  0 | ADDRESS (u64)                     |
//         8 | LENGTH (u32)                      |
//        12 | reserved (3 bytes)     | ID (u8)  |  ID: type 7:4, subtype 3:0
export const SGL_ADDRESS: u32 = 0; // u64
export const SGL_LENGTH: u32 = 8; // u32
export const SGL_ID: u32 = 15; // u8
export const SGL_SIZE: u32 = 16;
export const SGL_TYPE_SHIFT: u32 = 4;
export const SGL_TYPE_MASK: u32 = 0xf;
export const SGL_SUBTYPE_MASK: u32 = 0xf;
export const SGL_TYPE_DATA_BLOCK: u32 = 0x0;
export const SGL_TYPE_TRANSPORT_DATA_BLOCK: u32 = 0x5;
export const SGL_SUBTYPE_ADDRESS: u32 = 0x0;
export const SGL_SUBTYPE_OFFSET: u32 = 0x1;
export const SGL_SUBTYPE_TRANSPORT: u32 = 0xa;
/** In-capsule data: Data Block, Offset (ADDRESS = offset from the capsule's data start). */
export const SGL_ID_INCAPSULE: u32 = (SGL_TYPE_DATA_BLOCK << SGL_TYPE_SHIFT) | SGL_SUBTYPE_OFFSET; // 0x01
/** Data moved by C2HData / R2T + H2CData: Transport SGL Data Block, transport specific. */
export const SGL_ID_TRANSPORT: u32 = (SGL_TYPE_TRANSPORT_DATA_BLOCK << SGL_TYPE_SHIFT) | SGL_SUBTYPE_TRANSPORT; // 0x5A
/** SQE FLAGS.PSDT for SGLs (01b: SGL, MPTR a contiguous buffer). */
export const PSDT_SGL: u32 = 1;

/** Admin queue in-capsule data size NVMe/TCP always allows (TCP 3.3: 8 KiB). */
export const ADMIN_INCAPSULE_SIZE: u32 = 8192;
