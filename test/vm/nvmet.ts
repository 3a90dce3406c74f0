// Guest side: the kernel's NVMe over Fabrics target (nvmet, nvmet-tcp),
// configured through configfs (mounted at /sys/kernel/config by init.sh).
//
//   /sys/kernel/config/nvmet/
//     subsystems/<NQN>/attr_allow_any_host          1: any host NQN may connect
//     subsystems/<NQN>/allowed_hosts/<HOSTNQN>     symlink to hosts/<HOSTNQN>
//     subsystems/<NQN>/namespaces/<NSID>/{device_path,buffered_io,enable}
//     hosts/<HOSTNQN>/
//     ports/<ID>/{addr_trtype,addr_adrfam,addr_traddr,addr_trsvcid}
//     ports/<ID>/subsystems/<NQN>                  symlink: the port exports the subsystem
//
// A file on the guest's tmpfs needs buffered_io=1 (tmpfs has no O_DIRECT:
// the namespace fails to enable with -22); a block device such as
// /dev/nvme0n1 (QEMU's controller through the kernel nvme driver) does not.
// Teardown goes in the reverse order: unlink the port from the subsystems,
// disable and remove the namespaces, the allowed-host links, the
// subsystems, the hosts, the port.
import fs from 'node:fs';
import path from 'node:path';
import { NvmetConfigError } from './errors.js';

export const NVMET_ROOT = '/sys/kernel/config/nvmet';

/** One namespace of a kernel-target subsystem. */
export interface NvmetNamespaceSpec {
  nsid: number;
  /** A file (on tmpfs: set bufferedIo) or a block device. */
  devicePath: string;
  /** Page-cache I/O instead of O_DIRECT; default: true for a regular file, false for a block device. */
  bufferedIo?: boolean;
}

/** One subsystem: its NQN, namespaces and who may connect. */
export interface NvmetSubsystemSpec {
  nqn: string;
  namespaces: NvmetNamespaceSpec[];
  /** Host NQNs allowed; when given (even empty), attr_allow_any_host is 0. Default: any host. */
  allowedHosts?: string[];
}

/** A TCP port of the kernel target. */
export interface NvmetPortSpec {
  /** configfs port id; default 1. */
  id?: number;
  /** IPv4 address; default 127.0.0.1. */
  traddr?: string;
  /** TCP port; default 4420. */
  trsvcid?: number;
}

function write(p: string, value: string): void {
  try {
    fs.writeFileSync(p, value);
  } catch (e) {
    throw new NvmetConfigError(p, `writing ${JSON.stringify(value)}: ${(e as Error).message}`);
  }
}

function mkdir(p: string): void {
  try {
    fs.mkdirSync(p);
  } catch (e) {
    throw new NvmetConfigError(p, `mkdir: ${(e as Error).message}`);
  }
}

function symlink(target: string, p: string): void {
  try {
    fs.symlinkSync(target, p);
  } catch (e) {
    throw new NvmetConfigError(p, `ln -s ${target}: ${(e as Error).message}`);
  }
}

/** Whether configfs and the nvmet module are there (the guest of test/vm has both). */
export function nvmetAvailable(): boolean {
  return fs.existsSync(path.join(NVMET_ROOT, 'subsystems'));
}

/** Entries of a configfs directory; none if it is missing. */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** What the kernel target holds now: subsystems, ports, hosts (all empty after a teardown). */
export function nvmetState(): { subsystems: string[]; ports: string[]; hosts: string[] } {
  return { subsystems: entries(`${NVMET_ROOT}/subsystems`), ports: entries(`${NVMET_ROOT}/ports`), hosts: entries(`${NVMET_ROOT}/hosts`) };
}

/** A configured kernel target: subsystems exported on one TCP port. */
export class NvmetTarget {
  readonly port: Required<NvmetPortSpec>;
  private readonly subsystems: NvmetSubsystemSpec[] = [];
  private readonly hosts = new Set<string>();
  private portMade = false;

  private constructor(port: NvmetPortSpec) {
    this.port = { id: port.id ?? 1, traddr: port.traddr ?? '127.0.0.1', trsvcid: port.trsvcid ?? 4420 };
  }

  /**
   * Creates the subsystems and the port and links them; the port accepts
   * connections when this returns. On a failure what was made is removed
   * and the NvmetConfigError is thrown.
   */
  static create(spec: { port?: NvmetPortSpec; subsystems: NvmetSubsystemSpec[] }): NvmetTarget {
    if (!nvmetAvailable()) throw new NvmetConfigError(NVMET_ROOT, 'missing: configfs not mounted or nvmet not loaded');
    const t = new NvmetTarget(spec.port ?? {});
    try {
      for (const s of spec.subsystems) t.addSubsystem(s);
      t.makePort();
      for (const s of t.subsystems) symlink(`${NVMET_ROOT}/subsystems/${s.nqn}`, `${t.portDir}/subsystems/${s.nqn}`);
    } catch (e) {
      t.teardown();
      throw e;
    }
    return t;
  }

