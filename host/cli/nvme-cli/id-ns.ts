// `nvme-wasm id-ns`: Identify Namespace in nvme-cli 2.3's forms. JSON:
// nvme-cli's keys in its order, flbas the raw byte, nvmcap a decimal string,
// npwg..nows only when NSFEAT bit 4 says they are valid, lbafs 0 to NLBAF.
// Normal: nvme-cli's "key : value" lines and "lbaf N : ..." rows; -H: the
// bit fields decoded and the LBA formats spelled out.
import type { NamespaceData } from '../../identify.js';
import { NSFEAT_OPTPERF } from '../../../assembly/nvme/identify.js';
import { hx, bits, bit } from './output-format.js';

/** The LBA format in use: FLBAS 3:0, with 6:5 as the high bits when there are more than 16 formats. */
export function formatInUse(n: NamespaceData): number {
  return (n.flbas & 0xf) | (n.nlbaf >= 16 ? ((n.flbas >>> 5) & 3) << 4 : 0);
}

/** `nvme id-ns -o json` (nvme-cli 2.3). */
export function idNsJson(n: NamespaceData): Record<string, unknown> {
  const opt = (n.features & NSFEAT_OPTPERF) !== 0;
  return {
    nsze: n.size,
    ncap: n.capacity,
    nuse: n.utilization,
    nsfeat: n.features,
    nlbaf: n.nlbaf,
    flbas: n.flbas,
    mc: n.metadataCapabilities,
    dpc: n.dataProtectionCapabilities,
    dps: n.dataProtectionSettings,
    nmic: n.nmic,
    rescap: n.reservationCapabilities,
    fpi: n.formatProgressIndicator,
    dlfeat: n.deallocateFeatures,
    nawun: n.nawun,
    nawupf: n.nawupf,
    nacwu: n.nacwu,
    nabsn: n.nabsn,
    nabo: n.nabo,
    nabspf: n.nabspf,
    noiob: n.optimalIoBoundary,
    nvmcap: n.nvmCapacity.toString(),
    nsattr: n.nsattr,
    nvmsetid: n.nvmSetId,
    ...(opt ? { npwg: n.npwg, npwa: n.npwa, npdg: n.npdg, npda: n.npda, nows: n.nows } : {}),
    mssrl: n.mssrl,
    mcl: n.mcl,
    msrc: n.msrc,
    nulbaf: n.nulbaf,
    anagrpid: n.anaGroupId,
    endgid: n.enduranceGroupId,
    eui64: n.eui64,
    nguid: n.nguid,
    lbafs: n.lbaFormats.map((f) => ({ ms: f.metadataSize, ds: f.lbads, rp: f.relativePerformance })),
  };
}

const sup = (on: number, what: string): string => `${what} ${on ? 'Supported' : 'Not Supported'}`;

