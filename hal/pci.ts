// PCI device access through sysfs that pci-bind.ts (identity and driver
// binding) does not cover: configuration space, bus mastering, mapping a
// BAR's resource file, and who else uses a device. Nothing about NVMe.
//
//   /sys/bus/pci/devices/DDDD:BB:DD.F/
//     config                   configuration space (pread/pwrite)
//     resource                 one "start end flags" line per BAR
//     resourceN                BAR N, mmap-able (uio route)
import fs from 'node:fs';
import { openFile, closeFd, O_RDWR } from './fd.js';
import { mapFixed } from './mmap.js';
import { SYSFS_PCI_DEVICES } from './pci-bind.js';

// Configuration space header (PCI Local Bus 3.0, 6.2.2): the Command register.
export const PCI_CFG_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 1 << 1; // respond to memory-space accesses (BARs)
export const PCI_COMMAND_MASTER = 1 << 2; // bus master: the device may DMA

/** A device cannot be used as it is: in use by another process, not permitted, wrong driver, no IOMMU. */
export class PciAccessError extends Error {
  override readonly name = 'PciAccessError';
  constructor(
    message: string,
    readonly address: string,
    readonly reason: 'in-use' | 'permission' | 'driver' | 'iommu',
  ) {
    super(message);
  }
}

export function pciDevicePath(address: string): string {
  return `${SYSFS_PCI_DEVICES}/${address}`;
}
/** Read `size` (1, 2, 4) bytes of configuration space at `off` through sysfs. */
export function readConfig(address: string, off: number, size: 1 | 2 | 4): number {
  const fd = fs.openSync(`${pciDevicePath(address)}/config`, 'r');
  try {
    const b = Buffer.alloc(4);
    if (fs.readSync(fd, b, 0, size, off) !== size) throw new PciAccessError(`${address}: short read of config space at ${off}`, address, 'permission');
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

/** Does the system have an IOMMU with groups (VFIO can isolate devices)? */
export function iommuPresent(): boolean {
  try {
    return fs.readdirSync('/sys/kernel/iommu_groups').length > 0;
  } catch {
    return false;
  }
}
