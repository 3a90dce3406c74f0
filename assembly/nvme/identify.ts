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
export const IDC_RRLS: u32 = 100; // u16 Read Recovery Levels Supported
export const IDC_CNTRLTYPE: u32 = 111; // u8 Controller Type (1 I/O, 2 discovery, 3 administrative)
export const IDC_FGUID: u32 = 112; // 16 bytes FRU Globally Unique Identifier
export const IDC_CRDT1: u32 = 128; // u16 Command Retry Delay Time 1 (100 ms units)
export const IDC_CRDT2: u32 = 130; // u16
export const IDC_CRDT3: u32 = 132; // u16
export const IDC_NVMSR: u32 = 253; // u8 NVM Subsystem Report
export const IDC_VWCI: u32 = 254; // u8 VPD Write Cycle Information
export const IDC_MEC: u32 = 255; // u8 Management Endpoint Capabilities
export const IDC_OACS: u32 = 256; // u16 Optional Admin Command Support
export const IDC_ACL: u32 = 258; // u8 Abort Command Limit, 0's based
export const IDC_AERL: u32 = 259; // u8 Async Event Request Limit, 0's based
export const IDC_FRMW: u32 = 260; // u8 Firmware Updates
export const IDC_LPA: u32 = 261; // u8 Log Page Attributes
export const IDC_ELPE: u32 = 262; // u8 Error Log Page Entries, 0's based
export const IDC_NPSS: u32 = 263; // u8 Number of Power States Support, 0's based
export const IDC_AVSCC: u32 = 264; // u8 Admin Vendor Specific Command Configuration
export const IDC_APSTA: u32 = 265; // u8 Autonomous Power State Transition Attributes
export const IDC_WCTEMP: u32 = 266; // u16 Warning Composite Temperature Threshold (K)
export const IDC_CCTEMP: u32 = 268; // u16 Critical Composite Temperature Threshold (K)
export const IDC_MTFA: u32 = 270; // u16 Maximum Time for Firmware Activation (100 ms units)
export const IDC_HMPRE: u32 = 272; // u32 Host Memory Buffer Preferred Size (4 KiB units)
export const IDC_HMMIN: u32 = 276; // u32 Host Memory Buffer Minimum Size (4 KiB units)
export const IDC_TNVMCAP: u32 = 280; // 16 bytes Total NVM Capacity
export const IDC_UNVMCAP: u32 = 296; // 16 bytes Unallocated NVM Capacity
export const IDC_RPMBS: u32 = 312; // u32 Replay Protected Memory Block Support
export const IDC_EDSTT: u32 = 316; // u16 Extended Device Self-test Time (minutes)
export const IDC_DSTO: u32 = 318; // u8 Device Self-test Options
export const IDC_FWUG: u32 = 319; // u8 Firmware Update Granularity (4 KiB units)
export const IDC_KAS: u32 = 320; // u16 Keep Alive Support (100 ms units)
export const IDC_HCTMA: u32 = 322; // u16 Host Controlled Thermal Management Attributes
export const IDC_MNTMT: u32 = 324; // u16 Minimum Thermal Management Temperature (K)
export const IDC_MXTMT: u32 = 326; // u16 Maximum Thermal Management Temperature (K)
export const IDC_SANICAP: u32 = 328; // u32 Sanitize Capabilities
export const IDC_HMMINDS: u32 = 332; // u32 Host Memory Buffer Minimum Descriptor Entry Size (4 KiB units)
export const IDC_HMMAXD: u32 = 336; // u16 Host Memory Maximum Descriptors Entries
export const IDC_NSETIDMAX: u32 = 338; // u16 NVM Set Identifier Maximum
export const IDC_ENDGIDMAX: u32 = 340; // u16 Endurance Group Identifier Maximum
export const IDC_ANATT: u32 = 342; // u8 ANA Transition Time (seconds)
export const IDC_ANACAP: u32 = 343; // u8 Asymmetric Namespace Access Capabilities
export const IDC_ANAGRPMAX: u32 = 344; // u32 ANA Group Identifier Maximum
export const IDC_NANAGRPID: u32 = 348; // u32 Number of ANA Group Identifiers
export const IDC_PELS: u32 = 352; // u32 Persistent Event Log Size (64 KiB units)
export const IDC_DOMAINID: u32 = 356; // u16 Domain Identifier
export const IDC_MEGCAP: u32 = 368; // 16 bytes Max Endurance Group Capacity (bytes)
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
export const IDC_ICSVSCC: u32 = 530; // u8 NVM Vendor Specific Command Configuration
export const IDC_NWPC: u32 = 531; // u8 Namespace Write Protection Capabilities
export const IDC_ACWU: u32 = 532; // u16 Atomic Compare & Write Unit (blocks, 0's based)
export const IDC_OCFS: u32 = 534; // u16 Optional Copy Formats Supported
export const IDC_SGLS: u32 = 536; // u32 SGL Support
export const IDC_MNAN: u32 = 540; // u32 Maximum Number of Allowed Namespaces
export const IDC_MAXDNA: u32 = 544; // 16 bytes Maximum Domain Namespace Attachments
export const IDC_MAXCNA: u32 = 560; // u32 Maximum I/O Controller Namespace Attachments
export const IDC_SUBNQN: u32 = 768; // 256 bytes
export const IDC_SUBNQN_LEN: u32 = 256;
// NVMe over Fabrics attributes
export const IDC_IOCCSZ: u32 = 1792; // u32 I/O Queue Command Capsule Supported Size (16-byte units)
export const IDC_IORCSZ: u32 = 1796; // u32 I/O Queue Response Capsule Supported Size (16-byte units)
export const IDC_ICDOFF: u32 = 1800; // u16 In Capsule Data Offset (16-byte units)
export const IDC_FCATT: u32 = 1802; // u8 Fabrics Controller Attributes
export const IDC_MSDBD: u32 = 1803; // u8 Maximum SGL Data Block Descriptors
export const IDC_OFCS: u32 = 1804; // u16 Optional Fabric Commands Support
// Power State Descriptors: 32 of 32 bytes (NPSS + 1 valid)
export const IDC_PSD0: u32 = 2048;
export const IDC_PSD_SIZE: u32 = 32;
export const IDC_PSD_COUNT: u32 = 32;
export const PSD_MP: u32 = 0; // u16 Maximum Power (0.01 W or 0.0001 W, flags bit 0)
export const PSD_FLAGS: u32 = 3; // u8 bit 0 MXPS (max power scale), bit 1 NOPS (non-operational)
export const PSD_ENLAT: u32 = 4; // u32 Entry Latency (us)
export const PSD_EXLAT: u32 = 8; // u32 Exit Latency (us)
export const PSD_RRT: u32 = 12; // u8 Relative Read Throughput 4:0
export const PSD_RRL: u32 = 13; // u8 Relative Read Latency 4:0
export const PSD_RWT: u32 = 14; // u8 Relative Write Throughput 4:0
export const PSD_RWL: u32 = 15; // u8 Relative Write Latency 4:0
export const PSD_IDLP: u32 = 16; // u16 Idle Power
export const PSD_IPS: u32 = 18; // u8 Idle Power Scale in 7:6
export const PSD_ACTP: u32 = 20; // u16 Active Power
export const PSD_APWS: u32 = 22; // u8 Active Power Workload 2:0, Active Power Scale 7:6
export const PSD_SCALE_SHIFT: u32 = 6; // IPS / APS: 00b not reported, 01b 0.0001 W, 10b 0.01 W
export const PSD_SCALE_MASK: u32 = 0x3;
export const PSD_APW_MASK: u32 = 0x7;
export const IDC_VS: u32 = 3072; // 1024 bytes vendor specific

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
export const IDNS_RESCAP: u32 = 31; // u8 Reservation Capabilities
export const IDNS_FPI: u32 = 32; // u8 Format Progress Indicator
export const IDNS_DLFEAT: u32 = 33; // u8 Deallocate Logical Block Features
export const IDNS_NAWUN: u32 = 34; // u16 Namespace Atomic Write Unit Normal (blocks, 0's based)
export const IDNS_NAWUPF: u32 = 36; // u16 Namespace Atomic Write Unit Power Fail (blocks, 0's based)
export const IDNS_NACWU: u32 = 38; // u16 Namespace Atomic Compare & Write Unit (blocks, 0's based)
export const IDNS_NABSN: u32 = 40; // u16 Namespace Atomic Boundary Size Normal (blocks, 0's based)
export const IDNS_NABO: u32 = 42; // u16 Namespace Atomic Boundary Offset (blocks)
export const IDNS_NABSPF: u32 = 44; // u16 Namespace Atomic Boundary Size Power Fail (blocks, 0's based)
export const IDNS_NOIOB: u32 = 46; // u16 Namespace Optimal I/O Boundary (blocks)
export const IDNS_NVMCAP: u32 = 48; // 16 bytes
export const IDNS_NPWG: u32 = 64; // u16 Namespace Preferred Write Granularity (blocks, 0's based)
export const IDNS_NPWA: u32 = 66; // u16 Namespace Preferred Write Alignment (blocks, 0's based)
export const IDNS_NPDG: u32 = 68; // u16 Namespace Preferred Deallocate Granularity (blocks, 0's based)
export const IDNS_NPDA: u32 = 70; // u16 Namespace Preferred Deallocate Alignment (blocks, 0's based)
export const IDNS_NOWS: u32 = 72; // u16 Namespace Optimal Write Size (blocks, 0's based)
export const IDNS_MSSRL: u32 = 74; // u16 Maximum Single Source Range Length (blocks)
export const IDNS_MCL: u32 = 76; // u32 Maximum Copy Length (blocks)
export const IDNS_MSRC: u32 = 80; // u8 Maximum Source Range Count, 0's based
export const IDNS_NULBAF: u32 = 82; // u8 Number of Unique Capability LBA Formats
export const IDNS_ANAGRPID: u32 = 92; // u32 ANA Group Identifier
export const IDNS_NSATTR: u32 = 99; // u8 Namespace Attributes (bit 0 write protected)
export const IDNS_NVMSETID: u32 = 100; // u16 NVM Set Identifier
export const IDNS_ENDGID: u32 = 102; // u16 Endurance Group Identifier
export const IDNS_NGUID: u32 = 104; // 16 bytes
export const IDNS_EUI64: u32 = 120; // 8 bytes
export const IDNS_LBAF0: u32 = 128; // up to 64 x u32 LBA Format descriptors
export const IDNS_LBAF_SIZE: u32 = 4;
export const IDNS_LBAF_COUNT: u32 = 64;
export const NSFEAT_OPTPERF: u32 = 1 << 4; // NPWG, NPWA, NPDG, NPDA and NOWS are valid
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
export const ERRLOG_TRTYPE: u32 = 29; // u8 transport type (NVMe over Fabrics)
export const ERRLOG_CSI: u32 = 32; // u64 command specific information
export const ERRLOG_TTSI: u32 = 40; // u16 transport type specific information

