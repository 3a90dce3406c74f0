// PCI devices through sysfs (Documentation/ABI/testing/sysfs-bus-pci): who
// a device is, which driver holds it, its configuration space, mapping a
// BAR's resource file, and who else uses it. Nothing about NVMe: callers say
// which class of device they look for.
//
//   /sys/bus/pci/devices/DDDD:BB:DD.F/
//     vendor device class      identity (hex text)
//     driver -> .../drivers/X  bound driver (absent when unbound)
//     driver_override          next probe binds this driver only
//     iommu_group -> .../N     VFIO group (absent without an IOMMU)
//     config                   configuration space (pread/pwrite)
//     resource                 one "start end flags" line per BAR
//     resourceN                BAR N, mmap-able (uio route)
import fs from 'node:fs';
import path from 'node:path';
import { openFile, closeFd, O_RDWR } from './fd.js';
import { mapFixed } from './mmap.js';

export const SYSFS_PCI_DEVICES = '/sys/bus/pci/devices';
export const SYSFS_PCI_DRIVERS = '/sys/bus/pci/drivers';

// Configuration space header (PCI Local Bus 3.0, 6.2.2): the Command register.
export const PCI_CFG_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 1 << 1; // respond to memory-space accesses (BARs)
export const PCI_COMMAND_MASTER = 1 << 2; // bus master: the device may DMA

/** A PCI address DDDD:BB:DD.F, lower case. */
export const PCI_ADDRESS_RE = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

export interface PciDevice {
  address: string;
  vendor: number;
  device: number;
  /** 24-bit class code (class, subclass, programming interface). */
  classCode: number;
  /** Bound driver's name, undefined when unbound. */
  driver: string | undefined;
  /** VFIO (IOMMU) group number, undefined without an IOMMU. */
  iommuGroup: number | undefined;
}

/** Thrown when sysfs says something is missing or not allowed: the message says what to do. */
export class PciError extends Error {
  override readonly name = 'PciError';
  constructor(
    message: string,
    readonly address: string,
    readonly reason: 'missing' | 'driver' | 'in-use' | 'permission' | 'iommu',
  ) {
    super(message);
  }
}

export function pciDevicePath(address: string): string {
  return `${SYSFS_PCI_DEVICES}/${address}`;
}

function readHex(file: string): number {
  return Number.parseInt(fs.readFileSync(file, 'latin1').trim(), 16);
}

function linkBase(file: string): string | undefined {
  try {
    return path.basename(fs.readlinkSync(file));
  } catch {
    return undefined;
  }
}

/** The device at `address`, or a PciError('missing') naming what exists. */
export function pciDevice(address: string): PciDevice {
  const dir = pciDevicePath(address);
  if (!fs.existsSync(dir)) {
    throw new PciError(`no PCI device ${address} (${dir} does not exist; lspci or nvme-wasm setup status lists devices)`, address, 'missing');
  }
  const group = linkBase(`${dir}/iommu_group`);
  return {
    address,
    vendor: readHex(`${dir}/vendor`),
    device: readHex(`${dir}/device`),
    classCode: readHex(`${dir}/class`),
    driver: linkBase(`${dir}/driver`),
    iommuGroup: group === undefined ? undefined : Number(group),
  };
}

/** Every PCI device, or those whose class code is `classCode`. */
export function listPciDevices(classCode?: number): PciDevice[] {
  let names: string[];
  try {
    names = fs.readdirSync(SYSFS_PCI_DEVICES);
  } catch {
    return [];
  }
  return names
    .filter((n) => PCI_ADDRESS_RE.test(n))
    .sort()
    .map((n) => pciDevice(n))
    .filter((d) => classCode === undefined || d.classCode === classCode);
}

