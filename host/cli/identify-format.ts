// Text forms of Identify data and logs, laid out like SPDK's identify
// example (controller and namespace sections, "Supported / Not Supported")
// and nvme-cli (smart-log, error-log, get-feature, list).
import * as I from '../../assembly/nvme/identify.js';
import { PAGE_SIZE } from '../../assembly/nvme/regs.js';
import { commandSetName, type ControllerData, type NamespaceData, type SmartLog, type ErrorLogEntry } from '../identify.js';
import { statusName } from '../errors.js';
import { FeatureId } from '../../assembly/nvme/cmd.js';

const sup = (on: boolean | number): string => (on ? 'Supported' : 'Not Supported');
const yn = (on: boolean | number): string => (on ? 'Yes' : 'No');
const row = (k: string, v: string | number | bigint, w = 40): string => `${`${k}:`.padEnd(w)}${v}`;
const sep = (title: string): string[] => [title, '='.repeat(title.length)];

/** 1234567 -> '1.18 MiB' style, binary units as SPDK prints them. */
export function humanBytes(b: number | bigint): string {
  let v = Number(b);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 2)} ${units[u]}`;
}

export interface ControllerView {
  transport: string;
  version: string;
  maxTransfer: number;
  maxQueuePairs: number;
  maxQueueEntries: number;
  doorbellStride: number;
  data: ControllerData;
}

export function formatController(c: ControllerView): string {
  const d = c.data;
  const sgl = d.sgls & 0x3;
  const lines = [
    '=====================================================',
    `NVMe Controller at ${c.transport} [${d.vendorId.toString(16).padStart(4, '0')}:${d.subsystemVendorId.toString(16).padStart(4, '0')}]`,
    '=====================================================',
    ...sep('Controller Capabilities/Features'),
    row('Vendor ID', d.vendorId.toString(16).padStart(4, '0')),
    row('Subsystem Vendor ID', d.subsystemVendorId.toString(16).padStart(4, '0')),
    row('Serial Number', d.serialNumber),
    row('Model Number', d.modelNumber),
    row('Firmware Version', d.firmwareRevision),
    row('Recommended Arb Burst', d.recommendedArbitrationBurst),
    row('IEEE OUI Identifier', [0, 8, 16].map((s) => ((d.ieeeOui >>> s) & 0xff).toString(16).padStart(2, '0')).join(' ')),
    'Multi-path I/O',
    row('  May have multiple subsystem ports', yn(d.cmic & 1)),
    row('  May have multiple controllers', yn(d.cmic & 2)),
    row('  Associated with SR-IOV VF', yn(d.cmic & 4)),
    row('Max Data Transfer Size', d.mdts === 0 ? 'Unlimited' : `${2 ** d.mdts * PAGE_SIZE} (MDTS ${d.mdts})`),
    row('Max Transfer Used by the Driver', c.maxTransfer),
    row('Controller ID', `0x${d.controllerId.toString(16).padStart(4, '0')}`),
    row('NVMe Specification Version (VS)', c.version),
    row('NVMe Specification Version (Identify)', d.version),
    row('Maximum Queue Entries (CAP.MQES + 1)', c.maxQueueEntries),
    row('Doorbell Stride (CAP.DSTRD)', `${4 << c.doorbellStride} bytes`),
    row('I/O Queue Pairs Granted', c.maxQueuePairs),
    row('Volatile Write Cache', d.volatileWriteCache ? 'Present' : 'Not Present'),
    row('Total NVM Capacity', `${d.totalCapacity} bytes`),
    row('Unallocated NVM Capacity', `${d.unallocatedCapacity} bytes`),
    row('Warning Temperature Threshold', d.warningTemperatureK ? `${d.warningTemperatureK} Kelvin (${d.warningTemperatureK - 273} Celsius)` : 'Not Reported'),
    row('Critical Temperature Threshold', d.criticalTemperatureK ? `${d.criticalTemperatureK} Kelvin (${d.criticalTemperatureK - 273} Celsius)` : 'Not Reported'),
    row('SGL Support', sgl === 0 ? 'Not Supported' : sgl === 1 ? 'Supported (no alignment requirement)' : sgl === 2 ? 'Supported (dword alignment)' : 'Reserved value'),
    row('Subsystem NQN', d.subnqn || '(none)'),
    '',
    ...sep('Admin Command Set Attributes'),
    row('Security Send/Receive', sup(d.oacs & I.OACS_SECURITY)),
    row('Format NVM', sup(d.oacs & I.OACS_FORMAT)),
    row('Firmware Activate/Download', sup(d.oacs & I.OACS_FIRMWARE)),
    row('Namespace Management', sup(d.oacs & I.OACS_NS_MGMT)),
    row('Device Self-Test', sup(d.oacs & I.OACS_SELF_TEST)),
    row('Directives', sup(d.oacs & I.OACS_DIRECTIVES)),
    row('NVMe-MI', sup(d.oacs & I.OACS_NVME_MI)),
    row('Virtualization Management', sup(d.oacs & I.OACS_VIRT_MGMT)),
    row('Doorbell Buffer Config', sup(d.oacs & I.OACS_DBBUF_CONFIG)),
    row('Get LBA Status', sup(d.oacs & I.OACS_GET_LBA_STATUS)),
    row('Abort Command Limit', d.abortCommandLimit),
    row('Async Event Request Limit', d.asyncEventRequestLimit),
    row('Number of Firmware Slots', (d.firmwareUpdates >>> I.FRMW_NSLOTS_SHIFT) & 0x7),
    row('Firmware Slot 1 Read-Only', yn(d.firmwareUpdates & I.FRMW_SLOT1_RO)),
    row('Per-Namespace SMART Log', yn(d.logPageAttributes & I.LPA_SMART_PER_NS)),
    row('Error Log Page Entries', d.errorLogPageEntries),
    row('Number of Power States', d.numberOfPowerStates),
    '',
    ...sep('NVM Command Set Attributes'),
    'Submission Queue Entry Size',
    row('  Max', 2 ** (d.sqes >>> 4)),
    row('  Min', 2 ** (d.sqes & 0xf)),
    'Completion Queue Entry Size',
    row('  Max', 2 ** (d.cqes >>> 4)),
    row('  Min', 2 ** (d.cqes & 0xf)),
    row('Number of Namespaces', d.numberOfNamespaces),
    row('Compare Command', sup(d.oncs & I.ONCS_COMPARE)),
    row('Write Uncorrectable Command', sup(d.oncs & I.ONCS_WRITE_UNCORRECTABLE)),
    row('Dataset Management Command', sup(d.oncs & I.ONCS_DSM)),
    row('Write Zeroes Command', sup(d.oncs & I.ONCS_WRITE_ZEROES)),
    row('Set Features Save Field', sup(d.oncs & I.ONCS_SAVE_FEATURES)),
    row('Reservations', sup(d.oncs & I.ONCS_RESERVATIONS)),
    row('Timestamp', sup(d.oncs & I.ONCS_TIMESTAMP)),
    row('Verify', sup(d.oncs & I.ONCS_VERIFY)),
    row('Atomic Write Unit (Normal)', d.awun + 1),
    row('Atomic Write Unit (PFail)', d.awupf + 1),
  ];
  return lines.join('\n');
}

/**
 * A namespace as SPDK's identify shows it. `csi`: its Command Set Identifier
 * from the Namespace Identification Descriptor list (CNS 03h), undefined
 * when the controller reports none (before NVMe 2.0: the NVM command set).
 */
export function formatNamespace(nsid: number, n: NamespaceData, csi?: number): string {
  const fmt = n.lbaFormats[n.formattedLbaIndex];
  const bs = fmt?.dataSize ?? 0;
  const blocks = (x: bigint) => `${x} (${humanBytes(x * BigInt(bs))})`;
  const lines = [
    row('Namespace ID', nsid),
    row('Command Set Identifier', csi === undefined ? 'Not Reported (NVM)' : `${commandSetName(csi)} (${csi.toString(16).padStart(2, '0')}h)`),
    row('Zoned Namespace', yn(csi === I.CSI_ZONED)),
    row('Deallocate', sup(n.deallocateFeatures & 0x7)),
    row('Deallocated/Unwritten Error', sup(n.features & I.NSFEAT_DAE)),
    row('Thin Provisioning', sup(n.features & I.NSFEAT_THINP)),
    row('Multi-path I/O and Sharing', n.nmic & 1 ? 'May be shared' : 'Private'),
    row('Size (in LBAs)', blocks(n.size)),
    row('Capacity (in LBAs)', blocks(n.capacity)),
    row('Utilization (in LBAs)', blocks(n.utilization)),
    row('NGUID', n.nguid),
    row('EUI64', n.eui64),
    row('Data Protection', n.dataProtectionCapabilities ? `capabilities 0x${n.dataProtectionCapabilities.toString(16)}, settings 0x${n.dataProtectionSettings.toString(16)}` : 'Not Supported'),
    row('Number of LBA Formats', n.lbaFormats.length),
    row('Current LBA Format', `LBA Format #${String(n.formattedLbaIndex).padStart(2, '0')}`),
    ...n.lbaFormats.map((f, i) =>
      `LBA Format #${String(i).padStart(2, '0')}: Data Size: ${String(f.dataSize).padStart(5)}  Metadata Size: ${String(f.metadataSize).padStart(5)}  Relative Performance: ${f.relativePerformance}${i === n.formattedLbaIndex ? '  (in use)' : ''}`),
  ];
  return lines.join('\n');
}

