// `nvme-wasm id-ctrl`: Identify Controller in nvme-cli 2.3's forms. JSON:
// nvme-cli's keys in its order, the raw fields (acl, aerl, elpe, npss 0's
// based; ver the 32-bit integer; vwc the whole byte; 128-bit sizes as
// decimal strings), the power state table as "psds". Normal: nvme-cli's
// "key : value" lines (%#x where nvme-cli prints hex). -H: the main bit
// fields decoded as nvme-cli decodes them.
import type { ControllerData, PowerStateDescriptor } from '../../identify.js';
import { hx, bits, bit } from './output-format.js';

/** nvme-cli's strings stop at the first NUL ("%-.*s"); padding spaces stay. */
const cstr = (s: string): string => s.split('\0')[0]!;

function psdJson(p: PowerStateDescriptor): Record<string, number> {
  return {
    max_power: p.maxPower,
    flags: p.flags,
    entry_lat: p.entryLatencyUs,
    exit_lat: p.exitLatencyUs,
    read_tput: p.relativeReadThroughput,
    read_lat: p.relativeReadLatency,
    write_tput: p.relativeWriteThroughput,
    write_lat: p.relativeWriteLatency,
    idle_power: p.idlePower,
    idle_scale: p.idlePowerScale,
    active_power: p.activePower,
    active_power_work: p.activePowerWorkload,
    active_scale: p.activePowerScale,
  };
}

/** `nvme id-ctrl -o json` (nvme-cli 2.3). */
export function idCtrlJson(d: ControllerData): Record<string, unknown> {
  const [crdt1, crdt2, crdt3] = d.commandRetryDelayTimes;
  return {
    vid: d.vendorId,
    ssvid: d.subsystemVendorId,
    sn: cstr(d.serialNumberRaw),
    mn: cstr(d.modelNumberRaw),
    fr: cstr(d.firmwareRevisionRaw),
    rab: d.recommendedArbitrationBurst,
    ieee: d.ieeeOui,
    cmic: d.cmic,
    mdts: d.mdts,
    cntlid: d.controllerId,
    ver: d.versionNumber,
    rtd3r: d.rtd3ResumeLatencyUs,
    rtd3e: d.rtd3EntryLatencyUs,
    oaes: d.oaes,
    ctratt: d.ctratt,
    rrls: d.rrls,
    cntrltype: d.controllerType,
    fguid: d.fguid,
    crdt1,
    crdt2,
    crdt3,
    nvmsr: d.nvmsr,
    vwci: d.vwci,
    mec: d.mec,
    oacs: d.oacs,
    acl: d.abortCommandLimit - 1,
    aerl: d.asyncEventRequestLimit - 1,
    frmw: d.firmwareUpdates,
    lpa: d.logPageAttributes,
    elpe: d.errorLogPageEntries - 1,
    npss: d.numberOfPowerStates - 1,
    avscc: d.avscc,
    apsta: d.apsta,
    wctemp: d.warningTemperatureK,
    cctemp: d.criticalTemperatureK,
    mtfa: d.maxFirmwareActivationTime,
    hmpre: d.hostMemoryPreferred,
    hmmin: d.hostMemoryMinimum,
    tnvmcap: d.totalCapacity.toString(),
    unvmcap: d.unallocatedCapacity.toString(),
    rpmbs: d.rpmbs,
    edstt: d.extendedSelfTestTimeMin,
    dsto: d.dsto,
    fwug: d.firmwareUpdateGranularity,
    kas: d.keepAliveSupport,
    hctma: d.hctma,
    mntmt: d.minThermalManagementTempK,
    mxtmt: d.maxThermalManagementTempK,
    sanicap: d.sanicap,
    hmminds: d.hostMemoryMinDescriptorSize,
    hmmaxd: d.hostMemoryMaxDescriptors,
    nsetidmax: d.nvmSetIdMax,
    endgidmax: d.enduranceGroupIdMax,
    anatt: d.anaTransitionTimeS,
    anacap: d.anacap,
    anagrpmax: d.anaGroupIdMax,
    nanagrpid: d.anaGroupIds,
    pels: d.persistentEventLogSize,
    domainid: d.domainId,
    megcap: d.maxEnduranceGroupCapacity.toString(),
    sqes: d.sqes,
    cqes: d.cqes,
    maxcmd: d.maxcmd,
    nn: d.numberOfNamespaces,
    oncs: d.oncs,
    fuses: d.fuses,
    fna: d.fna,
    vwc: d.vwc,
    awun: d.awun,
    awupf: d.awupf,
    icsvscc: d.icsvscc,
    nwpc: d.nwpc,
    acwu: d.acwu,
    ocfs: d.ocfs,
    sgls: d.sgls,
    mnan: d.maxAllowedNamespaces,
    maxdna: d.maxDomainNamespaceAttachments.toString(),
    maxcna: d.maxControllerNamespaceAttachments,
    ...(d.subnqn.length > 0 ? { subnqn: d.subnqn } : {}),
    ioccsz: d.ioccsz,
    iorcsz: d.iorcsz,
    icdoff: d.icdoff,
    fcatt: d.fcatt,
    msdbd: d.msdbd,
    ofcs: d.ofcs,
    psds: d.powerStates.map(psdJson),
  };
}

