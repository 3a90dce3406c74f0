// Identify data (controller, namespace, descriptor and namespace lists),
// decoded into plain objects (field names after the spec's, spelled out).
// The log pages are in host/log-pages.ts (re-exported here).
import * as I from '../assembly/nvme/identify.js';
import { VS_MJR_SHIFT, VS_MJR_MASK, VS_MNR_SHIFT, VS_MNR_MASK, VS_TER_SHIFT, VS_TER_MASK } from '../assembly/nvme/regs.js';

import { ascii, u128 } from './field-read.js';

export function versionString(vs: number): string {
  const ter = (vs >>> VS_TER_SHIFT) & VS_TER_MASK;
  return `${(vs >>> VS_MJR_SHIFT) & VS_MJR_MASK}.${(vs >>> VS_MNR_SHIFT) & VS_MNR_MASK}${ter ? `.${ter}` : ''}`;
}

/** One Power State Descriptor of Identify Controller (NVMe 2.0 Figure 276). */
export interface PowerStateDescriptor {
  /** Maximum Power (MP), in units of 0.01 W, or 0.0001 W when `maxPowerScale` is 1. */
  maxPower: number;
  /** Max Power Scale (MXPS, flags bit 0): 0 = MP in 0.01 W, 1 = MP in 0.0001 W. */
  maxPowerScale: number;
  /** Non-Operational State (NOPS, flags bit 1): 1 = no I/O is processed in this state. */
  nonOperational: number;
  /** The raw flags byte (byte 3: MXPS in bit 0, NOPS in bit 1). */
  flags: number;
  /** Entry Latency (ENLAT), microseconds; 0 = not reported. */
  entryLatencyUs: number;
  /** Exit Latency (EXLAT), microseconds; 0 = not reported. */
  exitLatencyUs: number;
  /** Relative Read Throughput (RRT): rank among the power states, 0 = best. */
  relativeReadThroughput: number;
  /** Relative Read Latency (RRL): rank, 0 = best. */
  relativeReadLatency: number;
  /** Relative Write Throughput (RWT): rank, 0 = best. */
  relativeWriteThroughput: number;
  /** Relative Write Latency (RWL): rank, 0 = best. */
  relativeWriteLatency: number;
  /** Idle Power (IDLP), in the units `idlePowerScale` says. */
  idlePower: number;
  /** Idle Power Scale (IPS): 0 = not reported, 1 = 0.0001 W, 2 = 0.01 W. */
  idlePowerScale: number;
  /** Active Power (ACTP), in the units `activePowerScale` says. */
  activePower: number;
  /** Active Power Workload (APW, 2:0): the workload ACTP was measured with (0 = not reported). */
  activePowerWorkload: number;
  /** Active Power Scale (APS): 0 = not reported, 1 = 0.0001 W, 2 = 0.01 W. */
  activePowerScale: number;
}

/**
 * Identify Controller data (CNS 01h, NVMe 2.0 Figure 275), every field up to
 * the power state table. Counts documented "0's based" in the spec are given
 * 1's based here where the name says so (abortCommandLimit ...); nvme-cli's
 * JSON gives them raw (host/cli/nvme-cli/id-ctrl.ts).
 */