const kv = (k: string, v: string | number | bigint): string => `${k.padEnd(40)}: ${v}`;
const grouped = (v: bigint): string => v.toLocaleString('en-US');

export function formatSmartLog(transport: string, nsid: number, s: SmartLog): string {
  // Data units are thousands of 512-byte units (5.14.1.2).
  const du = (v: bigint) => `${grouped(v)} (${humanBytes(v * 512000n)})`;
  return [
    `Smart Log for NVMe device:${transport} namespace-id:${nsid.toString(16)}`,
    kv('critical_warning', `0x${s.criticalWarning.toString(16)}`),
    kv('temperature', `${s.temperatureK - 273} C (${s.temperatureK} Kelvin)`),
    kv('available_spare', `${s.availableSpare}%`),
    kv('available_spare_threshold', `${s.availableSpareThreshold}%`),
    kv('percentage_used', `${s.percentageUsed}%`),
    kv('data_units_read', du(s.dataUnitsRead)),
    kv('data_units_written', du(s.dataUnitsWritten)),
    kv('host_read_commands', grouped(s.hostReadCommands)),
    kv('host_write_commands', grouped(s.hostWriteCommands)),
    kv('controller_busy_time', grouped(s.controllerBusyTimeMin)),
    kv('power_cycles', grouped(s.powerCycles)),
    kv('power_on_hours', grouped(s.powerOnHours)),
    kv('unsafe_shutdowns', grouped(s.unsafeShutdowns)),
    kv('media_errors', grouped(s.mediaErrors)),
    kv('num_err_log_entries', grouped(s.errorLogEntries)),
  ].join('\n');
}

