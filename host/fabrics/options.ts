// NVMe/TCP transport IDs and the fabrics options of a host connection.
//
//   trtype:TCP adrfam:IPv4 traddr:ADDR trsvcid:PORT subnqn:NQN [hostnqn:NQN]
//     [hdgst:1] [ddgst:1] [kato:MS] [nr_io_queues:N] [queue_size:N]
//     [incapsule:BYTES] [reconnect_delay:S] [ctrl_loss_tmo:S] [poll:1]
//
// The first six keys are SPDK's (spdk_nvme_transport_id_parse); the options
// take the names of Linux's nvme-fabrics connect options (nvme connect
// --hdr-digest, --data-digest, --keep-alive-tmo, --nr-io-queues,
// --queue-size, --reconnect-delay, --ctrl-loss-tmo), except that the keep
// alive timeout is in milliseconds, as the Connect command carries it.
// `poll` is this driver's own (see FabricsOptions.poll).
import { InvalidArgumentError } from '../errors.js';
import { NQN_MAX_LEN, DISCOVERY_NQN } from '../../assembly/nvme/fabrics.js';
import { NVME_TCP_PORT } from '../../assembly/nvme/tcp.js';

/** The fabrics options of a TCP controller (defaults as Linux's nvme-fabrics). */
export interface FabricsOptions {
  /** Host NQN sent in Connect (default: /etc/nvme/hostnqn, else one derived from the host id). */
  hostnqn: string;
  /** Ask for header digests (CRC32C) in ICReq. Default false. */
  hdgst: boolean;
  /** Ask for data digests (CRC32C) in ICReq. Default false. */
  ddgst: boolean;
  /** Keep Alive Timeout in ms sent in the admin Connect (default 5000, Linux's NVME_DEFAULT_KATO; 0: none). */
  katoMs: number;
  /** I/O queues asked for in Number of Queues (default: 0, the Controller's requestedQueuePairs). */
  nrIoQueues: number;
  /** Depth of each I/O queue in entries (default 0: the Controller's ioQueueDepth). */
  queueSize: number;
  /** Most in-capsule write data in bytes (default: what the target's IOCCSZ allows; 0: never in-capsule). */
  inCapsule: number;
  /** Seconds between reconnect attempts after a connection loss (default 10, Linux's). */
  reconnectDelayS: number;
  /** Seconds after a connection loss before giving up (default 600, Linux's; -1: never). */
  ctrlLossTmoS: number;
  /** Bound on each TCP connect and ICReq/ICResp exchange in milliseconds (default 3000). */
  connectTimeoutMs: number;
  /**
   * Read each I/O queue's socket from processCompletions (a non-blocking
   * recv through the HAL, Node's own reading of that socket paused) instead
   * of Node's socket reads: a polled queue pair, as on PCIe. Lower latency
   * (no event-loop wake-up per PDU), but data is only read while someone
   * polls: callback-path users must call processCompletions while commands
   * are outstanding, and the Promise path spins then. Default false.
   */
  poll: boolean;
}

/** A transport ID of an NVMe/TCP subsystem. */
export interface TcpTransportId {
  trtype: 'tcp';
  /** Address family of traddr. */
  adrfam: 'ipv4' | 'ipv6';
  /** The target's address: an IP address or a host name. */
  traddr: string;
  /** The target's TCP port, 1 to 65535. Default 4420 (NVMe/TCP's). */
  trsvcid: number;
  /** NQN of the subsystem to connect to ('nqn.' ..., at most 223 bytes). Default: the discovery subsystem's. */
  subnqn: string;
  /** Options; what is missing takes the defaults. */
  fabrics?: Partial<FabricsOptions>;
}

const INT = /^\d+$/;

function int(fields: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const v = fields[key];
  if (v === undefined) return undefined;
  if (!INT.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`transport id ${key}`, `an integer from ${min} to ${max}`, v);
  return Number(v);
}

function flag(fields: Record<string, string>, key: string): boolean | undefined {
  const v = fields[key];
  if (v === undefined) return undefined;
  if (v !== '0' && v !== '1') throw new InvalidArgumentError(`transport id ${key}`, '0 or 1', v);
  return v === '1';
}

