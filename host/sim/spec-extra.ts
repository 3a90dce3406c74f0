// NVMe 1.4 definitions the simulated controller needs that the shared files
// (assembly/nvme/*.ts) do not hold yet. Kept in this one file so they can be
// moved into the shared definitions later without hunting for them.

// Create I/O Completion Queue (5.3) CDW11 IV is bits 31:16; Create I/O
// Submission Queue (5.4) CDW11 CQID is bits 31:16; both 16 bits wide.
export const Q_FIELD16_MASK = 0xffff;

// Get Features Select (5.13, Figure "Get Features - Select")
export enum FeatureSelect {
  Current = 0,
  Default = 1,
  Saved = 2,
  Capabilities = 3,
}
// Get Features with SEL = 3: capabilities in completion DW0 (5.13)
export const FEAT_CAP_SAVEABLE = 1 << 0;
export const FEAT_CAP_NS_SPECIFIC = 1 << 1;
export const FEAT_CAP_CHANGEABLE = 1 << 2;

// Arbitration (5.21.1.1): AB 2:0, 111b = no limit
export const ARB_AB_NO_LIMIT = 0x7;
// Power Management (5.21.1.2): PS 4:0
export const PM_PS_MASK = 0x1f;
// Temperature Threshold (5.21.1.4): TMPTH 15:0, TMPSEL 19:16, THSEL 21:20
export const TEMP_TMPTH_MASK = 0xffff;
export const TEMP_TMPSEL_SHIFT = 16;
export const TEMP_TMPSEL_MASK = 0xf;
export const TEMP_TMPSEL_COMPOSITE = 0;
export const TEMP_THSEL_SHIFT = 20;
export const TEMP_THSEL_MASK = 0x3;
export const TEMP_THSEL_OVER = 0;
export const TEMP_THSEL_UNDER = 1;
// Error Recovery (5.21.1.5): TLER 15:0, DULBE bit 16
export const ERR_REC_TLER_MASK = 0xffff;
export const ERR_REC_DULBE_SHIFT = 16;
// Volatile Write Cache (5.21.1.6): WCE bit 0
export const VWC_WCE_MASK = 0x1;
// Interrupt Vector Configuration (5.21.1.9): IV 15:0, CD bit 16
export const IVC_IV_MASK = 0xffff;
export const IVC_CD_SHIFT = 16;
// Write Atomicity Normal (5.21.1.10): DN bit 0
export const WAN_DN_MASK = 0x1;

// Identify Controller bits (5.15.2.2)
export const FRMW_SLOT1_RO = 1 << 0; // firmware slot 1 is read only
export const FRMW_NSLOTS_SHIFT = 1; // number of firmware slots, 3:1
export const LPA_SMART_PER_NS = 1 << 0;
export const LPA_EXTENDED_DATA = 1 << 2; // NUMDU / LPOL / LPOU supported
export const VWC_PRESENT = 1 << 0;
export const VWC_FLUSH_NSID_ALL_SHIFT = 1; // 11b: Flush with NSID FFFFFFFFh supported
export const VWC_FLUSH_NSID_ALL_SUPPORTED = 0x3;
export const SQES_MAX_SHIFT = 4; // SQES/CQES: maximum 7:4, required 3:0

// Identify Namespace bits (5.15.2.1)
export const NSFEAT_THINP = 1 << 0; // thin provisioning: NUSE is meaningful
export const NSFEAT_DAE = 1 << 2; // Deallocated or Unwritten Logical Block error supported
export const DLFEAT_READ_ZEROES = 0x1; // 2:0 = 001b: deallocated blocks read as zeroes
export const DLFEAT_WZ_DEAC = 1 << 3; // Write Zeroes honours DEAC

// Namespace Identification Descriptor list (Identify CNS 03h, 5.15.2.3)
export const NIDT_EUI64 = 0x1;
export const NIDT_EUI64_LEN = 8;
export const NIDT_NGUID = 0x2;
export const NIDT_NGUID_LEN = 16;
export const NID_HEADER_SIZE = 4; // NIDT u8, NIDL u8, reserved u16

// SMART / Health critical warning (5.14.1.2)
export const SMART_CW_TEMPERATURE = 1 << 1;

// Error Information log entry: Parameter Error Location "not reported"
export const ERRLOG_PARAM_LOC_NONE = 0xffff;

// Status field of a CQE as it appears in the Error Information log (bits
// 15:1 status, bit 0 phase tag) and in CQE DW3 (bits 31:17, 16).
export const ERRLOG_STATUS_SF_SHIFT = 1;