// SMART / Health Information log (5.14.1.2), 512 bytes
export const SMART_LOG_SIZE: u32 = 512;
export const SMART_CRIT_WARNING: u32 = 0; // u8
export const SMART_TEMPERATURE: u32 = 1; // u16 Kelvin
export const SMART_AVAIL_SPARE: u32 = 3; // u8 %
export const SMART_SPARE_THRESH: u32 = 4; // u8 %
export const SMART_PERCENT_USED: u32 = 5; // u8 %
export const SMART_ENDU_GRP_CRIT_WARN: u32 = 6; // u8 Endurance Group Critical Warning Summary
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
export const SMART_WARNING_TEMP_TIME: u32 = 192; // u32 minutes above WCTEMP
export const SMART_CRITICAL_COMP_TIME: u32 = 196; // u32 minutes above CCTEMP
export const SMART_TEMP_SENSOR1: u32 = 200; // 8 x u16 Kelvin, 0 = not implemented
export const SMART_TEMP_SENSORS: u32 = 8;
export const SMART_THM_TEMP1_TRANS_COUNT: u32 = 216; // u32
export const SMART_THM_TEMP2_TRANS_COUNT: u32 = 220; // u32
export const SMART_THM_TEMP1_TOTAL_TIME: u32 = 224; // u32 seconds
export const SMART_THM_TEMP2_TOTAL_TIME: u32 = 228; // u32 seconds

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
export const NIDT_UUID: u32 = 0x3;
export const NIDT_CSI: u32 = 0x4; // Command Set Identifier, 1 byte
export const NID_HEADER_SIZE: u32 = 4; // NIDT u8, NIDL u8, reserved u16
// Command Set Identifiers (CSI)
export const CSI_NVM: u32 = 0x0;
export const CSI_KV: u32 = 0x1;
export const CSI_ZONED: u32 = 0x2;

// SMART / Health critical warning (5.14.1.2)
export const SMART_CW_TEMPERATURE: u32 = 1 << 1;

// Error Information log entry: Parameter Error Location "not reported"
export const ERRLOG_PARAM_LOC_NONE: u32 = 0xffff;

// Status field of a CQE as it appears in the Error Information log (bits
// 15:1 status, bit 0 phase tag) and in CQE DW3 (bits 31:17, 16).
export const ERRLOG_STATUS_SF_SHIFT: u32 = 1;