function decode(key: string, n: NamespaceData): string[] | undefined {
  switch (key) {
    case 'nsfeat': {
      const v = n.features;
      return [bits(v, 4, 4, `NPWG, NPWA, NPDG, NPDA, and NOWS are ${bit(v, 4) ? 'Supported' : 'Not Supported'}`),
        bits(v, 3, 3, `NGUID and EUI64 fields if non-zero, ${bit(v, 3) ? 'Never Reused' : 'Reused'}`),
        bits(v, 2, 2, sup(bit(v, 2), 'Deallocated or Unwritten Logical Block error')),
        bits(v, 1, 1, bit(v, 1) ? 'Namespace uses NAWUN, NAWUPF, and NACWU' : 'Namespace uses AWUN, AWUPF, and ACWU'),
        bits(v, 0, 0, sup(bit(v, 0), 'Thin Provisioning'))];
    }
    case 'flbas': {
      const v = n.flbas;
      return [bits(v, 6, 5, 'Most significant 2 bits of Current LBA Format Selected'),
        bits(v, 4, 4, bit(v, 4) ? 'Metadata Transferred at End of Data LBA' : 'Metadata Transferred in Separate Contiguous Buffer'),
        bits(v, 3, 0, 'Least significant 4 bits of Current LBA Format Selected')];
    }
    case 'mc': {
      const v = n.metadataCapabilities;
      return [bits(v, 1, 1, sup(bit(v, 1), 'Metadata Pointer')), bits(v, 0, 0, sup(bit(v, 0), 'Metadata as Part of Extended Data LBA'))];
    }
    case 'dpc': {
      const v = n.dataProtectionCapabilities;
      return [bits(v, 4, 4, sup(bit(v, 4), 'Protection Information Transferred as Last 8 Bytes of Metadata')),
        bits(v, 3, 3, sup(bit(v, 3), 'Protection Information Transferred as First 8 Bytes of Metadata')),
        bits(v, 2, 2, sup(bit(v, 2), 'Protection Information Type 3')), bits(v, 1, 1, sup(bit(v, 1), 'Protection Information Type 2')),
        bits(v, 0, 0, sup(bit(v, 0), 'Protection Information Type 1'))];
    }
    case 'dps': {
      const v = n.dataProtectionSettings;
      const t = v & 7;
      return [bits(v, 3, 3, `Protection Information is Transferred as ${bit(v, 3) ? 'First' : 'Last'} 8 Bytes of Metadata`),
        bits(v, 2, 0, t === 0 ? 'Protection Information Disabled' : t <= 3 ? `Protection Information Type ${t}` : 'Reserved')];
    }
    case 'nmic':
      return [bits(n.nmic, 0, 0, `Namespace Multipath ${bit(n.nmic, 0) ? 'Capable' : 'Not Capable'}`)];
    case 'rescap': {
      const v = n.reservationCapabilities;
      return [bits(v, 7, 7, `Ignore Existing Key - Used as defined in revision ${bit(v, 7) ? '1.3 or later' : '1.2.1 or earlier'}`),
        bits(v, 6, 6, sup(bit(v, 6), 'Exclusive Access - All Registrants')), bits(v, 5, 5, sup(bit(v, 5), 'Write Exclusive - All Registrants')),
        bits(v, 4, 4, sup(bit(v, 4), 'Exclusive Access - Registrants Only')), bits(v, 3, 3, sup(bit(v, 3), 'Write Exclusive - Registrants Only')),
        bits(v, 2, 2, sup(bit(v, 2), 'Exclusive Access')), bits(v, 1, 1, sup(bit(v, 1), 'Write Exclusive')),
        bits(v, 0, 0, sup(bit(v, 0), 'Persist Through Power Loss'))];
    }
    case 'fpi': {
      const v = n.formatProgressIndicator;
      return bit(v, 7) ? [bits(v, 7, 7, 'Format Progress Indicator Supported'), bits(v, 6, 0, `Percentage of Format Remaining: ${v & 0x7f}%`)]
        : [bits(v, 7, 7, 'Format Progress Indicator Not Supported')];
    }
    case 'dlfeat': {
      const v = n.deallocateFeatures;
      const r = v & 7;
      return [bits(v, 4, 4, `Guard Field of Deallocated Logical Blocks is set to ${bit(v, 4) ? 'CRC of The Value Read' : '0xFFFF'}`),
        bits(v, 3, 3, `Deallocate Bit in the Write Zeroes Command is ${bit(v, 3) ? 'Supported' : 'Not Supported'}`),
        bits(v, 2, 0, `Bytes Read From a Deallocated Logical Block and its Metadata are ${r === 1 ? '0x00' : r === 2 ? '0xFF' : 'Not Reported'}`)];
    }
    default:
      return undefined;
  }
}

const RP = ['Best', 'Better', 'Good', 'Degraded'];

/** `nvme id-ns` (normal; `human`: -H). */
export function idNsText(nsid: number, n: NamespaceData, human = false): string {
  const j = idNsJson(n);
  const hexKeys = new Set(['nsze', 'ncap', 'nuse', 'nsfeat', 'flbas', 'mc', 'dpc', 'dps', 'nmic', 'rescap', 'fpi']);
  // nvme-cli's own order for the tail of the normal form.
  const order = Object.keys(j).filter((k) => k !== 'lbafs' && k !== 'nsattr' && k !== 'nvmsetid' && k !== 'endgid' && k !== 'eui64' && k !== 'nguid' && k !== 'anagrpid');
  order.push('anagrpid', 'nsattr', 'nvmsetid', 'endgid', 'nguid', 'eui64');
  const lines = [`NVME Identify Namespace ${nsid}:`];
  for (const k of order) {
    const v = j[k];
    const shown = (typeof v === 'number' || typeof v === 'bigint') && hexKeys.has(k) ? hx(v) : String(v);
    lines.push(k === 'nsattr' ? `nsattr\t: ${shown}` : `${k.padEnd(8)}: ${shown}`);
    const more = human ? decode(k, n) : undefined;
    if (more) lines.push(...more, '');
  }
  const inUse = formatInUse(n);
  n.lbaFormats.forEach((f, i) => {
    const use = i === inUse ? '(in use)' : '';
    lines.push(human
      ? `LBA Format ${String(i).padStart(2)} : Metadata Size: ${String(f.metadataSize).padEnd(3)} bytes - Data Size: ${String(f.dataSize).padEnd(2)} bytes - Relative Performance: ${hx(f.relativePerformance)} ${RP[f.relativePerformance]} ${use}`
      : `lbaf ${String(i).padStart(2)} : ms:${String(f.metadataSize).padEnd(3)} lbads:${String(f.lbads).padEnd(2)} rp:${hx(f.relativePerformance)} ${use}`);
  });
  return lines.join('\n');
}
