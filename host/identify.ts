// Identify data and log pages, decoded into plain objects (field names after
// the spec's, spelled out).
import * as I from '../assembly/nvme/identify.js';
import { VS_MJR_SHIFT, VS_MJR_MASK, VS_MNR_SHIFT, VS_MNR_MASK, VS_TER_SHIFT, VS_TER_MASK } from '../assembly/nvme/regs.js';

const ascii = (b: Uint8Array, off: number, len: number): string =>
  Buffer.from(b.buffer, b.byteOffset + off, len).toString('latin1').replace(/[\s\0]+$/, '');

function u128(dv: DataView, off: number): bigint {
  return dv.getBigUint64(off, true) | (dv.getBigUint64(off + 8, true) << 64n);
}

export function versionString(vs: number): string {
  const ter = (vs >>> VS_TER_SHIFT) & VS_TER_MASK;
  return `${(vs >>> VS_MJR_SHIFT) & VS_MJR_MASK}.${(vs >>> VS_MNR_SHIFT) & VS_MNR_MASK}${ter ? `.${ter}` : ''}`;
}

export interface ControllerData {
  vendorId: number;
  subsystemVendorId: number;
  serialNumber: string;
  modelNumber: string;
  firmwareRevision: string;
  recommendedArbitrationBurst: number;
  ieeeOui: number;
  cmic: number;
  /** Maximum Data Transfer Size as a power of two of the minimum page size; 0 = no limit. */
  mdts: number;
  controllerId: number;
  version: string;
  oaes: number;
  ctratt: number;
  oacs: number;
  abortCommandLimit: number;
  asyncEventRequestLimit: number;
  firmwareUpdates: number;
  logPageAttributes: number;
  errorLogPageEntries: number;
  numberOfPowerStates: number;
  warningTemperatureK: number;
  criticalTemperatureK: number;
  totalCapacity: bigint;
  unallocatedCapacity: bigint;
  sqes: number;
  cqes: number;
  maxcmd: number;
  numberOfNamespaces: number;
  oncs: number;
  fuses: number;
  fna: number;
  volatileWriteCache: boolean;
  awun: number;
  awupf: number;
  sgls: number;
  subnqn: string;
}

export function parseControllerData(b: Uint8Array): ControllerData {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    vendorId: dv.getUint16(I.IDC_VID, true),
    subsystemVendorId: dv.getUint16(I.IDC_SSVID, true),
    serialNumber: ascii(b, I.IDC_SN, I.IDC_SN_LEN),
    modelNumber: ascii(b, I.IDC_MN, I.IDC_MN_LEN),
    firmwareRevision: ascii(b, I.IDC_FR, I.IDC_FR_LEN),
    recommendedArbitrationBurst: b[I.IDC_RAB]!,
    ieeeOui: b[I.IDC_IEEE]! | (b[I.IDC_IEEE + 1]! << 8) | (b[I.IDC_IEEE + 2]! << 16),
    cmic: b[I.IDC_CMIC]!,
    mdts: b[I.IDC_MDTS]!,
    controllerId: dv.getUint16(I.IDC_CNTLID, true),
    version: versionString(dv.getUint32(I.IDC_VER, true)),
    oaes: dv.getUint32(I.IDC_OAES, true),
    ctratt: dv.getUint32(I.IDC_CTRATT, true),
    oacs: dv.getUint16(I.IDC_OACS, true),
    abortCommandLimit: b[I.IDC_ACL]! + 1,
    asyncEventRequestLimit: b[I.IDC_AERL]! + 1,
    firmwareUpdates: b[I.IDC_FRMW]!,
    logPageAttributes: b[I.IDC_LPA]!,
    errorLogPageEntries: b[I.IDC_ELPE]! + 1,
    numberOfPowerStates: b[I.IDC_NPSS]! + 1,
    warningTemperatureK: dv.getUint16(I.IDC_WCTEMP, true),
    criticalTemperatureK: dv.getUint16(I.IDC_CCTEMP, true),
    totalCapacity: u128(dv, I.IDC_TNVMCAP),
    unallocatedCapacity: u128(dv, I.IDC_UNVMCAP),
    sqes: b[I.IDC_SQES]!,
    cqes: b[I.IDC_CQES]!,
    maxcmd: dv.getUint16(I.IDC_MAXCMD, true),
    numberOfNamespaces: dv.getUint32(I.IDC_NN, true),
    oncs: dv.getUint16(I.IDC_ONCS, true),
    fuses: dv.getUint16(I.IDC_FUSES, true),
    fna: b[I.IDC_FNA]!,
    volatileWriteCache: (b[I.IDC_VWC]! & 1) === 1,
    awun: dv.getUint16(I.IDC_AWUN, true),
    awupf: dv.getUint16(I.IDC_AWUPF, true),
    sgls: dv.getUint32(I.IDC_SGLS, true),
    subnqn: ascii(b, I.IDC_SUBNQN, 256),
  };
}

export interface LbaFormat {
  /** Data size in bytes. */
  dataSize: number;
  metadataSize: number;
  relativePerformance: number;
}

export interface NamespaceData {
  /** Namespace Size, in logical blocks. */
  size: bigint;
  /** Namespace Capacity, in logical blocks. */
  capacity: bigint;
  /** Namespace Utilization, in logical blocks. */
  utilization: bigint;
  features: number;
  lbaFormats: LbaFormat[];
  /** Index of the LBA format in use. */
  formattedLbaIndex: number;
  /** FLBAS bit 4: metadata is transferred at the end of each block's data (extended LBA), not in a separate buffer. */
  extendedLba: boolean;
  metadataCapabilities: number;
  dataProtectionCapabilities: number;
  dataProtectionSettings: number;
  nmic: number;
  deallocateFeatures: number;
  nvmCapacity: bigint;
  nguid: string;
  eui64: string;
}