export function describeStatus(sf: number): string {
  const sct = (sf >>> 8) & 0x7;
  const sc = sf & 0xff;
  return sf === 0 ? '0x0 (Successful Completion)' : `0x${sf.toString(16)} (${statusName(sct, sc)}: sct ${sct}, sc 0x${sc.toString(16)})`;
}

export function formatErrorLog(transport: string, requested: number, entries: ErrorLogEntry[]): string {
  const lines = [`Error Log Entries for device:${transport} entries:${requested} (${entries.length} in use)`];
  entries.forEach((e, i) => {
    lines.push('.................', ` Entry[${String(i).padStart(2)}]`, '.................');
    lines.push(kv('error_count', e.errorCount), kv('sqid', e.sqid), kv('cmdid', `0x${e.cid.toString(16)}`), kv('status_field', describeStatus(e.statusField)),
      kv('parm_err_loc', `0x${e.parameterErrorLocation.toString(16)}`), kv('lba', `0x${e.lba.toString(16)}`), kv('nsid', `0x${e.nsid.toString(16)}`),
      kv('cs', `0x${e.commandSpecificInfo.toString(16)}`));
  });
  if (entries.length === 0) lines.push('(no error log entries)');
  return lines.join('\n');
}

export const FEATURE_NAMES: Record<number, string> = {
  [FeatureId.Arbitration]: 'Arbitration',
  [FeatureId.PowerManagement]: 'Power Management',
  [FeatureId.TemperatureThreshold]: 'Temperature Threshold',
  [FeatureId.ErrorRecovery]: 'Error Recovery',
  [FeatureId.VolatileWriteCache]: 'Volatile Write Cache',
  [FeatureId.NumberOfQueues]: 'Number of Queues',
  [FeatureId.InterruptCoalescing]: 'Interrupt Coalescing',
  [FeatureId.InterruptVectorConfig]: 'Interrupt Vector Configuration',
  [FeatureId.WriteAtomicityNormal]: 'Write Atomicity Normal',
  [FeatureId.AsyncEventConfig]: 'Async Event Configuration', // nvme-cli's name
};

