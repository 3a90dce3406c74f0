// Transport IDs, written like SPDK's: 'trtype:sim name:sim0',
// 'trtype:PCIe traddr:0000:00:05.0' or 'trtype:TCP adrfam:IPv4
// traddr:127.0.0.1 trsvcid:4420 subnqn:NQN [hostnqn:NQN]' plus the NVMe/TCP
// options (host/fabrics/options.ts). Empty means the embedded simulated
// controller. As in SPDK's transport ID entries, 'ns:N' may follow any of
// them: it names one namespace (perf runs on it alone); parseTridEntry
// takes it out, parseTransportId checks it and leaves it to the caller.
import { InvalidArgumentError } from './errors.js';
import { pciAddressRangeNote } from '../hal/pci-bind.js';
import { parseTcpTransportId, type TcpTransportId } from './fabrics/options.js';

export type { TcpTransportId, FabricsOptions } from './fabrics/options.js';

/** A parsed transport ID (parseTransportId): which controller Controller.open attaches to. */
export type TransportId =
  /** An embedded simulated controller, started for this Controller (ControllerOptions.sim configures it). */
  | { trtype: 'embedded' }
  | {
      trtype: 'sim';
      /** Name of a running simulated controller (SimConfig.name), 1 to 64 letters, digits, `_`, `.` or `-`. */
      name: string;
      /** Directory of its BAR0 and control files. Default /dev/shm. */
      directory?: string;
    }
  | {
      trtype: 'pcie';
      /** PCI address DDDD:BB:DD.F (domain, bus, device, function; lower-case hex). */
      traddr: string;
    }
  | TcpTransportId;

/** A transport ID and the namespace its 'ns:N' names (SPDK's spdk_nvme_trid_entry). */
export interface TridEntry {
  /** The transport ID without 'ns:N' ('' for the embedded simulated controller). */
  trid: string;
  /** The NSID 'ns:N' gave, if any. */
  nsid?: number;
}

/** Split 'ns:N' off a transport ID (SPDK's `-r 'trtype:PCIe traddr:... ns:1'`). */
export function parseTridEntry(text: string | undefined): TridEntry {
  const parts = (text ?? '').trim().split(/\s+/).filter((p) => p !== '');
  let nsid: number | undefined;
  const rest: string[] = [];
  for (const part of parts) {
    if (!/^ns:/i.test(part)) {
      rest.push(part);
      continue;
    }
    const v = part.slice(3);
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > 0xfffffffe) throw new InvalidArgumentError('transport id ns', 'a namespace ID from 1 to 4294967294', v);
    if (nsid !== undefined && nsid !== n) throw new InvalidArgumentError('transport id ns', 'one namespace per transport ID (give -r once per namespace)', text);
    nsid = n;
  }
  return { trid: rest.join(' '), ...(nsid !== undefined ? { nsid } : {}) };
}

export function parseTransportId(text: string | undefined): TransportId {
  if (text !== undefined && /(^|\s)ns:/i.test(text)) text = parseTridEntry(text).trid;
  if (text === undefined || text.trim() === '' || text.trim() === 'embedded') return { trtype: 'embedded' };
  const fields: Record<string, string> = {};
  for (const part of text.trim().split(/\s+/)) {
    const i = part.indexOf(':');
    if (i <= 0) throw new InvalidArgumentError('transport id', "'key:value' pairs such as 'trtype:sim name:sim0'", text);
    fields[part.slice(0, i).toLowerCase()] = part.slice(i + 1);
  }
  const trtype = (fields.trtype ?? '').toLowerCase();
  if (trtype === 'sim') {
    if (!fields.name || !/^[A-Za-z0-9_.-]{1,64}$/.test(fields.name)) {
      throw new InvalidArgumentError('transport id name', 'a simulated controller name (letters, digits, _ . -)', fields.name);
    }
    return { trtype: 'sim', name: fields.name, ...(fields.dir ? { directory: fields.dir } : {}) };
  }
  if (trtype === 'pcie') {
    const a = fields.traddr ?? '';
    const range = pciAddressRangeNote(a);
    if (range || !/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/.test(a)) {
      throw new InvalidArgumentError('transport id traddr', `a PCI address DDDD:BB:DD.F${range ? ` (${range})` : ''}`, a);
    }
    return { trtype: 'pcie', traddr: a.toLowerCase() };
  }
  if (trtype === 'tcp') return parseTcpTransportId(fields, text);
  throw new InvalidArgumentError('transport id trtype', "'sim', 'PCIe' or 'TCP' (or empty for the embedded simulated controller)", fields.trtype);
}