export function parseNamespaceData(b: Uint8Array): NamespaceData {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nlbaf = b[I.IDNS_NLBAF]! + 1;
  const lbaFormats: LbaFormat[] = [];
  for (let i = 0; i < Math.min(nlbaf, I.IDNS_LBAF_COUNT); i++) {
    const f = dv.getUint32(I.IDNS_LBAF0 + i * I.IDNS_LBAF_SIZE, true);
    const lbads = (f >>> I.LBAF_LBADS_SHIFT) & I.LBAF_LBADS_MASK;
    lbaFormats.push({
      dataSize: lbads ? 2 ** lbads : 0,
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
    lbaFormats,
    formattedLbaIndex: b[I.IDNS_FLBAS]! & I.IDNS_FLBAS_INDEX_MASK,
    extendedLba: (b[I.IDNS_FLBAS]! & I.IDNS_FLBAS_EXTENDED) !== 0,
    metadataCapabilities: b[I.IDNS_MC]!,
    dataProtectionCapabilities: b[I.IDNS_DPC]!,
    dataProtectionSettings: b[I.IDNS_DPS]!,
    nmic: b[I.IDNS_NMIC]!,
    deallocateFeatures: b[I.IDNS_DLFEAT]!,
    nvmCapacity: u128(dv, I.IDNS_NVMCAP),
    nguid: hex(I.IDNS_NGUID, 16),
    eui64: hex(I.IDNS_EUI64, 8),
  };
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

export interface SmartLog {
  criticalWarning: number;
  temperatureK: number;
  availableSpare: number;
  availableSpareThreshold: number;
  percentageUsed: number;
  dataUnitsRead: bigint;
  dataUnitsWritten: bigint;
  hostReadCommands: bigint;
  hostWriteCommands: bigint;
  controllerBusyTimeMin: bigint;
  powerCycles: bigint;
  powerOnHours: bigint;
  unsafeShutdowns: bigint;
  mediaErrors: bigint;
  errorLogEntries: bigint;
}

export function parseSmartLog(b: Uint8Array): SmartLog {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    criticalWarning: b[I.SMART_CRIT_WARNING]!,
    temperatureK: dv.getUint16(I.SMART_TEMPERATURE, true),
    availableSpare: b[I.SMART_AVAIL_SPARE]!,
    availableSpareThreshold: b[I.SMART_SPARE_THRESH]!,
    percentageUsed: b[I.SMART_PERCENT_USED]!,
    dataUnitsRead: u128(dv, I.SMART_DATA_UNITS_READ),
    dataUnitsWritten: u128(dv, I.SMART_DATA_UNITS_WRITTEN),
    hostReadCommands: u128(dv, I.SMART_HOST_READS),
    hostWriteCommands: u128(dv, I.SMART_HOST_WRITES),
    controllerBusyTimeMin: u128(dv, I.SMART_CTRL_BUSY_TIME),
    powerCycles: u128(dv, I.SMART_POWER_CYCLES),
    powerOnHours: u128(dv, I.SMART_POWER_ON_HOURS),
    unsafeShutdowns: u128(dv, I.SMART_UNSAFE_SHUTDOWNS),
    mediaErrors: u128(dv, I.SMART_MEDIA_ERRORS),
    errorLogEntries: u128(dv, I.SMART_NUM_ERR_LOG_ENTRIES),
  };
}

export interface ErrorLogEntry {
  errorCount: bigint;
  sqid: number;
  cid: number;
  /** Status field (phase bit dropped): sct in 10:8, sc in 7:0 as in cmd.ts SF_*. */
  statusField: number;
  parameterErrorLocation: number;
  lba: bigint;
  nsid: number;
  commandSpecificInfo: bigint;
}

export function parseErrorLog(b: Uint8Array): ErrorLogEntry[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: ErrorLogEntry[] = [];
  for (let off = 0; off + I.ERRLOG_ENTRY_SIZE <= b.length; off += I.ERRLOG_ENTRY_SIZE) {
    const count = dv.getBigUint64(off + I.ERRLOG_COUNT, true);
    if (count === 0n) continue; // unused entry
    out.push({
      errorCount: count,
      sqid: dv.getUint16(off + I.ERRLOG_SQID, true),
      cid: dv.getUint16(off + I.ERRLOG_CID, true),
      statusField: dv.getUint16(off + I.ERRLOG_STATUS, true) >>> 1,
      parameterErrorLocation: dv.getUint16(off + I.ERRLOG_PARAM_LOC, true),
      lba: dv.getBigUint64(off + I.ERRLOG_LBA, true),
      nsid: dv.getUint32(off + I.ERRLOG_NSID, true),
      commandSpecificInfo: dv.getBigUint64(off + I.ERRLOG_CSI, true),
    });
  }
  return out;
}

export interface FirmwareSlotLog {
  activeSlot: number;
  nextSlot: number;
  revisions: string[];
}

export function parseFirmwareSlotLog(b: Uint8Array): FirmwareSlotLog {
  const afi = b[I.FWSLOT_AFI]!;
  const revisions: string[] = [];
  for (let i = 0; i < 7; i++) revisions.push(ascii(b, I.FWSLOT_FRS1 + i * I.FWSLOT_FRS_LEN, I.FWSLOT_FRS_LEN));
  return { activeSlot: afi & 0x7, nextSlot: (afi >>> 4) & 0x7, revisions };
}