export interface ControllerData {
  /** PCI Vendor ID (VID). */
  vendorId: number;
  /** PCI Subsystem Vendor ID (SSVID). */
  subsystemVendorId: number;
  /** Serial Number (SN), trailing spaces removed. */
  serialNumber: string;
  /** Serial Number as the controller reports it: 20 bytes, space padded. */
  serialNumberRaw: string;
  /** Model Number (MN), trailing spaces removed. */
  modelNumber: string;
  /** Model Number, 40 bytes, space padded. */
  modelNumberRaw: string;
  /** Firmware Revision (FR), trailing spaces removed. */
  firmwareRevision: string;
  /** Firmware Revision, 8 bytes, space padded. */
  firmwareRevisionRaw: string;
  /** Recommended Arbitration Burst (RAB): commands, as a power of two (2^RAB). */
  recommendedArbitrationBurst: number;
  /** IEEE OUI Identifier: the 24-bit OUI, byte 0 in bits 7:0. */
  ieeeOui: number;
  /** Controller Multi-Path I/O and Namespace Sharing Capabilities (CMIC), bit field. */
  cmic: number;
  /** Maximum Data Transfer Size as a power of two of the minimum page size; 0 = no limit. */
  mdts: number;
  /** Controller ID (CNTLID). */
  controllerId: number;
  /** Version (VER) as "major.minor[.tertiary]". */
  version: string;
  /** Version (VER) as the raw 32-bit register value (major 31:16, minor 15:8, tertiary 7:0). */
  versionNumber: number;
  /** RTD3 Resume Latency (RTD3R), microseconds; 0 = not reported. */
  rtd3ResumeLatencyUs: number;
  /** RTD3 Entry Latency (RTD3E), microseconds; 0 = not reported. */
  rtd3EntryLatencyUs: number;
  /** Optional Asynchronous Events Supported (OAES), bit field. */
  oaes: number;
  /** Controller Attributes (CTRATT), bit field. */
  ctratt: number;
  /** Read Recovery Levels Supported (RRLS), bit n = level n. */
  rrls: number;
  /** Controller Type (CNTRLTYPE): 0 not reported, 1 I/O, 2 discovery, 3 administrative. */
  controllerType: number;
  /** FRU Globally Unique Identifier (FGUID), as a UUID string. */
  fguid: string;
  /** Command Retry Delay Times 1 to 3 (CRDT1-3), units of 100 ms. */
  commandRetryDelayTimes: [number, number, number];
  /** NVM Subsystem Report (NVMSR), bit field (NVMe-MI). */
  nvmsr: number;
  /** VPD Write Cycle Information (VWCI): bit 7 valid, 6:0 write cycles remaining. */
  vwci: number;
  /** Management Endpoint Capabilities (MEC), bit field. */
  mec: number;
  /** Optional Admin Command Support (OACS), bit field (OACS_* in assembly/nvme/identify.ts). */
  oacs: number;
  /** Abort Command Limit: concurrent Abort commands, 1's based (ACL + 1). */
  abortCommandLimit: number;
  /** Asynchronous Event Request Limit: outstanding AERs, 1's based (AERL + 1). */
  asyncEventRequestLimit: number;
  /** Firmware Updates (FRMW): slot 1 read-only in bit 0, slot count in 3:1, activation without reset in bit 4. */
  firmwareUpdates: number;
  /** Log Page Attributes (LPA), bit field. */
  logPageAttributes: number;
  /** Error Log Page Entries: entries the controller keeps, 1's based (ELPE + 1). */
  errorLogPageEntries: number;
  /** Number of Power States Supported, 1's based (NPSS + 1). */
  numberOfPowerStates: number;
  /** Admin Vendor Specific Command Configuration (AVSCC). */
  avscc: number;
  /** Autonomous Power State Transition Attributes (APSTA): bit 0 supported. */
  apsta: number;
  /** Warning Composite Temperature Threshold (WCTEMP), Kelvin; 0 = not reported. */
  warningTemperatureK: number;
  /** Critical Composite Temperature Threshold (CCTEMP), Kelvin; 0 = not reported. */
  criticalTemperatureK: number;
  /** Maximum Time for Firmware Activation (MTFA), units of 100 ms; 0 = not reported. */
  maxFirmwareActivationTime: number;
  /** Host Memory Buffer Preferred Size (HMPRE), units of 4 KiB. */
  hostMemoryPreferred: number;
  /** Host Memory Buffer Minimum Size (HMMIN), units of 4 KiB. */
  hostMemoryMinimum: number;
  /** Total NVM Capacity (TNVMCAP), bytes. */
  totalCapacity: bigint;
  /** Unallocated NVM Capacity (UNVMCAP), bytes. */
  unallocatedCapacity: bigint;
  /** Replay Protected Memory Block Support (RPMBS), bit field. */
  rpmbs: number;
  /** Extended Device Self-test Time (EDSTT), minutes. */
  extendedSelfTestTimeMin: number;
  /** Device Self-test Options (DSTO). */
  dsto: number;
  /** Firmware Update Granularity (FWUG), units of 4 KiB; 0 = not reported, 0xff = no restriction. */
  firmwareUpdateGranularity: number;
  /** Keep Alive Support (KAS): granularity of the Keep Alive Timer, units of 100 ms; 0 = not supported. */
  keepAliveSupport: number;
  /** Host Controlled Thermal Management Attributes (HCTMA): bit 0 supported. */
  hctma: number;
  /** Minimum Thermal Management Temperature (MNTMT), Kelvin; 0 = not supported. */
  minThermalManagementTempK: number;
  /** Maximum Thermal Management Temperature (MXTMT), Kelvin; 0 = not supported. */
  maxThermalManagementTempK: number;
  /** Sanitize Capabilities (SANICAP), bit field. */
  sanicap: number;
  /** Host Memory Buffer Minimum Descriptor Entry Size (HMMINDS), units of 4 KiB. */
  hostMemoryMinDescriptorSize: number;
  /** Host Memory Maximum Descriptors Entries (HMMAXD). */
  hostMemoryMaxDescriptors: number;
  /** NVM Set Identifier Maximum (NSETIDMAX). */
  nvmSetIdMax: number;
  /** Endurance Group Identifier Maximum (ENDGIDMAX). */
  enduranceGroupIdMax: number;
  /** ANA Transition Time (ANATT), seconds. */
  anaTransitionTimeS: number;
  /** Asymmetric Namespace Access Capabilities (ANACAP), bit field. */
  anacap: number;
  /** ANA Group Identifier Maximum (ANAGRPMAX). */
  anaGroupIdMax: number;
  /** Number of ANA Group Identifiers (NANAGRPID). */
  anaGroupIds: number;
  /** Persistent Event Log Size (PELS), units of 64 KiB. */
  persistentEventLogSize: number;
  /** Domain Identifier (DOMAINID). */
  domainId: number;
  /** Max Endurance Group Capacity (MEGCAP), bytes. */
  maxEnduranceGroupCapacity: bigint;
  /** Submission Queue Entry Size (SQES): log2 bytes, maximum in 7:4, required in 3:0. */
  sqes: number;
  /** Completion Queue Entry Size (CQES): log2 bytes, maximum in 7:4, required in 3:0. */
  cqes: number;
  /** Maximum Outstanding Commands (MAXCMD), fabrics; 0 = not reported. */
  maxcmd: number;
  /** Number of Namespaces (NN): the largest NSID the controller supports. */
  numberOfNamespaces: number;
  /** Optional NVM Command Support (ONCS), bit field (ONCS_*). */
  oncs: number;
  /** Fused Operation Support (FUSES): bit 0 Compare and Write. */
  fuses: number;
  /** Format NVM Attributes (FNA), bit field. */
  fna: number;
  /** Volatile Write Cache present (VWC bit 0). */
  volatileWriteCache: boolean;
  /** Volatile Write Cache (VWC), the raw byte: present in bit 0, Flush broadcast support in 2:1. */
  vwc: number;
  /** Atomic Write Unit Normal (AWUN), logical blocks, 0's based. */
  awun: number;
  /** Atomic Write Unit Power Fail (AWUPF), logical blocks, 0's based. */
  awupf: number;
  /** NVM Vendor Specific Command Configuration (ICSVSCC). */
  icsvscc: number;
  /** Namespace Write Protection Capabilities (NWPC), bit field. */
  nwpc: number;
  /** Atomic Compare & Write Unit (ACWU), logical blocks, 0's based. */
  acwu: number;
  /** Optional Copy Formats Supported (OCFS), bit n = format n. */
  ocfs: number;
  /** SGL Support (SGLS), bit field; 1:0 = 0 means PRPs only. */
  sgls: number;
  /** Maximum Number of Allowed Namespaces (MNAN); 0 = not reported. */
  maxAllowedNamespaces: number;
  /** Maximum Domain Namespace Attachments (MAXDNA). */
  maxDomainNamespaceAttachments: bigint;
  /** Maximum I/O Controller Namespace Attachments (MAXCNA). */
  maxControllerNamespaceAttachments: number;
  /** NVM Subsystem NVMe Qualified Name (SUBNQN), up to the first NUL. */
  subnqn: string;
  /** I/O Queue Command Capsule Supported Size (IOCCSZ), units of 16 bytes (fabrics). */
  ioccsz: number;
  /** I/O Queue Response Capsule Supported Size (IORCSZ), units of 16 bytes (fabrics). */
  iorcsz: number;
  /** In Capsule Data Offset (ICDOFF), units of 16 bytes (fabrics). */
  icdoff: number;
  /** Fabrics Controller Attributes (FCATT): bit 0 static controller model. */
  fcatt: number;
  /** Maximum SGL Data Block Descriptors (MSDBD) per command (fabrics). */
  msdbd: number;
  /** Optional Fabric Commands Support (OFCS): bit 0 Disconnect. */
  ofcs: number;
  /** Power State Descriptors 0 to NPSS. */
  powerStates: PowerStateDescriptor[];
}