/** A power figure in its scale, as nvme-cli prints it ("25.00W", "-" when not reported). */
function power(v: number, scale: number): string {
  if (scale === 1) return `${Math.floor(v / 10000)}.${String(v % 10000).padStart(4, '0')}W`;
  if (scale === 2) return `${Math.floor(v / 100)}.${String(v % 100).padStart(2, '0')}W`;
  return '-';
}

function workload(apw: number): string {
  return apw === 0 ? '-' : apw === 1 ? 'No Workload' : apw === 2 ? 'Extended Idle Period with a Burst of Random Write' : 'Reserved';
}

function psdLines(i: number, p: PowerStateDescriptor): string[] {
  const indent = ' '.repeat(12);
  return [
    `ps ${String(i).padStart(6)} : mp:${power(p.maxPower, p.maxPowerScale ? 1 : 2)} ${p.nonOperational ? 'non-' : ''}operational enlat:${p.entryLatencyUs} exlat:${p.exitLatencyUs} rrt:${p.relativeReadThroughput} rrl:${p.relativeReadLatency}`,
    `${indent}rwt:${p.relativeWriteThroughput} rwl:${p.relativeWriteLatency} idle_power:${power(p.idlePower, p.idlePowerScale)} active_power:${power(p.activePower, p.activePowerScale)}`,
    `${indent}active_power_workload:${workload(p.activePowerWorkload)}`,
  ];
}

const sup = (on: number, what: string): string => `${what} ${on ? 'Supported' : 'Not Supported'}`;
const celsius = (k: number): string => `${k - 273}°C (${k} Kelvin)`;

