// Identify data structures (5.15.2, 1.4 Figures "Identify - Identify
// Controller Data Structure" and "Identify - Identify Namespace Data
// Structure") and log pages (5.14.1). Byte offsets of the fields this project
// reads or the simulated controller fills.

// Identify Controller (CNS 01h), 4096 bytes
export const IDC_VID: u32 = 0; // u16 PCI Vendor ID
export const IDC_SSVID: u32 = 2; // u16 PCI Subsystem Vendor ID
export const IDC_SN: u32 = 4; // 20 bytes ASCII, space padded
export const IDC_SN_LEN: u32 = 20;
export const IDC_MN: u32 = 24; // 40 bytes ASCII
export const IDC_MN_LEN: u32 = 40;
export const IDC_FR: u32 = 64; // 8 bytes ASCII
export const IDC_FR_LEN: u32 = 8;
export const IDC_RAB: u32 = 72; // u8 Recommended Arbitration Burst
export const IDC_IEEE: u32 = 73; // 3 bytes OUI
export const IDC_CMIC: u32 = 76; // u8 multi-path I/O and namespace sharing
export const IDC_MDTS: u32 = 77; // u8 Maximum Data Transfer Size, 2^n * MPSMIN, 0 = no limit
export const IDC_CNTLID: u32 = 78; // u16 Controller ID
export const IDC_VER: u32 = 80; // u32 Version (same layout as VS)
export const IDC_RTD3R: u32 = 84; // u32 RTD3 Resume Latency (us)
export const IDC_RTD3E: u32 = 88; // u32 RTD3 Entry Latency (us)
export const IDC_OAES: u32 = 92; // u32 Optional Asynchronous Events Supported
export const IDC_CTRATT: u32 = 96; // u32 Controller Attributes
export const IDC_OACS: u32 = 256; // u16 Optional Admin Command Support
export const IDC_ACL: u32 = 258; // u8 Abort Command Limit, 0's based
export const IDC_AERL: u32 = 259; // u8 Async Event Request Limit, 0's based
export const IDC_FRMW: u32 = 260; // u8 Firmware Updates
export const IDC_LPA: u32 = 261; // u8 Log Page Attributes
export const IDC_ELPE: u32 = 262; // u8 Error Log Page Entries, 0's based
export const IDC_NPSS: u32 = 263; // u8 Number of Power States Support, 0's based
export const IDC_WCTEMP: u32 = 266; // u16 Warning Composite Temperature Threshold (K)
export const IDC_CCTEMP: u32 = 268; // u16 Critical Composite Temperature Threshold (K)
export const IDC_TNVMCAP: u32 = 280; // 16 bytes Total NVM Capacity
export const IDC_UNVMCAP: u32 = 296; // 16 bytes Unallocated NVM Capacity
export const IDC_SQES: u32 = 512; // u8 max 7:4, required 3:0 (log2 bytes)
export const IDC_CQES: u32 = 513; // u8
export const IDC_MAXCMD: u32 = 514; // u16
export const IDC_NN: u32 = 516; // u32 Number of Namespaces
export const IDC_ONCS: u32 = 520; // u16 Optional NVM Command Support
export const IDC_FUSES: u32 = 522; // u16
export const IDC_FNA: u32 = 524; // u8 Format NVM Attributes
export const IDC_VWC: u32 = 525; // u8 Volatile Write Cache
export const IDC_AWUN: u32 = 526; // u16
export const IDC_AWUPF: u32 = 528; // u16
export const IDC_SGLS: u32 = 536; // u32 SGL Support
export const IDC_SUBNQN: u32 = 768; // 256 bytes