  /**
   * Takes over a configuration made by an earlier process (which died
   * without its teardown), so that this one's teardown() removes it.
   */
  static adopt(spec: { port?: NvmetPortSpec; nqns: string[]; hosts?: string[] }): NvmetTarget {
    const t = new NvmetTarget(spec.port ?? {});
    t.portMade = fs.existsSync(t.portDir);
    for (const nqn of spec.nqns) if (fs.existsSync(`${NVMET_ROOT}/subsystems/${nqn}`)) t.subsystems.push({ nqn, namespaces: [] });
    for (const h of spec.hosts ?? []) if (fs.existsSync(`${NVMET_ROOT}/hosts/${h}`)) t.hosts.add(h);
    return t;
  }

  get portDir(): string {
    return `${NVMET_ROOT}/ports/${this.port.id}`;
  }

  private addSubsystem(s: NvmetSubsystemSpec): void {
    const dir = `${NVMET_ROOT}/subsystems/${s.nqn}`;
    mkdir(dir);
    this.subsystems.push(s);
    if (s.allowedHosts === undefined) {
      write(`${dir}/attr_allow_any_host`, '1');
    } else {
      write(`${dir}/attr_allow_any_host`, '0');
      for (const h of s.allowedHosts) {
        const hdir = `${NVMET_ROOT}/hosts/${h}`;
        if (!fs.existsSync(hdir)) mkdir(hdir);
        this.hosts.add(h);
        symlink(hdir, `${dir}/allowed_hosts/${h}`);
      }
    }
    for (const ns of s.namespaces) {
      const nsDir = `${dir}/namespaces/${ns.nsid}`;
      mkdir(nsDir);
      const buffered = ns.bufferedIo ?? fs.statSync(ns.devicePath).isFile();
      write(`${nsDir}/buffered_io`, buffered ? '1' : '0');
      write(`${nsDir}/device_path`, ns.devicePath);
      write(`${nsDir}/enable`, '1');
    }
  }

  private makePort(): void {
    mkdir(this.portDir);
    this.portMade = true;
    write(`${this.portDir}/addr_trtype`, 'tcp');
    write(`${this.portDir}/addr_adrfam`, 'ipv4');
    write(`${this.portDir}/addr_traddr`, this.port.traddr);
    write(`${this.portDir}/addr_trsvcid`, String(this.port.trsvcid));
  }

  /**
   * Removes everything create() made, in the order configfs requires; goes
   * on past a failing step and throws the first NvmetConfigError at the end.
   */
  teardown(): void {
    const errors: NvmetConfigError[] = [];
    const step = (p: string, what: string, f: () => void): void => {
      try {
        if (fs.existsSync(p) || fs.lstatSync(p, { throwIfNoEntry: false })) f();
      } catch (e) {
        errors.push(new NvmetConfigError(p, `${what}: ${(e as Error).message}`));
      }
    };
    if (this.portMade) for (const nqn of entries(`${this.portDir}/subsystems`)) step(`${this.portDir}/subsystems/${nqn}`, 'unlink', () => fs.unlinkSync(`${this.portDir}/subsystems/${nqn}`));
    for (const s of this.subsystems) {
      const dir = `${NVMET_ROOT}/subsystems/${s.nqn}`;
      for (const nsid of entries(`${dir}/namespaces`)) {
        step(`${dir}/namespaces/${nsid}/enable`, 'disable', () => fs.writeFileSync(`${dir}/namespaces/${nsid}/enable`, '0'));
        step(`${dir}/namespaces/${nsid}`, 'rmdir', () => fs.rmdirSync(`${dir}/namespaces/${nsid}`));
      }
      for (const h of entries(`${dir}/allowed_hosts`)) step(`${dir}/allowed_hosts/${h}`, 'unlink', () => fs.unlinkSync(`${dir}/allowed_hosts/${h}`));
      step(dir, 'rmdir', () => fs.rmdirSync(dir));
    }
    for (const h of this.hosts) step(`${NVMET_ROOT}/hosts/${h}`, 'rmdir', () => fs.rmdirSync(`${NVMET_ROOT}/hosts/${h}`));
    if (this.portMade) step(this.portDir, 'rmdir', () => fs.rmdirSync(this.portDir));
    this.subsystems.length = 0;
    this.hosts.clear();
    this.portMade = false;
    if (errors[0]) throw errors[0];
  }
}

/** A sparse file of `sizeMiB` MiB (a file-backed namespace on the guest's tmpfs). */
export function backingFile(file: string, sizeMiB: number): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.closeSync(fs.openSync(file, 'w'));
  fs.truncateSync(file, sizeMiB * 2 ** 20);
  return file;
}
