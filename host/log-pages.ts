// Log pages (Get Log Page, NVMe 2.0 5.16): SMART / Health Information,
// Error Information, Firmware Slot Information, decoded into plain objects.
import * as I from '../assembly/nvme/identify.js';
import { ascii, u128 } from './field-read.js';

/** SMART / Health Information log page (Log Identifier 02h, NVMe 2.0 Figure 207). */
export interface SmartLog {
  /** Critical Warning, bit field: 0 spare below threshold, 1 temperature, 2 reliability degraded, 3 read only, 4 volatile memory backup failed, 5 PMR read only. */
  criticalWarning: number;
  /** Composite Temperature, Kelvin. */
  temperatureK: number;
  /** Available Spare, percent of the spare capacity remaining. */
  availableSpare: number;
  /** Available Spare Threshold, percent. */
  availableSpareThreshold: number;
  /** Percentage Used: vendor estimate of the life used, percent (may exceed 100). */
  percentageUsed: number;
  /** Endurance Group Critical Warning Summary, bit field. */
  enduranceGroupCriticalWarning: number;
  /** Data Units Read: units of 1000 x 512 bytes, rounded up. */
  dataUnitsRead: bigint;
  /** Data Units Written: units of 1000 x 512 bytes, rounded up. */
  dataUnitsWritten: bigint;
  /** Host Read Commands completed. */
  hostReadCommands: bigint;
  /** Host Write Commands completed. */
  hostWriteCommands: bigint;
  /** Controller Busy Time, minutes. */
  controllerBusyTimeMin: bigint;
  /** Power Cycles. */
  powerCycles: bigint;
  /** Power On Hours, hours. */
  powerOnHours: bigint;
  /** Unsafe Shutdowns. */
  unsafeShutdowns: bigint;
  /** Media and Data Integrity Errors. */
  mediaErrors: bigint;
  /** Number of Error Information Log Entries over the controller's life. */
  errorLogEntries: bigint;
  /** Warning Composite Temperature Time, minutes at or above WCTEMP. */
  warningTempTimeMin: number;
  /** Critical Composite Temperature Time, minutes at or above CCTEMP. */
  criticalCompTimeMin: number;
  /** Temperature Sensors 1 to 8, Kelvin; 0 = sensor not implemented. */
  temperatureSensorsK: number[];
  /** Thermal Management Temperature 1 Transition Count. */
  thermalMgmtTemp1TransitionCount: number;
  /** Thermal Management Temperature 2 Transition Count. */
  thermalMgmtTemp2TransitionCount: number;
  /** Total Time For Thermal Management Temperature 1, seconds. */
  thermalMgmtTemp1TotalTimeS: number;
  /** Total Time For Thermal Management Temperature 2, seconds. */
  thermalMgmtTemp2TotalTimeS: number;
}

export function parseSmartLog(b: Uint8Array): SmartLog {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const sensors: number[] = [];
  for (let i = 0; i < I.SMART_TEMP_SENSORS; i++) sensors.push(dv.getUint16(I.SMART_TEMP_SENSOR1 + 2 * i, true));
  return {
    criticalWarning: b[I.SMART_CRIT_WARNING]!,
    temperatureK: dv.getUint16(I.SMART_TEMPERATURE, true),
    availableSpare: b[I.SMART_AVAIL_SPARE]!,
    availableSpareThreshold: b[I.SMART_SPARE_THRESH]!,
    percentageUsed: b[I.SMART_PERCENT_USED]!,
    enduranceGroupCriticalWarning: b[I.SMART_ENDU_GRP_CRIT_WARN]!,
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
    warningTempTimeMin: dv.getUint32(I.SMART_WARNING_TEMP_TIME, true),
    criticalCompTimeMin: dv.getUint32(I.SMART_CRITICAL_COMP_TIME, true),
    temperatureSensorsK: sensors,
    thermalMgmtTemp1TransitionCount: dv.getUint32(I.SMART_THM_TEMP1_TRANS_COUNT, true),
    thermalMgmtTemp2TransitionCount: dv.getUint32(I.SMART_THM_TEMP2_TRANS_COUNT, true),
    thermalMgmtTemp1TotalTimeS: dv.getUint32(I.SMART_THM_TEMP1_TOTAL_TIME, true),
    thermalMgmtTemp2TotalTimeS: dv.getUint32(I.SMART_THM_TEMP2_TOTAL_TIME, true),
  };
}