/** -H: the decoded bit fields printed under `key`'s line (nvme-cli's wording), then a blank line. */
function decode(key: string, d: ControllerData): string[] | undefined {
  switch (key) {
    case 'cmic':
      return [bits(d.cmic, 3, 3, bit(d.cmic, 3) ? 'ANA supported' : 'ANA not supported'), bits(d.cmic, 2, 2, bit(d.cmic, 2) ? 'SR-IOV' : 'PCI'),
        bits(d.cmic, 1, 1, bit(d.cmic, 1) ? 'Multi Controller' : 'Single Controller'), bits(d.cmic, 0, 0, bit(d.cmic, 0) ? 'Multi Port' : 'Single Port')];
    case 'oaes':
      return [
        [31, 'Discovery Log Change Notice'], [27, 'Zone Descriptor Changed Notices'], [15, 'Normal NSS Shutdown Event'],
        [14, 'Endurance Group Event Aggregate Log Page Change Notice'], [13, 'LBA Status Information Notices'], [12, 'Predictable Latency Event Aggregate Log Change Notices'],
        [11, 'Asymmetric Namespace Access Change Notices'], [9, 'Firmware Activation Notices'],
      ].map(([b, t]) => bits(d.oaes, b as number, b as number, sup(bit(d.oaes, b as number), t as string)))
        .concat(bits(d.oaes, 8, 8, bit(d.oaes, 8) ? 'Namespace Attribute Changed Event Supported' : 'Namespace Attribute Changed Event Not Supported'));
    case 'oacs':
      return [
        [10, 'Lockdown Command and Feature'], [9, 'Get LBA Status Capability'], [8, 'Doorbell Buffer Config'], [7, 'Virtualization Management'],
        [6, 'NVMe-MI Send and Receive'], [5, 'Directives'], [4, 'Device Self-test'], [3, 'NS Management and Attachment'], [2, 'FW Commit and Download'],
        [1, 'Format NVM'], [0, 'Security Send and Receive'],
      ].map(([b, t]) => bits(d.oacs, b as number, b as number, sup(bit(d.oacs, b as number), t as string)));
    case 'frmw':
      return [bits(d.firmwareUpdates, 5, 5, sup(bit(d.firmwareUpdates, 5), 'Multiple FW or Boot Update Detection')),
        bits(d.firmwareUpdates, 4, 4, sup(bit(d.firmwareUpdates, 4), 'Firmware Activate Without Reset')),
        bits(d.firmwareUpdates, 3, 1, 'Number of Firmware Slots'),
        bits(d.firmwareUpdates, 0, 0, bit(d.firmwareUpdates, 0) ? 'Firmware Slot 1 Read-Only' : 'Firmware Slot 1 Read/Write')];
    case 'lpa': {
      const v = d.logPageAttributes;
      return [bits(v, 6, 6, sup(bit(v, 6), 'Telemetry Log Data Area 4')), bits(v, 5, 5, sup(bit(v, 5), 'LID 0x0, Scope of each command in LID 0x5, 0x12, 0x13')),
        bits(v, 4, 4, sup(bit(v, 4), 'Persistent Event log')), bits(v, 3, 3, sup(bit(v, 3), 'Telemetry host/controller initiated log page')),
        bits(v, 2, 2, sup(bit(v, 2), 'Extended data for Get Log Page')), bits(v, 1, 1, sup(bit(v, 1), 'Command Effects Log Page')),
        bits(v, 0, 0, sup(bit(v, 0), 'SMART/Health Log Page per NS'))];
    }
    case 'elpe':
      return [`  [7:0] : ${d.errorLogPageEntries - 1} (0's based)\tError Log Page Entries (ELPE)`];
    case 'npss':
      return [`  [7:0] : ${d.numberOfPowerStates - 1} (0's based)\tNumber of Power States Support (NPSS)`];
    case 'avscc':
      return [bits(d.avscc, 0, 0, bit(d.avscc, 0) ? 'Admin Vendor Specific Commands uses NVMe Format' : 'Admin Vendor Specific Commands uses Vendor Specific Format')];
    case 'apsta':
      return [bits(d.apsta, 0, 0, sup(bit(d.apsta, 0), 'Autonomous Power State Transitions'))];
    case 'wctemp':
      return [` [15:0] : ${celsius(d.warningTemperatureK)}\tWarning Composite Temperature Threshold (WCTEMP)`];
    case 'cctemp':
      return [` [15:0] : ${celsius(d.criticalTemperatureK)}\tCritical Composite Temperature Threshold (CCTEMP)`];
    case 'hctma':
      return [bits(d.hctma, 0, 0, sup(bit(d.hctma, 0), 'Host Controlled Thermal Management'))];
    case 'mntmt':
      return [` [15:0] : ${celsius(d.minThermalManagementTempK)}\tMinimum Thermal Management Temperature (MNTMT)`];
    case 'mxtmt':
      return [` [15:0] : ${celsius(d.maxThermalManagementTempK)}\tMaximum Thermal Management Temperature (MXTMT)`];
    case 'sqes':
      return [bits(d.sqes, 7, 4, `Max SQ Entry Size (${2 ** (d.sqes >>> 4)})`), bits(d.sqes, 3, 0, `Min SQ Entry Size (${2 ** (d.sqes & 0xf)})`)];
    case 'cqes':
      return [bits(d.cqes, 7, 4, `Max CQ Entry Size (${2 ** (d.cqes >>> 4)})`), bits(d.cqes, 3, 0, `Min CQ Entry Size (${2 ** (d.cqes & 0xf)})`)];
    case 'oncs':
      return [
        [8, 'Copy'], [7, 'Verify'], [6, 'Timestamp'], [5, 'Reservations'], [4, 'Save and Select'], [3, 'Write Zeroes'], [2, 'Data Set Management'],
        [1, 'Write Uncorrectable'], [0, 'Compare'],
      ].map(([b, t]) => bits(d.oncs, b as number, b as number, sup(bit(d.oncs, b as number), t as string)));
    case 'fuses':
      return [bits(d.fuses, 0, 0, sup(bit(d.fuses, 0), 'Fused Compare and Write'))];
    case 'fna':
      return [bits(d.fna, 3, 3, `Format NVM Broadcast NSID (FFFFFFFFh) ${bit(d.fna, 3) ? 'Not Supported' : 'Supported'}`),
        bits(d.fna, 2, 2, `Crypto Erase ${bit(d.fna, 2) ? 'Supported' : 'Not Supported'} as part of Secure Erase`),
        bits(d.fna, 1, 1, `Crypto Erase Applies to ${bit(d.fna, 1) ? 'All' : 'Single'} Namespace(s)`),
        bits(d.fna, 0, 0, `Format Applies to ${bit(d.fna, 0) ? 'All' : 'Single'} Namespace(s)`)];
    case 'vwc': {
      const flush = (d.vwc >>> 1) & 3;
      const flushText = flush === 3 ? 'The Flush command supports NSID set to FFFFFFFFh' : flush === 2 ? 'The Flush command does not support NSID set to FFFFFFFFh'
        : flush === 0 ? 'Support for the NSID field set to FFFFFFFFh is not indicated' : 'Reserved';
      return [bits(d.vwc, 2, 1, flushText), bits(d.vwc, 0, 0, `Volatile Write Cache ${d.vwc & 1 ? 'Present' : 'Not Present'}`)];
    }
    case 'icsvscc':
      return [bits(d.icsvscc, 0, 0, bit(d.icsvscc, 0) ? 'NVM Vendor Specific Commands uses NVMe Format' : 'NVM Vendor Specific Commands uses Vendor Specific Format')];
    case 'nwpc':
      return [bits(d.nwpc, 2, 2, sup(bit(d.nwpc, 2), 'Permanent Write Protect')), bits(d.nwpc, 1, 1, sup(bit(d.nwpc, 1), 'Write Protect Until Power Supply')),
        bits(d.nwpc, 0, 0, sup(bit(d.nwpc, 0), 'No Write Protect and Write Protect Namespace'))];
    case 'ocfs':
      return [bits(d.ocfs, 1, 1, sup(bit(d.ocfs, 1), 'Controller Copy Format 1h')), bits(d.ocfs, 0, 0, sup(bit(d.ocfs, 0), 'Controller Copy Format 0h'))];
    case 'sgls': {
      const v = d.sgls;
      const s = v & 3;
      const one = ' ';
      return [bits(v, 21, 21, sup(bit(v, 21), 'Transport SGL Data Block Descriptor'), one).replace(' : ', ': '),
        bits(v, 20, 20, sup(bit(v, 20), 'Address Offsets'), one).replace(' : ', ': '),
        bits(v, 19, 19, `Metadata Pointer Containing SGL Descriptor is ${bit(v, 19) ? 'Supported' : 'Not Supported'}`, one).replace(' : ', ': '),
        bits(v, 18, 18, sup(bit(v, 18), 'SGL Length Larger than Buffer'), one).replace(' : ', ': '),
        bits(v, 17, 17, sup(bit(v, 17), 'Byte-Aligned Contig. MD Buffer'), one).replace(' : ', ': '),
        bits(v, 16, 16, sup(bit(v, 16), 'SGL Bit-Bucket'), one).replace(' : ', ': '),
        bits(v, 15, 8, 'SGL Descriptor Threshold', one),
        bits(v, 2, 2, sup(bit(v, 2), 'Keyed SGL Data Block descriptor')),
        bits(v, 1, 0, s === 0 ? 'Scatter-Gather Lists Not Supported' : s === 1 ? 'Scatter-Gather Lists Supported. No Dword alignment required.'
          : s === 2 ? 'Scatter-Gather Lists Supported. Dword alignment required.' : 'Reserved')];
    }
    case 'fcatt':
      return [bits(d.fcatt, 0, 0, bit(d.fcatt, 0) ? 'Static Controller Model' : 'Dynamic Controller Model')];
    case 'ofcs':
      return [bits(d.ofcs, 0, 0, sup(bit(d.ofcs, 0), 'Disconnect command'))];
    default:
      return undefined;
  }
}

