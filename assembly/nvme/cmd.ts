// Command and completion layouts, NVM Express Base Specification 1.4:
// submission queue entry 4.2, PRP entries 4.3, completion queue entry 4.6,
// admin commands chapter 5, NVM commands chapter 6.
//
//   Submission Queue Entry (64 bytes, 4.2, Figure "Command Format")
//   byte  0 +--------+--------+-----------------+
//           |  OPC   | FUSE/  |       CID       |  CDW0
//           |        | PSDT   |                 |
//         4 +--------+--------+-----------------+
//           |              NSID                 |  CDW1
//         8 |         CDW2 / CDW3 (reserved)    |
//        16 |         MPTR (metadata pointer)   |  CDW4-5
//        24 |         PRP1  (DPTR bits 63:0)    |  CDW6-7
//        32 |         PRP2  (DPTR bits 127:64)  |  CDW8-9
//        40 |  CDW10 | CDW11 | CDW12 | CDW13 | CDW14 | CDW15
//        64 +-----------------------------------+
//
//   Completion Queue Entry (16 bytes, 4.6)
//   byte  0 |  DW0: command specific            |
//         4 |  DW1: reserved                    |
//         8 |  SQHD (15:0)   |  SQID (31:16)    |
//        12 |  CID  (15:0)   |P| STATUS (31:17) |

export const SQE_SIZE: u32 = 64;
export const SQE_OPC: u32 = 0;
export const SQE_FLAGS: u32 = 1; // FUSE 1:0, PSDT 7:6
export const SQE_CID: u32 = 2;
export const SQE_NSID: u32 = 4;
export const SQE_CDW2: u32 = 8;
export const SQE_CDW3: u32 = 12;
export const SQE_MPTR: u32 = 16;
export const SQE_PRP1: u32 = 24;
export const SQE_PRP2: u32 = 32;
export const SQE_CDW10: u32 = 40;
export const SQE_CDW11: u32 = 44;
export const SQE_CDW12: u32 = 48;
export const SQE_CDW13: u32 = 52;
export const SQE_CDW14: u32 = 56;
export const SQE_CDW15: u32 = 60;

export const FLAGS_FUSE_MASK: u32 = 0x3;
export const FLAGS_PSDT_SHIFT: u32 = 6;
export const FLAGS_PSDT_MASK: u32 = 0x3;

export const CQE_SIZE: u32 = 16;
export const CQE_DW0: u32 = 0;
export const CQE_DW1: u32 = 4;
export const CQE_SQHD: u32 = 8; // u16
export const CQE_SQID: u32 = 10; // u16
export const CQE_CID: u32 = 12; // u16
export const CQE_STATUS: u32 = 14; // u16: phase tag in bit 0, status field in 15:1
export const CQE_DW2: u32 = 8;
export const CQE_DW3: u32 = 12;

// CQE dword 2 (4.6): SQ Head Pointer 15:0, SQ Identifier 31:16
export const CQE_DW2_SQHD_SHIFT: u32 = 0;
export const CQE_DW2_SQHD_MASK: u32 = 0xffff;
export const CQE_DW2_SQID_SHIFT: u32 = 16;
export const CQE_DW2_SQID_MASK: u32 = 0xffff;

// CQE dword 3 (4.6): Command Identifier 15:0, Phase Tag 16, Status Field 31:17
export const CQE_DW3_CID_SHIFT: u32 = 0;
export const CQE_DW3_CID_MASK: u32 = 0xffff;
export const CQE_DW3_P_SHIFT: u32 = 16; // Phase Tag (4.6)

// The Status Field's own bits (SF_*) are in status.ts.
export const CQE_DW3_SF_SHIFT: u32 = 17;

/** Status field (15 bits, as in the constants above) of a CQE's dword 3. */
export function cqeStatusField(dw3: u32): u32 {
  return dw3 >>> CQE_DW3_SF_SHIFT;
}


// PRP entries (4.3): 64-bit, dword aligned; every entry but PRP1 has a zero
// page offset. A PRP list page holds PAGE_SIZE / 8 entries; when a transfer
// needs more, the last entry of a list page points to the next list page.
export const PRP_ENTRY_SIZE: u32 = 8;
export const PRP_ENTRIES_PER_PAGE: u32 = 512;

// Admin command opcodes (5, Figure "Opcodes for Admin Commands")
export enum AdminOpc {
  DeleteIoSq = 0x00,
  CreateIoSq = 0x01,
  GetLogPage = 0x02,
  DeleteIoCq = 0x04,
  CreateIoCq = 0x05,
  Identify = 0x06,
  Abort = 0x08,
  SetFeatures = 0x09,
  GetFeatures = 0x0a,
  AsyncEventRequest = 0x0c,
  NamespaceManagement = 0x0d,
  FirmwareCommit = 0x10,
  FirmwareDownload = 0x11,
  DeviceSelfTest = 0x14,
  NamespaceAttachment = 0x15,
  KeepAlive = 0x18,
  DoorbellBufferConfig = 0x7c,
  FormatNvm = 0x80,
}

