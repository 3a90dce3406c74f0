// A subsystem of the target (in the model of SPDK's nvmf_create_subsystem and
// nvmf_subsystem_add_ns): an NQN, a serial and model number, the hosts it
// admits, and namespaces, each a namespace of a Controller opened through
// this driver. The controllers (associations) remote hosts create live here.
import { InvalidArgumentError, type Controller, type Namespace } from '../../index.js';
import { NQN_MAX_LEN, DISCOVERY_NQN } from '../../../assembly/nvme/fabrics.js';
import { NvmfConfigError } from '../errors.js';

/** Admin commands a subsystem refuses its remote hosts unless allowed (they change the device for everyone). */
export interface AdminPolicy {
  /** Format NVM. Default false. */
  format?: boolean;
  /** Namespace Management and Attachment. Default false. */
  namespaceManagement?: boolean;
  /** Firmware Commit and Image Download. Default false. */
  firmware?: boolean;
  /** Sanitize. Default false. */
  sanitize?: boolean;
}

/** Options of NvmfTarget.addSubsystem. */
export interface SubsystemOptions {
  /** The subsystem's NQN (at most 223 bytes, starting 'nqn.'). */
  nqn: string;
  /** Serial number (20 ASCII characters at most). Default: the device's. */
  serial?: string;
  /** Model number (40 ASCII characters at most). Default: 'nvme-wasm NVMe/TCP target'. */
  model?: string;
  /** Host NQNs admitted (when allowAnyHost is false). */
  allowedHosts?: string[];
  /** Admit every host. Default false. */
  allowAnyHost?: boolean;
  /** I/O queues one host's association may have (Number of Queues is answered with at most this). Default 8. */
  maxIoQueuesPerHost?: number;
  /** Depth of a remote I/O queue in entries at most (MQES + 1 in CAP). Default 128, capped by the device's. */
  maxQueueDepth?: number;
  /** In-capsule data on I/O queues, in bytes (IOCCSZ = 4 + this / 16). Default 16384. */
  inCapsuleDataSize?: number;
  /** Admin commands allowed beyond the default set. */
  adminPolicy?: AdminPolicy;
}

/** A namespace the subsystem exports: `nsid` on the fabric, `ns` on `ctrl`. */
export interface TargetNamespace {
  readonly nsid: number;
  readonly ctrl: Controller;
  readonly ns: Namespace;
}

const NQN_RE = /^nqn\.\d{4}-\d{2}\.[^\s]+$|^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f-]{36}$/;

/** Check an NQN's form (NVMe 1.4 7.9); `arg` names the flag or field in the error. */
export function checkNqn(arg: string, nqn: unknown): string {
  if (typeof nqn !== 'string' || !NQN_RE.test(nqn) || Buffer.byteLength(nqn) > NQN_MAX_LEN) {
    throw new InvalidArgumentError(arg, `an NQN (nqn.yyyy-mm.reverse-domain:name, at most ${NQN_MAX_LEN} bytes)`, nqn);
  }
  return nqn;
}

function ascii(arg: string, v: string, max: number): string {
  if (!/^[\x20-\x7e]*$/.test(v) || v.length > max) throw new InvalidArgumentError(arg, `at most ${max} printable ASCII characters`, v);
  return v;
}

/** An NVM subsystem exported over the fabric. */
/** `C`: what an association (controller) of it is (association.ts), kept apart so the two files do not import each other. */
export class Subsystem<C = unknown> {
  readonly nqn: string;
  readonly serial: string | undefined;
  readonly model: string;
  allowAnyHost: boolean;
  readonly allowedHosts = new Set<string>();
  readonly maxIoQueuesPerHost: number;
  readonly maxQueueDepth: number;
  readonly inCapsuleDataSize: number;
  readonly adminPolicy: Required<AdminPolicy>;
  readonly namespaces = new Map<number, TargetNamespace>();
  /** Live associations by controller ID. */
  readonly controllers = new Map<number, C>();
  private nextCntlid = 1;

  constructor(o: SubsystemOptions) {
    this.nqn = checkNqn('nqn', o.nqn);
    if (this.nqn === DISCOVERY_NQN) throw new NvmfConfigError('the discovery NQN is the target\'s own discovery subsystem', o.nqn);
    this.serial = o.serial === undefined ? undefined : ascii('serial', o.serial, 20);
    this.model = ascii('model', o.model ?? 'nvme-wasm NVMe/TCP target', 40);
    this.allowAnyHost = o.allowAnyHost ?? false;
    for (const h of o.allowedHosts ?? []) this.allowedHosts.add(checkNqn('allowedHosts', h));
    this.maxIoQueuesPerHost = intIn('maxIoQueuesPerHost', o.maxIoQueuesPerHost ?? 8, 1, 1024);
    this.maxQueueDepth = intIn('maxQueueDepth', o.maxQueueDepth ?? 128, 2, 4096);
    this.inCapsuleDataSize = intIn('inCapsuleDataSize', o.inCapsuleDataSize ?? 16384, 0, 1 << 20);
    if (this.inCapsuleDataSize % 16 !== 0) throw new InvalidArgumentError('inCapsuleDataSize', 'a multiple of 16 bytes', this.inCapsuleDataSize);
    this.adminPolicy = { format: false, namespaceManagement: false, firmware: false, sanitize: false, ...o.adminPolicy };
  }

  /** Does this subsystem admit `hostNqn`? */
  allows(hostNqn: string): boolean {
    return this.allowAnyHost || this.allowedHosts.has(hostNqn);
  }

  /** Admit a host (nvmf_subsystem_add_host). */
  addHost(hostNqn: string): void {
    this.allowedHosts.add(checkNqn('host', hostNqn));
  }

  /**
   * Export namespace `deviceNsid` of `ctrl` as `nsid` (default: the next
   * free one). Every namespace of a subsystem is on the same controller.
   */
  addNamespace(ctrl: Controller, deviceNsid = 1, nsid?: number): TargetNamespace {
    const first = this.namespaces.values().next().value as TargetNamespace | undefined;
    if (first && first.ctrl !== ctrl) throw new NvmfConfigError(`subsystem ${this.nqn}: every namespace must be on the same controller`, this.nqn);
    let ns: Namespace;
    try {
      ns = ctrl.namespace(deviceNsid);
    } catch (e) {
      throw new NvmfConfigError(`subsystem ${this.nqn}: the device has no namespace ${deviceNsid} (${(e as Error).message})`, `nsid ${deviceNsid}`);
    }
    let id = nsid ?? 1;
    if (nsid === undefined) while (this.namespaces.has(id)) id++;
    intIn('nsid', id, 1, 0xfffffffe);
    if (this.namespaces.has(id)) throw new NvmfConfigError(`subsystem ${this.nqn}: namespace ${id} exists`, `nsid ${id}`);
    const t: TargetNamespace = { nsid: id, ctrl, ns };
    this.namespaces.set(id, t);
    return t;
  }

  /** The controller every namespace is on (undefined without namespaces). */
  get device(): Controller | undefined {
    return (this.namespaces.values().next().value as TargetNamespace | undefined)?.ctrl;
  }

  /** A free controller ID (1..0xFFEF), for a new association. */
  allocCntlid(): number | undefined {
    for (let i = 0; i < 0xffef; i++) {
      const id = this.nextCntlid;
      this.nextCntlid = id >= 0xffef ? 1 : id + 1;
      if (!this.controllers.has(id)) return id;
    }
    return undefined;
  }
}

function intIn(arg: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(arg, `an integer from ${min} to ${max}`, v);
  return v;
}