/** Read `size` (1, 2, 4) bytes of configuration space at `off` through sysfs. */
export function readConfig(address: string, off: number, size: 1 | 2 | 4): number {
  const fd = fs.openSync(`${pciDevicePath(address)}/config`, 'r');
  try {
    const b = Buffer.alloc(4);
    if (fs.readSync(fd, b, 0, size, off) !== size) throw new PciError(`${address}: short read of config space at ${off}`, address, 'permission');
    return size === 1 ? b.readUInt8(0) : size === 2 ? b.readUInt16LE(0) : b.readUInt32LE(0);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeConfig(address: string, off: number, size: 1 | 2 | 4, value: number): void {
  const fd = fs.openSync(`${pciDevicePath(address)}/config`, 'r+');
  try {
    const b = Buffer.alloc(4);
    if (size === 1) b.writeUInt8(value, 0);
    else if (size === 2) b.writeUInt16LE(value, 0);
    else b.writeUInt32LE(value >>> 0, 0);
    fs.writeSync(fd, b, 0, size, off);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Set memory-space decoding and bus mastering in the Command register, read
 * and written through `cfg` (sysfs or a VFIO config region). Without bus
 * mastering the device's DMA is blocked: queues never fill.
 */
export function enableBusMaster(cfg: { read16(off: number): number; write16(off: number, v: number): void }): void {
  const cmd = cfg.read16(PCI_CFG_COMMAND);
  const want = cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
  if (want !== cmd) cfg.write16(PCI_CFG_COMMAND, want);
}

/** Size in bytes of BAR `bar` (from the resource file), 0 if unimplemented. */
export function barSize(address: string, bar: number): number {
  const lines = fs.readFileSync(`${pciDevicePath(address)}/resource`, 'latin1').trim().split('\n');
  const [start, end] = (lines[bar] ?? '').trim().split(/\s+/).map((x) => BigInt(x));
  if (start === undefined || end === undefined || end === 0n) return 0;
  return Number(end - start + 1n);
}

/** Map `len` bytes of BAR `bar` (sysfs resourceN) over memory offset `memOff` of a memory at `base`. */
export function mapResource(address: string, bar: number, base: bigint, memOff: number, len: number): void {
  const fd = openFile(`${pciDevicePath(address)}/resource${bar}`, O_RDWR);
  try {
    mapFixed(base, memOff, len, fd);
  } finally {
    closeFd(fd); // the mapping keeps the device
  }
}

/** Processes other than this one with `resourceN` of the device mapped (uio route users). */
export function resourceUsers(address: string): Array<{ pid: number; command: string }> {
  const needle = `/${address}/resource`;
  const out: Array<{ pid: number; command: string }> = [];
  for (const pid of otherPids()) {
    try {
      if (fs.readFileSync(`/proc/${pid}/maps`, 'latin1').includes(needle)) out.push({ pid, command: commandOf(pid) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * Processes other than this one holding an open file whose link target is
 * `target` (or satisfies it, when a predicate), with their fd numbers.
 */
export function fileHolders(target: string | ((link: string) => boolean)): Array<{ pid: number; fd: number; command: string }> {
  const match = typeof target === 'string' ? (l: string) => l === target : target;
  const out: Array<{ pid: number; fd: number; command: string }> = [];
  for (const pid of otherPids()) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const f of fds) {
      try {
        if (match(fs.readlinkSync(`/proc/${pid}/fd/${f}`))) out.push({ pid, fd: Number(f), command: commandOf(pid) });
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return out;
}

function otherPids(): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => p !== process.pid);
}

export function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ').slice(0, 120) || `pid ${pid}`;
  } catch {
    return `pid ${pid}`;
  }
}

/**
 * Bind the device to `driver` (or unbind it when undefined): write
 * driver_override, unbind from the current driver, then drivers_probe
 * (Documentation/ABI/testing/sysfs-bus-pci). An empty override afterwards
 * lets the kernel pick the driver again on the next probe.
 */
export function bindDriver(address: string, driver: string | undefined): void {
  const dir = pciDevicePath(address);
  const current = linkBase(`${dir}/driver`);
  if (current === driver) return;
  fs.writeFileSync(`${dir}/driver_override`, driver ?? '\n');
  if (current) fs.writeFileSync(`${dir}/driver/unbind`, address);
  if (driver) {
    fs.writeFileSync('/sys/bus/pci/drivers_probe', address);
    const now = linkBase(`${dir}/driver`);
    if (now !== driver) {
      throw new PciError(`${address}: binding to ${driver} failed (now ${now ?? 'unbound'}); is the ${driver} module loaded? (modprobe ${driver})`, address, 'driver');
    }
  }
}

/** Give the device back to the kernel's choice of driver (clear the override, probe). */
export function rebindDefault(address: string): string | undefined {
  const dir = pciDevicePath(address);
  const current = linkBase(`${dir}/driver`);
  fs.writeFileSync(`${dir}/driver_override`, '\n');
  if (current) fs.writeFileSync(`${dir}/driver/unbind`, address);
  fs.writeFileSync('/sys/bus/pci/drivers_probe', address);
  return linkBase(`${dir}/driver`);
}

/** Is a kernel module (driver) available: loaded, or loadable? */
export function driverLoaded(driver: string): boolean {
  return fs.existsSync(`${SYSFS_PCI_DRIVERS}/${driver}`);
}

/** Does the system have an IOMMU with groups (VFIO can isolate devices)? */
export function iommuPresent(): boolean {
  try {
    return fs.readdirSync('/sys/kernel/iommu_groups').length > 0;
  } catch {
    return false;
  }
}
