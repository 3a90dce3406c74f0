// A whole target from one description (the `nvmf-tgt` application's
// --config file, in the model of SPDK's nvmf_create_subsystem,
// nvmf_subsystem_add_ns, nvmf_subsystem_add_host and
// nvmf_subsystem_add_listener):
//
//   {
//     "devices": [{ "name": "dev0", "trid": "trtype:PCIe traddr:0000:00:04.0", "shmId": 1 }],
//     "listen": ["127.0.0.1:4420"],
//     "subsystems": [{
//       "nqn": "nqn.2026-12.io.example:disk1", "serialNumber": "SN1", "modelNumber": "disk one",
//       "allowAnyHost": false, "hosts": ["nqn.2014-08.org.nvmexpress:uuid:..."],
//       "namespaces": [{ "device": "dev0", "deviceNsid": 1, "nsid": 1 }],
//       "listenAddresses": [{ "traddr": "127.0.0.1", "trsvcid": "4420" }],
//       "maxIoQueuesPerHost": 8, "adminPolicy": { "format": false }
//     }]
//   }
//
// Listeners are the target's: every subsystem is reachable on each (a
// subsystem's listenAddresses add to them). Devices are opened through this
// driver (trid as in -r; shmId joins that controller's multi-process group).
import net from 'node:net';
import { Controller, InvalidArgumentError, parseTransportId, type SimConfigInput } from '../../index.js';
import { NvmfTarget, type NvmfTargetOptions, type Listener } from './target.js';
import type { AdminPolicy, Subsystem } from './subsystem.js';
import type { PollGroup } from './poll-group.js';

/** A device of a TargetConfig: a controller the target opens (Controller.open) and exports namespaces of. */
export interface DeviceConfig {
  /** Its name, unique in the configuration, that SubsystemConfig.namespaces[].device refers to. */
  name: string;
  /** Transport ID ('trtype:PCIe traddr:...', 'trtype:sim name:...'); default the embedded simulated controller. */
  trid?: string;
  /** Multi-process group id (-i), a non-negative integer: the target joins the controller's group (ControllerOptions.shmId). */
  shmId?: number;
  /** Group file prefix (--file-prefix; ControllerOptions.filePrefix). */
  filePrefix?: string;
  /** Size of the shared region in bytes (DMA memory for the target's queues and buffers; ControllerOptions.regionSize). Default 256 MiB. */
  regionSize?: number;
  /** The embedded simulated controller's configuration. */
  sim?: SimConfigInput;
}

/** A subsystem of a TargetConfig (the fields of SubsystemOptions, named as in SPDK's RPCs). */
export interface SubsystemConfig {
  /** The subsystem's NQN (at most 223 bytes, starting 'nqn.'). */
  nqn: string;
  /** Serial number, at most 20 ASCII characters. Default: the device's. */
  serialNumber?: string;
  /** Model number, at most 40 ASCII characters. Default: 'nvme-wasm NVMe/TCP target'. */
  modelNumber?: string;
  /** Admit every host. Default false. */
  allowAnyHost?: boolean;
  /** Host NQNs admitted (when allowAnyHost is false). */
  hosts?: string[];
  /**
   * Its namespaces: `deviceNsid` (default 1) of the device named `device`
   * (default: the only device), exported as `nsid` (default: the next free
   * NSID). Default: namespace 1 of the only device.
   */
  namespaces?: Array<{ device?: string; deviceNsid?: number; nsid?: number }>;
  /** Listeners of this subsystem besides the target's `listen`: IP address and TCP port. */
  listenAddresses?: Array<{ traddr: string; trsvcid: string | number }>;
  /** I/O queues one host's association may have. Default 8. */
  maxIoQueuesPerHost?: number;
  /** Depth of a remote I/O queue in entries at most (MQES + 1 in CAP). Default 128, capped by the device's. */
  maxQueueDepth?: number;
  /** In-capsule data on I/O queues, in bytes (IOCCSZ = 4 + this / 16). Default 16384. */
  inCapsuleDataSize?: number;
  /** Admin commands allowed beyond the default set. Default: none. */
  adminPolicy?: AdminPolicy;
}