// NVM command set opcodes (6, Figure "Opcodes for NVM Commands")
export enum NvmOpc {
  Flush = 0x00,
  Write = 0x01,
  Read = 0x02,
  WriteUncorrectable = 0x04,
  Compare = 0x05,
  WriteZeroes = 0x08,
  DatasetManagement = 0x09,
  Verify = 0x0c,
}

// Read / Write / Compare / Write Zeroes (6.6, 6.9, 6.15, 6.17):
// CDW10-11 SLBA, CDW12 NLB (0's based) and flags.
export const RW_NLB_MASK: u32 = 0xffff;
export const RW_DEAC_SHIFT: u32 = 25; // Write Zeroes: Deallocate
export const RW_PRINFO_SHIFT: u32 = 26;
export const RW_PRINFO_MASK: u32 = 0xf;
export const RW_FUA_SHIFT: u32 = 30; // Force Unit Access
export const RW_LR_SHIFT: u32 = 31; // Limited Retry
export const RW_MAX_BLOCKS: u32 = 0x10000; // NLB is a 16-bit 0's based count

// Dataset Management (6.7): CDW10 NR (0's based ranges), CDW11 attributes.
export const DSM_NR_MASK: u32 = 0xff;
export const DSM_MAX_RANGES: u32 = 256;
export const DSM_IDR_SHIFT: u32 = 0; // Integral Dataset for Read
export const DSM_IDW_SHIFT: u32 = 1; // Integral Dataset for Write
export const DSM_AD_SHIFT: u32 = 2; // Attribute: Deallocate
// Range entry (Figure "Dataset Management - Range Definition"), 16 bytes
export const DSM_RANGE_SIZE: u32 = 16;
export const DSM_RANGE_CATTR: u32 = 0;
export const DSM_RANGE_NLB: u32 = 4;
export const DSM_RANGE_SLBA: u32 = 8;

// Identify (5.15): CDW10 CNS 7:0, CNTID 31:16.
export const IDENTIFY_CNS_MASK: u32 = 0xff;
export const IDENTIFY_CNTID_SHIFT: u32 = 16;
export enum Cns {
  Namespace = 0x00,
  Controller = 0x01,
  ActiveNamespaceList = 0x02,
  NamespaceIdDescriptors = 0x03,
}
export const IDENTIFY_DATA_SIZE: u32 = 4096;

// Get Features (5.13) / Set Features (5.21): CDW10 FID 7:0, SEL 10:8 (get),
// SV bit 31 (set).
export const FEAT_FID_MASK: u32 = 0xff;
export const FEAT_SEL_SHIFT: u32 = 8;
export const FEAT_SEL_MASK: u32 = 0x7;
export const FEAT_SV_SHIFT: u32 = 31;
export enum FeatureId {
  Arbitration = 0x01,
  PowerManagement = 0x02,
  TemperatureThreshold = 0x04,
  ErrorRecovery = 0x05,
  VolatileWriteCache = 0x06,
  NumberOfQueues = 0x07,
  InterruptCoalescing = 0x08,
  InterruptVectorConfig = 0x09,
  WriteAtomicityNormal = 0x0a,
  AsyncEventConfig = 0x0b,
}
// Number of Queues (5.21.1.7): NSQR 15:0, NCQR 31:16, both 0's based, in
// CDW11 and in the completion's DW0 (NSQA / NCQA).
export const NQ_NSQ_SHIFT: u32 = 0;
export const NQ_NCQ_SHIFT: u32 = 16;
export const NQ_MASK: u32 = 0xffff;

/** Number of Queues dword 11 (and the completion's dword 0) for `nsq` SQs and `ncq` CQs, both 1's based here, 0's based in the field. */
export function numberOfQueues(nsq: u32, ncq: u32): u32 {
  return ((((ncq - 1) & NQ_MASK) << NQ_NCQ_SHIFT) | (((nsq - 1) & NQ_MASK) << NQ_NSQ_SHIFT)) >>> 0;
}

/** SQs allocated (1's based) from Number of Queues' completion dword 0. */
export function nqSubmissionQueues(dw0: u32): u32 {
  return ((dw0 >>> NQ_NSQ_SHIFT) & NQ_MASK) + 1;
}

/** CQs allocated (1's based) from Number of Queues' completion dword 0. */
export function nqCompletionQueues(dw0: u32): u32 {
  return ((dw0 >>> NQ_NCQ_SHIFT) & NQ_MASK) + 1;
}