/** nvme-cli's -H: the fields of a feature's value, for the features we know. */
export function decodeFeature(fid: number, v: number): string[] {
  switch (fid) {
    case FeatureId.Arbitration:
      return [`Arbitration Burst (AB): ${(v & 7) === 7 ? 'No limit' : 2 ** (v & 7)}`, `Low Priority Weight (LPW): ${((v >>> 8) & 0xff) + 1}`, `Medium Priority Weight (MPW): ${((v >>> 16) & 0xff) + 1}`, `High Priority Weight (HPW): ${((v >>> 24) & 0xff) + 1}`];
    case FeatureId.PowerManagement:
      return [`Workload Hint (WH): ${(v >>> 5) & 7}`, `Power State (PS): ${v & 0x1f}`];
    case FeatureId.TemperatureThreshold:
      return [`Threshold Type Select (THSEL): ${(v >>> 20) & 3}`, `Threshold Temperature Select (TMPSEL): ${(v >>> 16) & 0xf}`, `Temperature Threshold (TMPTH): ${(v & 0xffff) - 273} C (${v & 0xffff} Kelvin)`];
    case FeatureId.ErrorRecovery:
      return [`Deallocated or Unwritten Logical Block Error Enable (DULBE): ${(v >>> 16) & 1 ? 'Enabled' : 'Disabled'}`, `Time Limited Error Recovery (TLER): ${(v & 0xffff) * 100} ms`];
    case FeatureId.VolatileWriteCache:
      return [`Volatile Write Cache Enable (WCE): ${v & 1 ? 'Enabled' : 'Disabled'}`];
    case FeatureId.NumberOfQueues:
      return [`Number of IO Completion Queues Allocated (NCQA): ${((v >>> 16) & 0xffff) + 1}`, `Number of IO Submission Queues Allocated (NSQA): ${(v & 0xffff) + 1}`];
    case FeatureId.InterruptCoalescing:
      return [`Aggregation Time (TIME): ${((v >>> 8) & 0xff) * 100} usec`, `Aggregation Threshold (THR): ${(v & 0xff) + 1}`];
    case FeatureId.InterruptVectorConfig:
      return [`Coalescing Disable (CD): ${(v >>> 16) & 1 ? 'True' : 'False'}`, `Interrupt Vector (IV): ${v & 0xffff}`];
    case FeatureId.WriteAtomicityNormal:
      return [`Disable Normal (DN): ${v & 1 ? 'True' : 'False'}`];
    case FeatureId.AsyncEventConfig:
      return [`SMART / Health Critical Warnings: 0x${(v & 0xff).toString(16)}`, `Namespace Attribute Notices: ${(v >>> 8) & 1 ? 'Send' : 'Do not send'}`, `Firmware Activation Notices: ${(v >>> 9) & 1 ? 'Send' : 'Do not send'}`];
    default:
      return [];
  }
}
