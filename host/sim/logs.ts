// Log pages (5.14.1): Error Information (01h), SMART / Health Information
// (02h) and Firmware Slot Information (03h).
import * as I from '../../assembly/nvme/identify.js';
import { SF_SCT_SHIFT, SF_SCT_MASK } from '../../assembly/nvme/status.js';
import { Sct } from '../../assembly/nvme/status.js';
import { ERRLOG_PARAM_LOC_NONE, ERRLOG_STATUS_SF_SHIFT, SMART_CW_TEMPERATURE } from '../../assembly/nvme/identify.js';
import { SIM_ERRLOG_ENTRIES, SIM_TEMPERATURE_K, putAscii, putU64 } from './identify-data.js';
import type { NamespaceStats } from './namespace.js';

/**
 * The Error Information log: one entry per error completion the controller
 * posted, newest first, SIM_ERRLOG_ENTRIES kept (a ring).
 */
export class ErrorLog {
  /** Error count of the newest entry (64-bit in the log, never 0 for a real entry). */
  count = 0;
  /** Media and Data Integrity errors (SMART Media Errors). */
  mediaErrors = 0;
  private readonly ring = Buffer.alloc(SIM_ERRLOG_ENTRIES * I.ERRLOG_ENTRY_SIZE);

  static readonly size = SIM_ERRLOG_ENTRIES * I.ERRLOG_ENTRY_SIZE;

  record(sqid: number, cid: number, status: number, phase: number, nsid: number, lba: number): void {
    this.count++;
    if (((status >>> SF_SCT_SHIFT) & SF_SCT_MASK) === Sct.MediaError) this.mediaErrors++;
    const e = ((this.count - 1) % SIM_ERRLOG_ENTRIES) * I.ERRLOG_ENTRY_SIZE;
    this.ring.fill(0, e, e + I.ERRLOG_ENTRY_SIZE);
    putU64(this.ring, e + I.ERRLOG_COUNT, this.count);
    this.ring.writeUInt16LE(sqid, e + I.ERRLOG_SQID);
    this.ring.writeUInt16LE(cid, e + I.ERRLOG_CID);
    this.ring.writeUInt16LE(((status << ERRLOG_STATUS_SF_SHIFT) | phase) & 0xffff, e + I.ERRLOG_STATUS);
    this.ring.writeUInt16LE(ERRLOG_PARAM_LOC_NONE, e + I.ERRLOG_PARAM_LOC);
    putU64(this.ring, e + I.ERRLOG_LBA, lba);
    this.ring.writeUInt32LE(nsid, e + I.ERRLOG_NSID);
  }

  /** The log page: newest entry first, unused entries zero. */
  fill(b: Buffer): void {
    b.fill(0, 0, ErrorLog.size);
    const n = Math.min(this.count, SIM_ERRLOG_ENTRIES);
    for (let i = 0; i < n; i++) {
      const src = ((this.count - 1 - i) % SIM_ERRLOG_ENTRIES) * I.ERRLOG_ENTRY_SIZE;
      this.ring.copy(b, i * I.ERRLOG_ENTRY_SIZE, src, src + I.ERRLOG_ENTRY_SIZE);
    }
  }
}

export interface SmartInputs {
  stats: NamespaceStats;
  errors: ErrorLog;
  /** performance.now() at power on. */
  powerOnMs: number;
  nowMs: number;
  overTempK: number;
  underTempK: number;
}

const UNIT_BYTES = 512 * 1000; // data units: thousands of 512-byte units, rounded up

export function fillSmartLog(b: Buffer, s: SmartInputs): void {
  b.fill(0, 0, I.SMART_LOG_SIZE);
  const hot = SIM_TEMPERATURE_K >= s.overTempK || SIM_TEMPERATURE_K <= s.underTempK;
  b.writeUInt8(hot ? SMART_CW_TEMPERATURE : 0, I.SMART_CRIT_WARNING);
  b.writeUInt16LE(SIM_TEMPERATURE_K, I.SMART_TEMPERATURE);
  b.writeUInt8(100, I.SMART_AVAIL_SPARE);
  b.writeUInt8(10, I.SMART_SPARE_THRESH);
  b.writeUInt8(0, I.SMART_PERCENT_USED);
  putU64(b, I.SMART_DATA_UNITS_READ, Math.ceil(s.stats.bytesRead / UNIT_BYTES));
  putU64(b, I.SMART_DATA_UNITS_WRITTEN, Math.ceil(s.stats.bytesWritten / UNIT_BYTES));
  putU64(b, I.SMART_HOST_READS, s.stats.readCommands);
  putU64(b, I.SMART_HOST_WRITES, s.stats.writeCommands);
  putU64(b, I.SMART_POWER_CYCLES, 1);
  putU64(b, I.SMART_POWER_ON_HOURS, Math.floor((s.nowMs - s.powerOnMs) / 3_600_000));
  putU64(b, I.SMART_MEDIA_ERRORS, s.errors.mediaErrors);
  putU64(b, I.SMART_NUM_ERR_LOG_ENTRIES, s.errors.count);
}

export function fillFirmwareSlotLog(b: Buffer, firmware: string): void {
  b.fill(0, 0, I.FWSLOT_LOG_SIZE);
  b.writeUInt8(1, I.FWSLOT_AFI); // running from slot 1, no pending activation
  putAscii(b, I.FWSLOT_FRS1, I.FWSLOT_FRS_LEN, firmware);
}
