// Configuration of the simulated controller. Every field has a default, so
// `{}` gives a working device; parseSimConfig rejects bad values by name.
import { InvalidArgumentError } from '../errors.js';

/** One namespace of a simulated controller. */
export interface SimNamespaceConfig {
  /** Logical block size in bytes: 512 or 4096. Default 512. */
  lbaSize: 512 | 4096;
  /** Capacity in logical blocks (of lbaSize bytes), 1 to 2^40. Default 262144 (128 MiB of 512-byte blocks). */
  blocks: number;
  /** 'ram' (default) or 'file': a file keeps its data across restarts. */
  backing: 'ram' | 'file';
  /** Backing file for backing 'file' (created if missing, sized to the namespace); required then. */
  path?: string;
  /**
   * Metadata bytes per block of the format in use: 0 (default) or 8. With
   * 8, Identify describes the format (separate or extended, `extendedLba`)
   * but the simulator moves no metadata: Read, Write and Compare on such a
   * namespace complete with Invalid Namespace or Format. (For testing how
   * drivers list and refuse such namespaces.)
   */
  metadataSize?: 0 | 8;
  /** With metadataSize 8: metadata at the end of each block's data (FLBAS bit 4) rather than in a separate buffer. */
  extendedLba?: boolean;
}

/** The latency model of I/O completions. Times are in microseconds, 0 to 10,000,000. */
export interface SimLatencyConfig {
  /** 'none' (default): complete as soon as processed; 'fixed': after `us`; 'random': uniform in [minUs, maxUs]. */
  mode: 'none' | 'fixed' | 'random';
  /** Latency of every completion for mode 'fixed', in microseconds. Default 0. */
  us: number;
  /** Least latency for mode 'random', in microseconds. Default 0. */
  minUs: number;
  /** Most latency for mode 'random', in microseconds (at least minUs). Default 0. */
  maxUs: number;
}

/** The configuration of a simulated controller, every field filled in (parseSimConfig; defaults: SIM_DEFAULTS). */
export interface SimConfig {
  /** Device name, 1 to 64 letters, digits, `_`, `.` or `-`: names its BAR0 and control files, and `trtype:sim name:NAME`. Default 'sim0'. */
  name: string;
  /** Its namespaces, 1 to 1024 (NSIDs 1, 2, ... in order). Default: one of 262144 blocks of 512 bytes in RAM. */
  namespaces: SimNamespaceConfig[];
  /** Identify Controller MDTS, 0 to 12: the largest transfer is 2^mdts * 4 KiB; 0 = no limit. Default 5 (128 KiB). */
  mdts: number;
  /** I/O queue pairs the controller grants through Number of Queues, 1 to 1023. Default 16. */
  maxIoQueuePairs: number;
  /** CAP.MQES, 0's based, 1 to 65535: queues may have up to mqes + 1 entries. Default 1023. */
  mqes: number;
  /** CAP.DSTRD, 0 to 4: the doorbell stride is 4 << dstrd bytes. Default 0. */
  dstrd: number;
  /** CAP.TO, the worst-case time to ready, in 500 ms units, 1 to 255. Default 20 (10 s). */
  timeout: number;
  /** Time from CC.EN = 1 to CSTS.RDY = 1 in milliseconds, 0 to 127,500. Default 0. */
  readyDelayMs: number;
  /** Identify Controller serial number: printable ASCII, 1 to 20 characters. Default 'NVMW00000001'. */
  serial: string;
  /** Identify Controller model number: printable ASCII, 1 to 40 characters. Default 'nvme-wasm simulated controller'. */
  model: string;
  /** Identify Controller firmware revision: printable ASCII, 1 to 8 characters. Default '0.1.0'. */
  firmware: string;
  /** PCI vendor ID (Identify VID), 0 to 0xffff. Default 0x1b36. */
  vendorId: number;
  /** Abort Command Limit (0's based, Identify ACL), 0 to 255. Default 3. */
  acl: number;
  /** Asynchronous Event Request Limit (0's based, Identify AERL), 0 to 255. Default 3. */
  aerl: number;
  /** Advertise a volatile write cache (Flush then matters for file-backed namespaces). Default true. */
  volatileWriteCache: boolean;
  /** The latency model of I/O completions. Default: none. */
  latency: SimLatencyConfig;
  /** Complete reads and writes without touching data (benchmarks). Default false. */
  nullIo: boolean;
  /** Directory for the BAR0 and control files. Default /dev/shm. */
  directory: string;
}