/** A whole target for startTarget (the `nvmf-tgt` --config file): devices, listeners, subsystems, and the NvmfTargetOptions. */
export interface TargetConfig extends NvmfTargetOptions {
  /** The devices to open. Default: one embedded simulated controller named 'default'. */
  devices?: DeviceConfig[];
  /** 'ADDR:PORT' ('[ADDR]:PORT' for IPv6). Default ['127.0.0.1:4420']. */
  listen?: string[];
  subsystems: SubsystemConfig[];
}

export interface RunningTarget {
  target: NvmfTarget;
  pollGroup: PollGroup;
  listeners: Listener[];
  devices: Map<string, Controller>;
  /** Disconnect every host, give the device queues back, close the devices this call opened. */
  stop(): Promise<void>;
}

/** Parse 'ADDR:PORT' or '[ADDR]:PORT'; `arg` names the flag or field in the error. */
export function parseListen(arg: string, s: unknown): { address: string; port: number } {
  const m = typeof s === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(s.trim()) : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || net.isIP((m[1] ?? m[2])!) === 0) throw new InvalidArgumentError(arg, "'ADDR:PORT' with an IPv4 address or '[IPv6]:PORT', port 0 to 65535", s);
  return { address: (m[1] ?? m[2])!, port };
}

function fail(arg: string, expected: string, v: unknown): never {
  throw new InvalidArgumentError(arg, expected, v);
}

/** Check a configuration's shape (field names in errors as `where.field`). */
export function checkConfig(c: unknown, where = 'config'): TargetConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(where, 'a JSON object', c);
  const o = c as Record<string, unknown>;
  const known = new Set(['devices', 'listen', 'subsystems', 'maxH2CData', 'stallTimeoutMs', 'icTimeoutMs', 'deviceQueueTimeoutMs', 'deviceCompletionMode', 'pollSockets', 'pollWait', 'spinYield', 'log']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(`${where}.${k}`, `one of ${[...known].join(', ')}`, k);
  if (!Array.isArray(o.subsystems) || o.subsystems.length === 0) fail(`${where}.subsystems`, 'a non-empty array', o.subsystems);
  if (o.devices !== undefined && !Array.isArray(o.devices)) fail(`${where}.devices`, 'an array', o.devices);
  if (o.listen !== undefined && !Array.isArray(o.listen)) fail(`${where}.listen`, "an array of 'ADDR:PORT'", o.listen);
  (o.listen as unknown[] | undefined)?.forEach((l, i) => parseListen(`${where}.listen[${i}]`, l));
  if (o.pollSockets !== undefined && typeof o.pollSockets !== 'boolean') fail(`${where}.pollSockets`, 'true or false', o.pollSockets);
  if (o.pollWait !== undefined && typeof o.pollWait !== 'boolean') fail(`${where}.pollWait`, 'true or false', o.pollWait);
  if (o.spinYield !== undefined && typeof o.spinYield !== 'boolean') fail(`${where}.spinYield`, 'true or false', o.spinYield);
  const names = new Set<string>();
  (o.devices as unknown[] | undefined)?.forEach((d, i) => {
    const w = `${where}.devices[${i}]`;
    if (typeof d !== 'object' || d === null) fail(w, 'an object', d);
    const dd = d as Record<string, unknown>;
    if (typeof dd.name !== 'string' || dd.name === '') fail(`${w}.name`, 'a name', dd.name);
    if (names.has(dd.name)) fail(`${w}.name`, 'a name not used twice', dd.name);
    names.add(dd.name);
    if (dd.trid !== undefined) {
      if (typeof dd.trid !== 'string') fail(`${w}.trid`, 'a transport ID string', dd.trid);
      parseTransportId(dd.trid);
    }
    if (dd.shmId !== undefined && (!Number.isInteger(dd.shmId) || (dd.shmId as number) < 0)) fail(`${w}.shmId`, 'a non-negative integer', dd.shmId);
  });
  (o.subsystems as unknown[]).forEach((s, i) => {
    const w = `${where}.subsystems[${i}]`;
    if (typeof s !== 'object' || s === null) fail(w, 'an object', s);
    const ss = s as Record<string, unknown>;
    const ok = new Set(['nqn', 'serialNumber', 'modelNumber', 'allowAnyHost', 'hosts', 'namespaces', 'listenAddresses', 'maxIoQueuesPerHost', 'maxQueueDepth', 'inCapsuleDataSize', 'adminPolicy']);
    for (const k of Object.keys(ss)) if (!ok.has(k)) fail(`${w}.${k}`, `one of ${[...ok].join(', ')}`, k);
    if (ss.hosts !== undefined && !Array.isArray(ss.hosts)) fail(`${w}.hosts`, 'an array of host NQNs', ss.hosts);
    if (ss.namespaces !== undefined && !Array.isArray(ss.namespaces)) fail(`${w}.namespaces`, 'an array', ss.namespaces);
    (ss.namespaces as Array<Record<string, unknown>> | undefined)?.forEach((n, j) => {
      if (n.device !== undefined && !names.has(n.device as string)) fail(`${w}.namespaces[${j}].device`, `a device named in devices (${[...names].join(', ') || 'none'})`, n.device);
      if (n.device === undefined && names.size > 1) fail(`${w}.namespaces[${j}].device`, 'a device name (there are several)', n.device);
    });
    (ss.listenAddresses as Array<Record<string, unknown>> | undefined)?.forEach((l, j) => parseListen(`${w}.listenAddresses[${j}]`, `${l.traddr}:${l.trsvcid}`));
  });
  return o as unknown as TargetConfig;
}