/** The 16 bytes at `off` as a UUID string (8-4-4-4-12 hex digits). */
function uuidAt(b: Uint8Array, off: number): string {
  const h = Buffer.from(b.buffer, b.byteOffset + off, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Bytes `off`..`off+len` as latin1, cut at the first NUL. */
const cString = (b: Uint8Array, off: number, len: number): string => {
  const s = Buffer.from(b.buffer, b.byteOffset + off, len).toString('latin1');
  const z = s.indexOf('\0');
  return z < 0 ? s : s.slice(0, z);
};

export function parsePowerState(b: Uint8Array, off: number): PowerStateDescriptor {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = b[off + I.PSD_FLAGS]!;
  const scale = (v: number) => (v >>> I.PSD_SCALE_SHIFT) & I.PSD_SCALE_MASK;
  return {
    maxPower: dv.getUint16(off + I.PSD_MP, true),
    maxPowerScale: flags & 1,
    nonOperational: (flags >>> 1) & 1,
    flags,
    entryLatencyUs: dv.getUint32(off + I.PSD_ENLAT, true),
    exitLatencyUs: dv.getUint32(off + I.PSD_EXLAT, true),
    relativeReadThroughput: b[off + I.PSD_RRT]!,
    relativeReadLatency: b[off + I.PSD_RRL]!,
    relativeWriteThroughput: b[off + I.PSD_RWT]!,
    relativeWriteLatency: b[off + I.PSD_RWL]!,
    idlePower: dv.getUint16(off + I.PSD_IDLP, true),
    idlePowerScale: scale(b[off + I.PSD_IPS]!),
    activePower: dv.getUint16(off + I.PSD_ACTP, true),
    activePowerWorkload: b[off + I.PSD_APWS]! & I.PSD_APW_MASK,
    activePowerScale: scale(b[off + I.PSD_APWS]!),
  };
}

export function parseControllerData(b: Uint8Array): ControllerData {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u8 = (off: number) => b[off]!;
  const u16 = (off: number) => dv.getUint16(off, true);
  const u32 = (off: number) => dv.getUint32(off, true);
  const npss = u8(I.IDC_NPSS);
  const powerStates: PowerStateDescriptor[] = [];
  for (let i = 0; i <= Math.min(npss, I.IDC_PSD_COUNT - 1); i++) powerStates.push(parsePowerState(b, I.IDC_PSD0 + i * I.IDC_PSD_SIZE));
  const raw = (off: number, len: number) => Buffer.from(b.buffer, b.byteOffset + off, len).toString('latin1');
  return {
    vendorId: u16(I.IDC_VID),
    subsystemVendorId: u16(I.IDC_SSVID),
    serialNumber: ascii(b, I.IDC_SN, I.IDC_SN_LEN),
    serialNumberRaw: raw(I.IDC_SN, I.IDC_SN_LEN),
    modelNumber: ascii(b, I.IDC_MN, I.IDC_MN_LEN),
    modelNumberRaw: raw(I.IDC_MN, I.IDC_MN_LEN),
    firmwareRevision: ascii(b, I.IDC_FR, I.IDC_FR_LEN),
    firmwareRevisionRaw: raw(I.IDC_FR, I.IDC_FR_LEN),
    recommendedArbitrationBurst: u8(I.IDC_RAB),
    ieeeOui: u8(I.IDC_IEEE) | (u8(I.IDC_IEEE + 1) << 8) | (u8(I.IDC_IEEE + 2) << 16),
    cmic: u8(I.IDC_CMIC),
    mdts: u8(I.IDC_MDTS),
    controllerId: u16(I.IDC_CNTLID),
    version: versionString(u32(I.IDC_VER)),
    versionNumber: u32(I.IDC_VER),
    rtd3ResumeLatencyUs: u32(I.IDC_RTD3R),
    rtd3EntryLatencyUs: u32(I.IDC_RTD3E),
    oaes: u32(I.IDC_OAES),
    ctratt: u32(I.IDC_CTRATT),
    rrls: u16(I.IDC_RRLS),
    controllerType: u8(I.IDC_CNTRLTYPE),
    fguid: uuidAt(b, I.IDC_FGUID),
    commandRetryDelayTimes: [u16(I.IDC_CRDT1), u16(I.IDC_CRDT2), u16(I.IDC_CRDT3)],
    nvmsr: u8(I.IDC_NVMSR),
    vwci: u8(I.IDC_VWCI),
    mec: u8(I.IDC_MEC),
    oacs: u16(I.IDC_OACS),
    abortCommandLimit: u8(I.IDC_ACL) + 1,
    asyncEventRequestLimit: u8(I.IDC_AERL) + 1,
    firmwareUpdates: u8(I.IDC_FRMW),
    logPageAttributes: u8(I.IDC_LPA),
    errorLogPageEntries: u8(I.IDC_ELPE) + 1,
    numberOfPowerStates: npss + 1,
    avscc: u8(I.IDC_AVSCC),
    apsta: u8(I.IDC_APSTA),
    warningTemperatureK: u16(I.IDC_WCTEMP),
    criticalTemperatureK: u16(I.IDC_CCTEMP),
    maxFirmwareActivationTime: u16(I.IDC_MTFA),
    hostMemoryPreferred: u32(I.IDC_HMPRE),
    hostMemoryMinimum: u32(I.IDC_HMMIN),
    totalCapacity: u128(dv, I.IDC_TNVMCAP),
    unallocatedCapacity: u128(dv, I.IDC_UNVMCAP),
    rpmbs: u32(I.IDC_RPMBS),
    extendedSelfTestTimeMin: u16(I.IDC_EDSTT),
    dsto: u8(I.IDC_DSTO),
    firmwareUpdateGranularity: u8(I.IDC_FWUG),
    keepAliveSupport: u16(I.IDC_KAS),
    hctma: u16(I.IDC_HCTMA),
    minThermalManagementTempK: u16(I.IDC_MNTMT),
    maxThermalManagementTempK: u16(I.IDC_MXTMT),
    sanicap: u32(I.IDC_SANICAP),
    hostMemoryMinDescriptorSize: u32(I.IDC_HMMINDS),
    hostMemoryMaxDescriptors: u16(I.IDC_HMMAXD),
    nvmSetIdMax: u16(I.IDC_NSETIDMAX),
    enduranceGroupIdMax: u16(I.IDC_ENDGIDMAX),
    anaTransitionTimeS: u8(I.IDC_ANATT),
    anacap: u8(I.IDC_ANACAP),
    anaGroupIdMax: u32(I.IDC_ANAGRPMAX),
    anaGroupIds: u32(I.IDC_NANAGRPID),
    persistentEventLogSize: u32(I.IDC_PELS),
    domainId: u16(I.IDC_DOMAINID),
    maxEnduranceGroupCapacity: u128(dv, I.IDC_MEGCAP),
    sqes: u8(I.IDC_SQES),
    cqes: u8(I.IDC_CQES),
    maxcmd: u16(I.IDC_MAXCMD),
    numberOfNamespaces: u32(I.IDC_NN),
    oncs: u16(I.IDC_ONCS),
    fuses: u16(I.IDC_FUSES),
    fna: u8(I.IDC_FNA),
    volatileWriteCache: (u8(I.IDC_VWC) & I.VWC_PRESENT) !== 0,
    vwc: u8(I.IDC_VWC),
    awun: u16(I.IDC_AWUN),
    awupf: u16(I.IDC_AWUPF),
    icsvscc: u8(I.IDC_ICSVSCC),
    nwpc: u8(I.IDC_NWPC),
    acwu: u16(I.IDC_ACWU),
    ocfs: u16(I.IDC_OCFS),
    sgls: u32(I.IDC_SGLS),
    maxAllowedNamespaces: u32(I.IDC_MNAN),
    maxDomainNamespaceAttachments: u128(dv, I.IDC_MAXDNA),
    maxControllerNamespaceAttachments: u32(I.IDC_MAXCNA),
    subnqn: cString(b, I.IDC_SUBNQN, I.IDC_SUBNQN_LEN),
    ioccsz: u32(I.IDC_IOCCSZ),
    iorcsz: u32(I.IDC_IORCSZ),
    icdoff: u16(I.IDC_ICDOFF),
    fcatt: u8(I.IDC_FCATT),
    msdbd: u8(I.IDC_MSDBD),
    ofcs: u16(I.IDC_OFCS),
    powerStates,
  };
}

/** One LBA Format descriptor of Identify Namespace. */
export interface LbaFormat {
  /** LBA Data Size (LBADS as 2^LBADS), bytes; 0 = format not available. */
  dataSize: number;
  /** LBA Data Size as its log2 (LBADS), the raw field. */
  lbads: number;
  /** Metadata Size (MS), bytes per logical block. */
  metadataSize: number;
  /** Relative Performance (RP): 0 best, 1 better, 2 good, 3 degraded. */
  relativePerformance: number;
}

/** Identify Namespace data (CNS 00h, NVM Command Set, NVMe 2.0 / NVM Command Set 1.0 Figure 97). */
export interface NamespaceData {
  /** Namespace Size (NSZE), in logical blocks. */
  size: bigint;
  /** Namespace Capacity (NCAP), in logical blocks. */
  capacity: bigint;
  /** Namespace Utilization (NUSE), in logical blocks. */
  utilization: bigint;
  /** Namespace Features (NSFEAT), bit field (NSFEAT_* in assembly/nvme/identify.ts). */
  features: number;
  /** Number of LBA Formats (NLBAF), 0's based, as reported. */
  nlbaf: number;
  /** The LBA formats 0 to NLBAF. */
  lbaFormats: LbaFormat[];
  /** Formatted LBA Size (FLBAS), the raw byte: format index 3:0 (and 6:5), metadata at the end of the LBA in bit 4. */
  flbas: number;
  /** Index of the LBA format in use (FLBAS 3:0). */
  formattedLbaIndex: number;
  /** FLBAS bit 4: metadata is transferred at the end of each block's data (extended LBA), not in a separate buffer. */
  extendedLba: boolean;
  /** Metadata Capabilities (MC), bit field. */
  metadataCapabilities: number;
  /** End-to-end Data Protection Capabilities (DPC), bit field. */
  dataProtectionCapabilities: number;
  /** End-to-end Data Protection Type Settings (DPS): type in 2:0, first 8 bytes in bit 3. */
  dataProtectionSettings: number;
  /** Namespace Multi-path I/O and Namespace Sharing Capabilities (NMIC): bit 0 shared. */
  nmic: number;
  /** Reservation Capabilities (RESCAP), bit field. */
  reservationCapabilities: number;
  /** Format Progress Indicator (FPI): bit 7 supported, 6:0 percent remaining. */
  formatProgressIndicator: number;
  /** Deallocate Logical Block Features (DLFEAT), bit field. */
  deallocateFeatures: number;
  /** Namespace Atomic Write Unit Normal (NAWUN), logical blocks, 0's based. */
  nawun: number;
  /** Namespace Atomic Write Unit Power Fail (NAWUPF), logical blocks, 0's based. */
  nawupf: number;
  /** Namespace Atomic Compare & Write Unit (NACWU), logical blocks, 0's based. */
  nacwu: number;
  /** Namespace Atomic Boundary Size Normal (NABSN), logical blocks, 0's based. */
  nabsn: number;
  /** Namespace Atomic Boundary Offset (NABO), logical blocks. */
  nabo: number;
  /** Namespace Atomic Boundary Size Power Fail (NABSPF), logical blocks, 0's based. */
  nabspf: number;
  /** Namespace Optimal I/O Boundary (NOIOB), logical blocks; 0 = not reported. */
  optimalIoBoundary: number;
  /** NVM Capacity (NVMCAP), bytes. */
  nvmCapacity: bigint;
  /** Namespace Preferred Write Granularity (NPWG), logical blocks, 0's based (valid when NSFEAT bit 4). */
  npwg: number;
  /** Namespace Preferred Write Alignment (NPWA), logical blocks, 0's based. */
  npwa: number;
  /** Namespace Preferred Deallocate Granularity (NPDG), logical blocks, 0's based. */
  npdg: number;
  /** Namespace Preferred Deallocate Alignment (NPDA), logical blocks, 0's based. */
  npda: number;
  /** Namespace Optimal Write Size (NOWS), logical blocks, 0's based. */
  nows: number;
  /** Maximum Single Source Range Length (MSSRL) of Copy, logical blocks. */
  mssrl: number;
  /** Maximum Copy Length (MCL), logical blocks. */
  mcl: number;
  /** Maximum Source Range Count (MSRC) of Copy, 0's based. */
  msrc: number;
  /** Number of Unique Capability LBA Formats (NULBAF). */
  nulbaf: number;
  /** ANA Group Identifier (ANAGRPID). */
  anaGroupId: number;
  /** Namespace Attributes (NSATTR): bit 0 write protected. */
  nsattr: number;
  /** NVM Set Identifier (NVMSETID). */
  nvmSetId: number;
  /** Endurance Group Identifier (ENDGID). */
  enduranceGroupId: number;
  /** Namespace Globally Unique Identifier (NGUID), 32 hex digits. */
  nguid: string;
  /** IEEE Extended Unique Identifier (EUI64), 16 hex digits. */
  eui64: string;
}

export function parseNamespaceData(b: Uint8Array): NamespaceData {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (off: number) => dv.getUint16(off, true);
  const nlbaf = b[I.IDNS_NLBAF]!;
  const lbaFormats: LbaFormat[] = [];
  for (let i = 0; i < Math.min(nlbaf + 1, I.IDNS_LBAF_COUNT); i++) {
    const f = dv.getUint32(I.IDNS_LBAF0 + i * I.IDNS_LBAF_SIZE, true);
    const lbads = (f >>> I.LBAF_LBADS_SHIFT) & I.LBAF_LBADS_MASK;
    lbaFormats.push({
      dataSize: lbads ? 2 ** lbads : 0,
      lbads,
      metadataSize: (f >>> I.LBAF_MS_SHIFT) & I.LBAF_MS_MASK,
      relativePerformance: (f >>> I.LBAF_RP_SHIFT) & I.LBAF_RP_MASK,
    });
  }
  const hex = (off: number, len: number) => Buffer.from(b.buffer, b.byteOffset + off, len).toString('hex');
  return {
    size: dv.getBigUint64(I.IDNS_NSZE, true),
    capacity: dv.getBigUint64(I.IDNS_NCAP, true),
    utilization: dv.getBigUint64(I.IDNS_NUSE, true),
    features: b[I.IDNS_NSFEAT]!,
    nlbaf,
    lbaFormats,
    flbas: b[I.IDNS_FLBAS]!,
    formattedLbaIndex: b[I.IDNS_FLBAS]! & I.IDNS_FLBAS_INDEX_MASK,
    extendedLba: (b[I.IDNS_FLBAS]! & I.IDNS_FLBAS_EXTENDED) !== 0,
    metadataCapabilities: b[I.IDNS_MC]!,
    dataProtectionCapabilities: b[I.IDNS_DPC]!,
    dataProtectionSettings: b[I.IDNS_DPS]!,
    nmic: b[I.IDNS_NMIC]!,
    reservationCapabilities: b[I.IDNS_RESCAP]!,
    formatProgressIndicator: b[I.IDNS_FPI]!,
    deallocateFeatures: b[I.IDNS_DLFEAT]!,
    nawun: u16(I.IDNS_NAWUN),
    nawupf: u16(I.IDNS_NAWUPF),
    nacwu: u16(I.IDNS_NACWU),
    nabsn: u16(I.IDNS_NABSN),
    nabo: u16(I.IDNS_NABO),
    nabspf: u16(I.IDNS_NABSPF),
    optimalIoBoundary: u16(I.IDNS_NOIOB),
    nvmCapacity: u128(dv, I.IDNS_NVMCAP),
    npwg: u16(I.IDNS_NPWG),
    npwa: u16(I.IDNS_NPWA),
    npdg: u16(I.IDNS_NPDG),
    npda: u16(I.IDNS_NPDA),
    nows: u16(I.IDNS_NOWS),
    mssrl: u16(I.IDNS_MSSRL),
    mcl: dv.getUint32(I.IDNS_MCL, true),
    msrc: b[I.IDNS_MSRC]!,
    nulbaf: b[I.IDNS_NULBAF]!,
    anaGroupId: dv.getUint32(I.IDNS_ANAGRPID, true),
    nsattr: b[I.IDNS_NSATTR]!,
    nvmSetId: u16(I.IDNS_NVMSETID),
    enduranceGroupId: u16(I.IDNS_ENDGID),
    nguid: hex(I.IDNS_NGUID, 16),
    eui64: hex(I.IDNS_EUI64, 8),
  };
}

/** One descriptor of the Namespace Identification Descriptor list (Identify CNS 03h). */
export interface NamespaceIdDescriptor {
  /** Namespace Identifier Type (NIDT): 1 EUI-64, 2 NGUID, 3 UUID, 4 Command Set Identifier. */
  type: number;
  /** The identifier, hex digits (for type 4, the CSI byte as 2 digits). */
  value: string;
}

/** The descriptors of a Namespace Identification Descriptor list, up to the first of length 0. */
export function parseNamespaceDescriptors(b: Uint8Array): NamespaceIdDescriptor[] {
  const out: NamespaceIdDescriptor[] = [];
  for (let off = 0; off + I.NID_HEADER_SIZE <= b.length;) {
    const type = b[off]!;
    const len = b[off + 1]!;
    if (type === 0 || len === 0 || off + I.NID_HEADER_SIZE + len > b.length) break;
    out.push({ type, value: Buffer.from(b.buffer, b.byteOffset + off + I.NID_HEADER_SIZE, len).toString('hex') });
    off += I.NID_HEADER_SIZE + len;
  }
  return out;
}

/** The Command Set Identifier a descriptor list reports (CSI_NVM, CSI_ZONED ...), undefined if it has none. */
export function commandSetOf(descriptors: NamespaceIdDescriptor[]): number | undefined {
  const d = descriptors.find((x) => x.type === I.NIDT_CSI);
  return d ? Number.parseInt(d.value.slice(0, 2), 16) : undefined;
}

/** A Command Set Identifier's name (NVMe 2.0 Figure 286). */
export function commandSetName(csi: number): string {
  return csi === I.CSI_NVM ? 'NVM' : csi === I.CSI_KV ? 'Key Value' : csi === I.CSI_ZONED ? 'Zoned Namespace' : `Reserved (0x${csi.toString(16)})`;
}

export function parseNamespaceList(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ids: number[] = [];
  for (let i = 0; i < I.NSLIST_MAX; i++) {
    const id = dv.getUint32(i * 4, true);
    if (id === 0) break;
    ids.push(id);
  }
  return ids;
}

export * from './log-pages.js';