/** The defaults of every SimConfig field. */
export const SIM_DEFAULTS: SimConfig = {
  name: 'sim0',
  namespaces: [{ lbaSize: 512, blocks: 262144, backing: 'ram' }],
  mdts: 5,
  maxIoQueuePairs: 16,
  mqes: 1023,
  dstrd: 0,
  timeout: 20,
  readyDelayMs: 0,
  serial: 'NVMW00000001',
  model: 'nvme-wasm simulated controller',
  firmware: '0.1.0',
  vendorId: 0x1b36,
  acl: 3,
  aerl: 3,
  volatileWriteCache: true,
  latency: { mode: 'none', us: 0, minUs: 0, maxUs: 0 },
  nullIo: false,
  directory: '/dev/shm',
};

/** A SimConfig as given: any field may be left out. */
export type SimConfigInput = Partial<Omit<SimConfig, 'namespaces' | 'latency'>> & {
  namespaces?: Array<Partial<SimNamespaceConfig>>;
  latency?: Partial<SimLatencyConfig>;
};

function intIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(name, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

/** Fill defaults and validate; throws InvalidArgumentError naming the field. */
export function parseSimConfig(input: SimConfigInput = {}): SimConfig {
  const d = SIM_DEFAULTS;
  const cfg: SimConfig = {
    ...d,
    ...input,
    namespaces: (input.namespaces ?? d.namespaces).map((ns) => ({ ...d.namespaces[0]!, ...ns }) as SimNamespaceConfig),
    latency: { ...d.latency, ...(input.latency ?? {}) },
  };
  if (typeof cfg.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(cfg.name)) {
    throw new InvalidArgumentError('sim.name', 'letters, digits, _ . - (1 to 64)', cfg.name);
  }
  if (cfg.namespaces.length < 1 || cfg.namespaces.length > 1024) {
    throw new InvalidArgumentError('sim.namespaces', 'from 1 to 1024 namespaces', cfg.namespaces.length);
  }
  cfg.namespaces.forEach((ns, i) => {
    if (ns.lbaSize !== 512 && ns.lbaSize !== 4096) throw new InvalidArgumentError(`sim.namespaces[${i}].lbaSize`, '512 or 4096', ns.lbaSize);
    intIn(`sim.namespaces[${i}].blocks`, ns.blocks, 1, 2 ** 40);
    if (ns.metadataSize !== undefined && ns.metadataSize !== 0 && ns.metadataSize !== 8) throw new InvalidArgumentError(`sim.namespaces[${i}].metadataSize`, '0 or 8', ns.metadataSize);
    if (ns.extendedLba !== undefined && typeof ns.extendedLba !== 'boolean') throw new InvalidArgumentError(`sim.namespaces[${i}].extendedLba`, 'true or false', ns.extendedLba);
    if (ns.backing !== 'ram' && ns.backing !== 'file') throw new InvalidArgumentError(`sim.namespaces[${i}].backing`, "'ram' or 'file'", ns.backing);
    if (ns.backing === 'file' && (typeof ns.path !== 'string' || ns.path.length === 0)) {
      throw new InvalidArgumentError(`sim.namespaces[${i}].path`, 'a file path for a file-backed namespace', ns.path);
    }
  });
  intIn('sim.mdts', cfg.mdts, 0, 12);
  intIn('sim.maxIoQueuePairs', cfg.maxIoQueuePairs, 1, 1023);
  intIn('sim.mqes', cfg.mqes, 1, 65535);
  intIn('sim.dstrd', cfg.dstrd, 0, 4);
  intIn('sim.timeout', cfg.timeout, 1, 255);
  intIn('sim.readyDelayMs', cfg.readyDelayMs, 0, 127500);
  intIn('sim.vendorId', cfg.vendorId, 0, 0xffff);
  intIn('sim.acl', cfg.acl, 0, 255);
  intIn('sim.aerl', cfg.aerl, 0, 255);
  for (const [k, max] of [['serial', 20], ['model', 40], ['firmware', 8]] as const) {
    const v = cfg[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > max || !/^[\x20-\x7e]*$/.test(v)) {
      throw new InvalidArgumentError(`sim.${k}`, `printable ASCII, 1 to ${max} characters`, v);
    }
  }
  const lat = cfg.latency;
  if (!['none', 'fixed', 'random'].includes(lat.mode)) throw new InvalidArgumentError('sim.latency.mode', "'none', 'fixed' or 'random'", lat.mode);
  intIn('sim.latency.us', lat.us, 0, 10_000_000);
  intIn('sim.latency.minUs', lat.minUs, 0, 10_000_000);
  intIn('sim.latency.maxUs', lat.maxUs, lat.minUs, 10_000_000);
  if (typeof cfg.nullIo !== 'boolean') throw new InvalidArgumentError('sim.nullIo', 'true or false', cfg.nullIo);
  if (typeof cfg.volatileWriteCache !== 'boolean') throw new InvalidArgumentError('sim.volatileWriteCache', 'true or false', cfg.volatileWriteCache);
  return cfg;
}