// OACS bits
export const OACS_SECURITY: u32 = 1 << 0;
export const OACS_FORMAT: u32 = 1 << 1;
export const OACS_FIRMWARE: u32 = 1 << 2;
export const OACS_NS_MGMT: u32 = 1 << 3;
export const OACS_SELF_TEST: u32 = 1 << 4;
export const OACS_DIRECTIVES: u32 = 1 << 5;
export const OACS_NVME_MI: u32 = 1 << 6;
export const OACS_VIRT_MGMT: u32 = 1 << 7;
export const OACS_DBBUF_CONFIG: u32 = 1 << 8;
export const OACS_GET_LBA_STATUS: u32 = 1 << 9;
// ONCS bits
export const ONCS_COMPARE: u32 = 1 << 0;
export const ONCS_WRITE_UNCORRECTABLE: u32 = 1 << 1;
export const ONCS_DSM: u32 = 1 << 2;
export const ONCS_WRITE_ZEROES: u32 = 1 << 3;
export const ONCS_SAVE_FEATURES: u32 = 1 << 4;
export const ONCS_RESERVATIONS: u32 = 1 << 5;
export const ONCS_TIMESTAMP: u32 = 1 << 6;
export const ONCS_VERIFY: u32 = 1 << 7;

// Identify Namespace (CNS 00h), 4096 bytes
export const IDNS_NSZE: u32 = 0; // u64 Namespace Size (blocks)
export const IDNS_NCAP: u32 = 8; // u64 Namespace Capacity
export const IDNS_NUSE: u32 = 16; // u64 Namespace Utilization
export const IDNS_NSFEAT: u32 = 24; // u8
export const IDNS_NLBAF: u32 = 25; // u8 Number of LBA Formats, 0's based
export const IDNS_FLBAS: u32 = 26; // u8 Formatted LBA Size: format index 3:0
export const IDNS_FLBAS_INDEX_MASK: u32 = 0xf;
export const IDNS_FLBAS_EXTENDED: u32 = 0x10; // bit 4: metadata at the end of each block's data (extended LBA)
export const IDNS_MC: u32 = 27; // u8 Metadata Capabilities
export const IDNS_DPC: u32 = 28; // u8
export const IDNS_DPS: u32 = 29; // u8
export const IDNS_NMIC: u32 = 30; // u8
export const IDNS_DLFEAT: u32 = 33; // u8 Deallocate Logical Block Features
export const IDNS_NVMCAP: u32 = 48; // 16 bytes
export const IDNS_NGUID: u32 = 104; // 16 bytes
export const IDNS_EUI64: u32 = 120; // 8 bytes
export const IDNS_LBAF0: u32 = 128; // 16 x u32 LBA Format descriptors
export const IDNS_LBAF_SIZE: u32 = 4;
export const IDNS_LBAF_COUNT: u32 = 16;
// LBA Format descriptor
export const LBAF_MS_SHIFT: u32 = 0; // Metadata Size
export const LBAF_MS_MASK: u32 = 0xffff;
export const LBAF_LBADS_SHIFT: u32 = 16; // LBA Data Size, 2^n bytes
export const LBAF_LBADS_MASK: u32 = 0xff;
export const LBAF_RP_SHIFT: u32 = 24; // Relative Performance
export const LBAF_RP_MASK: u32 = 0x3;

// Active Namespace ID list (CNS 02h): up to 1024 u32 NSIDs, ascending,
// zero-terminated.
export const NSLIST_MAX: u32 = 1024;

// Error Information log entry (5.14.1.1), 64 bytes each
export const ERRLOG_ENTRY_SIZE: u32 = 64;
export const ERRLOG_COUNT: u32 = 0; // u64
export const ERRLOG_SQID: u32 = 8; // u16
export const ERRLOG_CID: u32 = 10; // u16
export const ERRLOG_STATUS: u32 = 12; // u16: status field in 15:1, phase in 0
export const ERRLOG_PARAM_LOC: u32 = 14; // u16
export const ERRLOG_LBA: u32 = 16; // u64
export const ERRLOG_NSID: u32 = 24; // u32
export const ERRLOG_VSIA: u32 = 28; // u8
export const ERRLOG_CSI: u32 = 32; // u64 command specific information