// Create I/O CQ (5.3) / Create I/O SQ (5.4): CDW10 QID 15:0, QSIZE 31:16
// (0's based); CQ CDW11: PC bit 0, IEN bit 1, IV 31:16; SQ CDW11: PC bit 0,
// QPRIO 2:1, CQID 31:16. Delete I/O SQ/CQ (5.5, 5.6): CDW10 QID 15:0.
export const CQ_QID_MASK: u32 = 0xffff;
export const CQ_QSIZE_SHIFT: u32 = 16;
export const Q_PC_SHIFT: u32 = 0; // Physically Contiguous
export const CQ_IEN_SHIFT: u32 = 1; // Interrupts Enabled
export const CQ_IV_SHIFT: u32 = 16; // Interrupt Vector
export const SQ_QPRIO_SHIFT: u32 = 1;
export const SQ_QPRIO_MASK: u32 = 0x3;
export const SQ_CQID_SHIFT: u32 = 16;

// Get Log Page (5.14): CDW10 LID 7:0, LSP 11:8, RAE 15, NUMDL 31:16;
// CDW11 NUMDU 15:0, LSI 31:16; CDW12/13 LPOL/LPOU. NUMD is 0's based dwords.
export const LOG_LID_MASK: u32 = 0xff;
export const LOG_LSP_SHIFT: u32 = 8;
export const LOG_LSP_MASK: u32 = 0xf;
export const LOG_RAE_SHIFT: u32 = 15;
export const LOG_NUMDL_SHIFT: u32 = 16;
export const LOG_NUMD_MASK: u32 = 0xffff;
export enum LogId {
  ErrorInformation = 0x01,
  SmartHealth = 0x02,
  FirmwareSlot = 0x03,
}

// Abort (5.1): CDW10 SQID 15:0, CID 31:16. Completion DW0 bit 0: 1 = the
// command was not aborted.
export const ABORT_SQID_MASK: u32 = 0xffff;
export const ABORT_CID_SHIFT: u32 = 16;
export const ABORT_NOT_ABORTED: u32 = 0x1;

// Asynchronous Event Request (5.2): completion DW0 event type 2:0, event
// information 15:8, log page identifier 23:16.
export const AER_TYPE_SHIFT: u32 = 0;
export const AER_TYPE_MASK: u32 = 0x7;
export const AER_INFO_SHIFT: u32 = 8;
export const AER_INFO_MASK: u32 = 0xff;
export const AER_LID_SHIFT: u32 = 16;
export const AER_LID_MASK: u32 = 0xff;
export enum AerType {
  Error = 0,
  SmartHealth = 1,
  Notice = 2,
  IoCommandSet = 6,
  VendorSpecific = 7,
}

export const NSID_ALL: u32 = 0xffffffff;

// Create I/O Completion Queue (5.3) CDW11 IV is bits 31:16; Create I/O
// Submission Queue (5.4) CDW11 CQID is bits 31:16; both 16 bits wide.
export const Q_FIELD16_MASK: u32 = 0xffff;

// Get Features Select (5.13, Figure "Get Features - Select")
export enum FeatureSelect {
  Current = 0,
  Default = 1,
  Saved = 2,
  Capabilities = 3,
}
// Get Features with SEL = 3: capabilities in completion DW0 (5.13)
export const FEAT_CAP_SAVEABLE: u32 = 1 << 0;
export const FEAT_CAP_NS_SPECIFIC: u32 = 1 << 1;
export const FEAT_CAP_CHANGEABLE: u32 = 1 << 2;

// Arbitration (5.21.1.1): AB 2:0, 111b = no limit
export const ARB_AB_NO_LIMIT: u32 = 0x7;
// Power Management (5.21.1.2): PS 4:0
export const PM_PS_MASK: u32 = 0x1f;
// Temperature Threshold (5.21.1.4): TMPTH 15:0, TMPSEL 19:16, THSEL 21:20
export const TEMP_TMPTH_MASK: u32 = 0xffff;
export const TEMP_TMPSEL_SHIFT: u32 = 16;
export const TEMP_TMPSEL_MASK: u32 = 0xf;
export const TEMP_TMPSEL_COMPOSITE: u32 = 0;
export const TEMP_THSEL_SHIFT: u32 = 20;
export const TEMP_THSEL_MASK: u32 = 0x3;
export const TEMP_THSEL_OVER: u32 = 0;
export const TEMP_THSEL_UNDER: u32 = 1;
// Error Recovery (5.21.1.5): TLER 15:0, DULBE bit 16
export const ERR_REC_TLER_MASK: u32 = 0xffff;
export const ERR_REC_DULBE_SHIFT: u32 = 16;
// Volatile Write Cache (5.21.1.6): WCE bit 0
export const VWC_WCE_MASK: u32 = 0x1;
// Interrupt Vector Configuration (5.21.1.9): IV 15:0, CD bit 16
export const IVC_IV_MASK: u32 = 0xffff;
export const IVC_CD_SHIFT: u32 = 16;
// Write Atomicity Normal (5.21.1.10): DN bit 0
export const WAN_DN_MASK: u32 = 0x1;