/** Open the devices, build the subsystems, listen, and poll: a running target. */
export async function startTarget(cfgIn: TargetConfig): Promise<RunningTarget> {
  const cfg = checkConfig(cfgIn);
  const devices = new Map<string, Controller>();
  const target = new NvmfTarget(cfg);
  const pollGroup = target.createPollGroup();
  const stopDevices = async () => {
    for (const c of devices.values()) await c.close().catch(() => {});
  };
  try {
    const devs = cfg.devices && cfg.devices.length > 0 ? cfg.devices : [{ name: 'default' }];
    for (const d of devs) {
      devices.set(d.name, await Controller.open({ transport: d.trid, shmId: d.shmId, filePrefix: d.filePrefix, regionSize: d.regionSize ?? 256 * 1024 * 1024, sim: d.sim }));
    }
    const only = devices.size === 1 ? devices.values().next().value! : undefined;
    const listens = [...(cfg.listen ?? [])];
    cfg.subsystems.forEach((s, i) => {
      const sub: Subsystem = target.addSubsystem({
        nqn: s.nqn, serial: s.serialNumber, model: s.modelNumber, allowAnyHost: s.allowAnyHost, allowedHosts: s.hosts,
        maxIoQueuesPerHost: s.maxIoQueuesPerHost, maxQueueDepth: s.maxQueueDepth, inCapsuleDataSize: s.inCapsuleDataSize, adminPolicy: s.adminPolicy,
      });
      const nss = s.namespaces && s.namespaces.length > 0 ? s.namespaces : [{}];
      for (const n of nss) {
        const ctrl = n.device !== undefined ? devices.get(n.device) : only;
        if (!ctrl) throw new InvalidArgumentError(`config.subsystems[${i}].namespaces.device`, 'a device name', n.device);
        sub.addNamespace(ctrl, n.deviceNsid ?? 1, n.nsid);
      }
      for (const l of s.listenAddresses ?? []) listens.push(`${l.traddr}:${l.trsvcid}`);
    });
    if (listens.length === 0) listens.push('127.0.0.1:4420');
    const seen = new Set<string>();
    for (const l of listens) {
      const { address, port } = parseListen('listen', l);
      const key = `${address}:${port}`;
      if (port !== 0 && seen.has(key)) continue;
      seen.add(key);
      await target.listen(address, port);
    }
  } catch (e) {
    await target.close();
    await stopDevices();
    throw e;
  }
  target.onConnection = () => {
    for (const c of target.accept()) pollGroup.add(c);
  };
  pollGroup.start();
  let stopping: Promise<void> | undefined;
  return {
    target, pollGroup, listeners: target.listeners, devices,
    stop: () => (stopping ??= (async () => {
      await target.close();
      await stopDevices();
    })()),
  };
}