// SMART / Health Information log (5.14.1.2), 512 bytes
export const SMART_LOG_SIZE: u32 = 512;
export const SMART_CRIT_WARNING: u32 = 0; // u8
export const SMART_TEMPERATURE: u32 = 1; // u16 Kelvin
export const SMART_AVAIL_SPARE: u32 = 3; // u8 %
export const SMART_SPARE_THRESH: u32 = 4; // u8 %
export const SMART_PERCENT_USED: u32 = 5; // u8 %
export const SMART_DATA_UNITS_READ: u32 = 32; // u128, 1000 x 512 bytes
export const SMART_DATA_UNITS_WRITTEN: u32 = 48; // u128
export const SMART_HOST_READS: u32 = 64; // u128
export const SMART_HOST_WRITES: u32 = 80; // u128
export const SMART_CTRL_BUSY_TIME: u32 = 96; // u128 minutes
export const SMART_POWER_CYCLES: u32 = 112; // u128
export const SMART_POWER_ON_HOURS: u32 = 128; // u128
export const SMART_UNSAFE_SHUTDOWNS: u32 = 144; // u128
export const SMART_MEDIA_ERRORS: u32 = 160; // u128
export const SMART_NUM_ERR_LOG_ENTRIES: u32 = 176; // u128

// Firmware Slot Information log (5.14.1.3), 512 bytes
export const FWSLOT_LOG_SIZE: u32 = 512;
export const FWSLOT_AFI: u32 = 0; // u8 active slot 2:0, next slot 6:4
export const FWSLOT_FRS1: u32 = 8; // 7 x 8 bytes ASCII revisions
export const FWSLOT_FRS_LEN: u32 = 8;

// Identify Controller bits (5.15.2.2)
export const FRMW_SLOT1_RO: u32 = 1 << 0; // firmware slot 1 is read only
export const FRMW_NSLOTS_SHIFT: u32 = 1; // number of firmware slots, 3:1
export const LPA_SMART_PER_NS: u32 = 1 << 0;
export const LPA_EXTENDED_DATA: u32 = 1 << 2; // NUMDU / LPOL / LPOU supported
export const VWC_PRESENT: u32 = 1 << 0;
export const VWC_FLUSH_NSID_ALL_SHIFT: u32 = 1; // 11b: Flush with NSID FFFFFFFFh supported
export const VWC_FLUSH_NSID_ALL_SUPPORTED: u32 = 0x3;
export const SQES_MAX_SHIFT: u32 = 4; // SQES/CQES: maximum 7:4, required 3:0

// Identify Namespace bits (5.15.2.1)
export const NSFEAT_THINP: u32 = 1 << 0; // thin provisioning: NUSE is meaningful
export const NSFEAT_DAE: u32 = 1 << 2; // Deallocated or Unwritten Logical Block error supported
export const DLFEAT_READ_ZEROES: u32 = 0x1; // 2:0 = 001b: deallocated blocks read as zeroes
export const DLFEAT_WZ_DEAC: u32 = 1 << 3; // Write Zeroes honours DEAC

// Namespace Identification Descriptor list (Identify CNS 03h, 5.15.2.3)
export const NIDT_EUI64: u32 = 0x1;
export const NIDT_EUI64_LEN: u32 = 8;
export const NIDT_NGUID: u32 = 0x2;
export const NIDT_NGUID_LEN: u32 = 16;
export const NID_HEADER_SIZE: u32 = 4; // NIDT u8, NIDL u8, reserved u16

// SMART / Health critical warning (5.14.1.2)
export const SMART_CW_TEMPERATURE: u32 = 1 << 1;

// Error Information log entry: Parameter Error Location "not reported"
export const ERRLOG_PARAM_LOC_NONE: u32 = 0xffff;

// Status field of a CQE as it appears in the Error Information log (bits
// 15:1 status, bit 0 phase tag) and in CQE DW3 (bits 31:17, 16).
export const ERRLOG_STATUS_SF_SHIFT: u32 = 1;