/** `nvme id-ctrl` (normal; `human`: -H). */
export function idCtrlText(d: ControllerData, human = false): string {
  const j = idCtrlJson(d);
  const ieee = [2, 1, 0].map((i) => ((d.ieeeOui >>> (8 * i)) & 0xff).toString(16).padStart(2, '0')).join('');
  // nvme-cli prints these in hex (%#x), the others in decimal.
  const hexKeys = new Set(['vid', 'ssvid', 'cmic', 'cntlid', 'ver', 'rtd3r', 'rtd3e', 'oaes', 'ctratt', 'rrls', 'oacs', 'frmw', 'lpa', 'avscc', 'apsta', 'rpmbs', 'hctma',
    'sanicap', 'sqes', 'cqes', 'oncs', 'fuses', 'fna', 'vwc', 'ocfs', 'sgls', 'fcatt']);
  const lines = ['NVME Identify Controller:'];
  for (const [k, v] of Object.entries(j)) {
    if (k === 'psds') continue;
    const shown = k === 'ieee' ? ieee : typeof v === 'number' && hexKeys.has(k) ? hx(v) : String(v);
    lines.push(`${k.padEnd(10)}: ${shown}`);
    const more = human ? decode(k, d) : undefined;
    if (more) lines.push(...more, '');
  }
  if (!j.subnqn) lines.splice(lines.findIndex((l) => l.startsWith('ioccsz')), 0, `${'subnqn'.padEnd(10)}: `);
  d.powerStates.forEach((p, i) => lines.push(...psdLines(i, p)));
  return lines.join('\n');
}