/** Check an NQN (NVMe 1.4 7.9: 'nqn.' and at most 223 bytes). */
export function checkNqn(what: string, nqn: string): string {
  if (!nqn.startsWith('nqn.') || Buffer.byteLength(nqn) > NQN_MAX_LEN || /\s/.test(nqn)) {
    throw new InvalidArgumentError(what, `an NQN ('nqn.' ..., at most ${NQN_MAX_LEN} bytes, no spaces)`, nqn);
  }
  return nqn;
}

const KNOWN = new Set(['trtype', 'adrfam', 'traddr', 'trsvcid', 'subnqn', 'hostnqn', 'hdgst', 'ddgst', 'kato', 'nr_io_queues', 'queue_size', 'incapsule', 'reconnect_delay', 'ctrl_loss_tmo', 'poll']);

/** The TCP part of parseTransportId: `fields` are the TRID's key:value pairs (keys lower case). */
export function parseTcpTransportId(fields: Record<string, string>, text: string): TcpTransportId {
  for (const k of Object.keys(fields)) {
    if (!KNOWN.has(k)) throw new InvalidArgumentError('transport id key', `one of ${[...KNOWN].join(', ')}`, k);
  }
  const adrfam = (fields.adrfam ?? 'ipv4').toLowerCase();
  if (adrfam !== 'ipv4' && adrfam !== 'ipv6') throw new InvalidArgumentError('transport id adrfam', "'IPv4' or 'IPv6'", fields.adrfam);
  const traddr = fields.traddr ?? '';
  if (traddr === '') throw new InvalidArgumentError('transport id traddr', 'an IP address or host name', text);
  const trsvcid = int(fields, 'trsvcid', 1, 65535) ?? NVME_TCP_PORT;
  const subnqn = checkNqn('transport id subnqn', fields.subnqn ?? DISCOVERY_NQN);
  const f: Partial<FabricsOptions> = {};
  if (fields.hostnqn !== undefined) f.hostnqn = checkNqn('transport id hostnqn', fields.hostnqn);
  const set = <K extends keyof FabricsOptions>(k: K, v: FabricsOptions[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('hdgst', flag(fields, 'hdgst'));
  set('ddgst', flag(fields, 'ddgst'));
  set('poll', flag(fields, 'poll'));
  set('katoMs', int(fields, 'kato', 0, 0xffffffff));
  set('nrIoQueues', int(fields, 'nr_io_queues', 1, 0xfffe));
  set('queueSize', int(fields, 'queue_size', 2, 65536));
  set('inCapsule', int(fields, 'incapsule', 0, 1 << 24));
  set('reconnectDelayS', int(fields, 'reconnect_delay', 1, 3600));
  if (fields.ctrl_loss_tmo === '-1') f.ctrlLossTmoS = -1;
  else set('ctrlLossTmoS', int(fields, 'ctrl_loss_tmo', 0, 1 << 30));
  return { trtype: 'tcp', adrfam, traddr, trsvcid, subnqn, ...(Object.keys(f).length ? { fabrics: f } : {}) };
}

/** The TRID text of `id` (what `Transport.trid` shows). */
export function formatTcpTransportId(id: TcpTransportId): string {
  return `trtype:TCP adrfam:${id.adrfam === 'ipv6' ? 'IPv6' : 'IPv4'} traddr:${id.traddr} trsvcid:${id.trsvcid} subnqn:${id.subnqn}`;
}

/** Options with the defaults filled in. */
export function resolveFabricsOptions(o: Partial<FabricsOptions> | undefined, defaultHostnqn: string): FabricsOptions {
  const r: FabricsOptions = {
    hostnqn: o?.hostnqn ?? defaultHostnqn,
    hdgst: o?.hdgst ?? false,
    ddgst: o?.ddgst ?? false,
    katoMs: o?.katoMs ?? 5000,
    nrIoQueues: o?.nrIoQueues ?? 0,
    queueSize: o?.queueSize ?? 0,
    inCapsule: o?.inCapsule ?? -1,
    reconnectDelayS: o?.reconnectDelayS ?? 10,
    ctrlLossTmoS: o?.ctrlLossTmoS ?? 600,
    connectTimeoutMs: o?.connectTimeoutMs ?? 3000,
    poll: o?.poll ?? false,
  };
  checkNqn('hostnqn', r.hostnqn);
  return r;
}
