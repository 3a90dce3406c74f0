// smart-log, error-log, list and get-feature in nvme-cli 2.3's JSON.
// smart-log: 128-bit counters as decimal strings, temperature_sensor_N only
// for the sensors a device implements, -H turns critical_warning into its
// bits. error-log: every entry read (unused ones too, as nvme-cli does).
// list: the "Devices" array of nvme-cli's non-verbose list. get-feature:
// nvme-cli 2.3 has no JSON there; ours is documented in docs/cli.md.
import type { SmartLog, ErrorLogEntry } from '../../identify.js';

/** `nvme smart-log -o json` (`human`: -H). */
export function smartLogJson(s: SmartLog, human = false): Record<string, unknown> {
  const cw = s.criticalWarning;
  const sensors: Record<string, number> = {};
  s.temperatureSensorsK.forEach((t, i) => {
    if (t !== 0) sensors[`temperature_sensor_${i + 1}`] = t;
  });
  return {
    critical_warning: human
      ? { value: cw, available_spare: cw & 1, temp_threshold: (cw >>> 1) & 1, reliability_degraded: (cw >>> 2) & 1, ro: (cw >>> 3) & 1, vmbu_failed: (cw >>> 4) & 1, pmr_ro: (cw >>> 5) & 1 }
      : cw,
    temperature: s.temperatureK,
    avail_spare: s.availableSpare,
    spare_thresh: s.availableSpareThreshold,
    percent_used: s.percentageUsed,
    endurance_grp_critical_warning_summary: s.enduranceGroupCriticalWarning,
    data_units_read: s.dataUnitsRead.toString(),
    data_units_written: s.dataUnitsWritten.toString(),
    host_read_commands: s.hostReadCommands.toString(),
    host_write_commands: s.hostWriteCommands.toString(),
    controller_busy_time: s.controllerBusyTimeMin.toString(),
    power_cycles: s.powerCycles.toString(),
    power_on_hours: s.powerOnHours.toString(),
    unsafe_shutdowns: s.unsafeShutdowns.toString(),
    media_errors: s.mediaErrors.toString(),
    num_err_log_entries: s.errorLogEntries.toString(),
    warning_temp_time: s.warningTempTimeMin,
    critical_comp_time: s.criticalCompTimeMin,
    ...sensors,
    thm_temp1_trans_count: s.thermalMgmtTemp1TransitionCount,
    thm_temp2_trans_count: s.thermalMgmtTemp2TransitionCount,
    thm_temp1_total_time: s.thermalMgmtTemp1TotalTimeS,
    thm_temp2_total_time: s.thermalMgmtTemp2TotalTimeS,
  };
}

/** `nvme error-log -o json`: every entry read, in log order. */
export function errorLogJson(entries: ErrorLogEntry[]): Record<string, unknown> {
  return {
    errors: entries.map((e) => ({
      error_count: e.errorCount,
      sqid: e.sqid,
      cmdid: e.cid,
      status_field: e.statusField,
      phase_tag: e.phaseTag,
      parm_error_location: e.parameterErrorLocation,
      lba: e.lba,
      nsid: e.nsid,
      vs: e.vendorSpecific,
      trtype: e.transportType,
      cs: e.commandSpecificInfo,
      trtype_spec_info: e.transportTypeSpecificInfo,
    })),
  };
}

export interface ListRow {
  nsid: number;
  devicePath: string;
  firmware: string;
  model: string;
  serial: string;
  /** NUSE x LBA size, bytes. */
  usedBytes: bigint;
  /** NSZE, logical blocks. */
  maximumLba: bigint;
  /** NSZE x LBA size, bytes. */
  physicalSize: bigint;
  /** LBA data size, bytes. */
  sectorSize: number;
}

/** `nvme list -o json`. */
export function listJson(rows: ListRow[]): Record<string, unknown> {
  return {
    Devices: rows.map((r) => ({
      NameSpace: r.nsid,
      DevicePath: r.devicePath,
      Firmware: r.firmware,
      ModelNumber: r.model,
      SerialNumber: r.serial,
      UsedBytes: r.usedBytes,
      MaximumLBA: r.maximumLba,
      PhysicalSize: r.physicalSize,
      SectorSize: r.sectorSize,
    })),
  };
}

/** `nvme-wasm get-feature -o json` (nvme-cli 2.3 prints no JSON for get-feature). */
export function featureJson(fid: number, name: string, sel: string, value: number, fields: string[]): Record<string, unknown> {
  return { feature_id: fid, name, sel, value: value >>> 0, ...(fields.length ? { fields } : {}) };
}
