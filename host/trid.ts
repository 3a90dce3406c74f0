// Transport IDs, written like SPDK's: 'trtype:sim name:sim0',
// 'trtype:PCIe traddr:0000:00:05.0' or 'trtype:TCP adrfam:IPv4
// traddr:127.0.0.1 trsvcid:4420 subnqn:NQN [hostnqn:NQN]' plus the NVMe/TCP
// options (host/fabrics/options.ts). Empty means the embedded simulated
// controller.
import { InvalidArgumentError } from './errors.js';
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

export function parseTransportId(text: string | undefined): TransportId {
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
    if (!/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/.test(a)) {
      throw new InvalidArgumentError('transport id traddr', 'a PCI address DDDD:BB:DD.F', a);
    }
    return { trtype: 'pcie', traddr: a.toLowerCase() };
  }
  if (trtype === 'tcp') return parseTcpTransportId(fields, text);
  throw new InvalidArgumentError('transport id trtype', "'sim', 'PCIe' or 'TCP' (or empty for the embedded simulated controller)", fields.trtype);
}