/** One Error Information log entry (Log Identifier 01h, NVMe 2.0 Figure 205). */
export interface ErrorLogEntry {
  /** Error Count: the entry's unique, increasing number; 0 = entry unused. */
  errorCount: bigint;
  /** Submission Queue ID of the failed command (0xffff = not reported). */
  sqid: number;
  /** Command ID of the failed command (0xffff = not reported). */
  cid: number;
  /** Status field (phase bit dropped): sct in 10:8, sc in 7:0 as in cmd.ts SF_*. */
  statusField: number;
  /** Phase Tag of the completion (bit 0 of the status halfword). */
  phaseTag: number;
  /** Parameter Error Location: byte in 7:0 and bit in 10:8 of the command (0xffff = not reported). */
  parameterErrorLocation: number;
  /** First LBA that had the error. */
  lba: bigint;
  /** Namespace of the error (0xffffffff = not namespace specific, 0 = not reported). */
  nsid: number;
  /** Vendor Specific Information Available: log page with more information, 0 = none. */
  vendorSpecific: number;
  /** Transport Type (TRTYPE) of a transport error, 0 = not transport related. */
  transportType: number;
  /** Command Specific Information. */
  commandSpecificInfo: bigint;
  /** Transport Type Specific Information. */
  transportTypeSpecificInfo: number;
}

/** The entry at byte `off` of an Error Information log page. */
export function parseErrorLogEntry(b: Uint8Array, off: number): ErrorLogEntry {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const status = dv.getUint16(off + I.ERRLOG_STATUS, true);
  return {
    errorCount: dv.getBigUint64(off + I.ERRLOG_COUNT, true),
    sqid: dv.getUint16(off + I.ERRLOG_SQID, true),
    cid: dv.getUint16(off + I.ERRLOG_CID, true),
    statusField: status >>> I.ERRLOG_STATUS_SF_SHIFT,
    phaseTag: status & 1,
    parameterErrorLocation: dv.getUint16(off + I.ERRLOG_PARAM_LOC, true),
    lba: dv.getBigUint64(off + I.ERRLOG_LBA, true),
    nsid: dv.getUint32(off + I.ERRLOG_NSID, true),
    vendorSpecific: b[off + I.ERRLOG_VSIA]!,
    transportType: b[off + I.ERRLOG_TRTYPE]!,
    commandSpecificInfo: dv.getBigUint64(off + I.ERRLOG_CSI, true),
    transportTypeSpecificInfo: dv.getUint16(off + I.ERRLOG_TTSI, true),
  };
}

/** The entries in use (Error Count not 0) of an Error Information log page. */
export function parseErrorLog(b: Uint8Array): ErrorLogEntry[] {
  const out: ErrorLogEntry[] = [];
  for (let off = 0; off + I.ERRLOG_ENTRY_SIZE <= b.length; off += I.ERRLOG_ENTRY_SIZE) {
    const e = parseErrorLogEntry(b, off);
    if (e.errorCount !== 0n) out.push(e);
  }
  return out;
}

/** Firmware Slot Information log page (Log Identifier 03h). */
export interface FirmwareSlotLog {
  /** Active Firmware Info: the slot running now (1 to 7). */
  activeSlot: number;
  /** The slot activated at the next reset, 0 = none set. */
  nextSlot: number;
  /** Firmware Revision of slots 1 to 7, '' for an empty slot. */
  revisions: string[];
}

export function parseFirmwareSlotLog(b: Uint8Array): FirmwareSlotLog {
  const afi = b[I.FWSLOT_AFI]!;
  const revisions: string[] = [];
  for (let i = 0; i < 7; i++) revisions.push(ascii(b, I.FWSLOT_FRS1 + i * I.FWSLOT_FRS_LEN, I.FWSLOT_FRS_LEN));
  return { activeSlot: afi & 0x7, nextSlot: (afi >>> 4) & 0x7, revisions };
}
