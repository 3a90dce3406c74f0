// Which driver holds a PCI device, and moving it between drivers, through
// sysfs (Documentation/ABI/testing/sysfs-bus-pci). Nothing about NVMe:
// callers say which class of device they look for and which driver they want
// (nvme, uio_pci_generic, vfio-pci ...).
//
//   /sys/bus/pci/
//     drivers_probe                    write DDDD:BB:DD.F: probe drivers for it
//     drivers/<name>/                  a loaded driver
//     devices/DDDD:BB:DD.F/
//       vendor device class            identity (hex text)
//       driver -> ../../drivers/<X>    bound driver (absent when unbound)
//       driver/unbind                  write the address: release it
//       driver_override                the next probe binds this driver only
//       iommu_group -> .../groups/N    VFIO group (absent without an IOMMU)
//       uio/uioN                       its /dev/uioN once uio_pci_generic holds it
//
// Moving a device: driver_override first (so no other driver grabs it in
// between), unbind, then drivers_probe. The probe runs synchronously in the
// write (device_attach), so the driver link is there when the write returns;
// a driver may still finish its own setup later (nvme scans namespaces in a
// work item), which callers wait for with their own knowledge.
import fs from 'node:fs';
import path from 'node:path';
import { HalError } from './errors.js';

export const SYSFS_PCI = '/sys/bus/pci';
export const SYSFS_PCI_DEVICES = `${SYSFS_PCI}/devices`;
export const SYSFS_PCI_DRIVERS = `${SYSFS_PCI}/drivers`;
export const SYSFS_IOMMU_GROUPS = '/sys/kernel/iommu_groups';

/** A PCI address DDDD:BB:DD.F (domain, bus, device, function), lower case. */
export const PCI_ADDRESS_RE = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/;

export interface PciDevice {
  address: string;
  vendor: number;
  device: number;
  /** 24-bit class code: class, subclass, programming interface. */
  classCode: number;
  /** Bound driver's name; undefined when unbound. */
  driver: string | undefined;
  /** IOMMU (VFIO) group number; undefined without an IOMMU. */
  iommuGroup: number | undefined;
}

export type PciErrorReason = 'argument' | 'missing' | 'driver' | 'iommu';

/** A PCI operation refused: bad argument, no such device, driver not loaded or not binding. */
export class PciError extends Error {
  override readonly name = 'PciError';
  constructor(
    message: string,
    readonly reason: PciErrorReason,
    /** The device, when one is concerned. */
    readonly address?: string,
    /** The argument rejected, for reason 'argument'. */
    readonly argument?: string,
  ) {
    super(message);
  }
}

/**
 * For an address shaped like DDDD:BB:DD.F whose device or function is out
 * of range (PCI: device 00 to 1f, function 0 to 7), which part: 'device 20
 * is out of range, 00 to 1f'. Empty otherwise.
 */
export function pciAddressRangeNote(address: string): string {
  const m = /^(?:[0-9a-f]{4}:)?[0-9a-f]{2}:([0-9a-f]{2})\.([0-9a-f]+)$/i.exec(address.trim());
  if (!m) return '';
  if (Number.parseInt(m[1]!, 16) > 0x1f) return `device ${m[1]} is out of range, 00 to 1f`;
  if (Number.parseInt(m[2]!, 16) > 7) return `function ${m[2]} is out of range, 0 to 7`;
  return '';
}

/** 'BB:DD.F' or 'DDDD:BB:DD.F', any case -> 'DDDD:BB:DD.F' lower case. */
export function normalizeAddress(address: string, argument = 'address'): string {
  const a = typeof address === 'string' ? address.trim().toLowerCase() : '';
  const full = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]+$/.test(a) ? `0000:${a}` : a;
  if (!PCI_ADDRESS_RE.test(full)) {
    throw new PciError(`invalid ${argument}: expected a PCI address DDDD:BB:DD.F, got ${JSON.stringify(address)}${pciAddressRangeNote(full) ? `: ${pciAddressRangeNote(full)}` : ''}`, 'argument', undefined, argument);
  }
  return full;
}

function checkDriverName(driver: string): void {
  if (typeof driver !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(driver)) {
    throw new PciError(`invalid driver: expected a driver name such as vfio-pci, got ${JSON.stringify(driver)}`, 'argument', undefined, 'driver');
  }
}

function devDir(address: string): string {
  const dir = `${SYSFS_PCI_DEVICES}/${address}`;
  if (!fs.existsSync(dir)) throw new PciError(`no PCI device ${address} (${dir} does not exist)`, 'missing', address);
  return dir;
}

function linkBase(file: string): string | undefined {
  try {
    return path.basename(fs.readlinkSync(file));
  } catch {
    return undefined;
  }
}

function readHex(file: string): number {
  return Number.parseInt(fs.readFileSync(file, 'latin1').trim(), 16);
}

/** A sysfs write; a refusal becomes a HalError naming the file. */
function sysfsWrite(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.errno === 'number') throw new HalError('write', -err.errno, `${value.trim() || '(empty)'} > ${file}`);
    throw e;
  }
}

/** The device at `address`. */
export function pciDevice(address: string): PciDevice {
  const a = normalizeAddress(address);
  const dir = devDir(a);
  const group = linkBase(`${dir}/iommu_group`);
  return {
    address: a,
    vendor: readHex(`${dir}/vendor`),
    device: readHex(`${dir}/device`),
    classCode: readHex(`${dir}/class`),
    driver: linkBase(`${dir}/driver`),
    iommuGroup: group === undefined ? undefined : Number(group),
  };
}

/** Every PCI device in address order, or those of class code `classCode` (e.g. 0x010802). */
export function listPciDevices(classCode?: number): PciDevice[] {
  if (classCode !== undefined && (!Number.isInteger(classCode) || classCode < 0 || classCode > 0xffffff)) {
    throw new PciError(`invalid classCode: expected a 24-bit class code, got ${String(classCode)}`, 'argument', undefined, 'classCode');
  }
  let names: string[];
  try {
    names = fs.readdirSync(SYSFS_PCI_DEVICES);
  } catch {
    return []; // no PCI bus visible (a container): nothing to list
  }
  return names
    .filter((n) => PCI_ADDRESS_RE.test(n))
    .sort()
    .map((n) => pciDevice(n))
    .filter((d) => classCode === undefined || d.classCode === classCode);
}

/** The driver bound to the device, undefined when none. */
export function currentDriver(address: string): string | undefined {
  return linkBase(`${devDir(normalizeAddress(address))}/driver`);
}

/** Is `driver` registered with the PCI bus (its module loaded or built in)? */
export function driverLoaded(driver: string): boolean {
  checkDriverName(driver);
  return fs.existsSync(`${SYSFS_PCI_DRIVERS}/${driver}`);
}

/** The device's driver_override, undefined when none is set. */
export function driverOverride(address: string): string | undefined {
  const v = fs.readFileSync(`${devDir(normalizeAddress(address))}/driver_override`, 'latin1').trim();
  return v === '' || v === '(null)' ? undefined : v;
}

/** Release the device from its driver (no-op when unbound); the override stays. */
export function unbindDriver(address: string): void {
  const a = normalizeAddress(address);
  const dir = devDir(a);
  if (linkBase(`${dir}/driver`) !== undefined) sysfsWrite(`${dir}/driver/unbind`, a);
}

/**
 * Bind the device to `driver`, or leave it unbound when `driver` is
 * undefined. The override stays set, so a rescan or a reloaded module does
 * not hand the device back to another driver behind the caller's back.
 */
export function bindDriver(address: string, driver: string | undefined): void {
  const a = normalizeAddress(address);
  if (driver !== undefined) checkDriverName(driver);
  const dir = devDir(a);
  const current = linkBase(`${dir}/driver`);
  if (current === driver && (driver === undefined || driverOverride(a) === driver)) return;
  if (driver !== undefined && !driverLoaded(driver)) {
    throw new PciError(`${a}: driver ${driver} is not loaded (modprobe ${driver})`, 'driver', a);
  }
  // Override before unbind: between the two no other driver may claim it.
  sysfsWrite(`${dir}/driver_override`, driver ?? '\n');
  if (current !== undefined) sysfsWrite(`${dir}/driver/unbind`, a);
  if (driver === undefined) return;
  // Probe after unbind: the override names the only driver that may take it.
  sysfsWrite(`${SYSFS_PCI}/drivers_probe`, a);
  const now = linkBase(`${dir}/driver`);
  if (now !== driver) throw new PciError(`${a}: ${driver} did not bind (now ${now ?? 'unbound'}; dmesg says why)`, 'driver', a);
}

/**
 * Clear the override and let the kernel choose the driver again (the one
 * whose ID table matches, e.g. nvme for class 0x010802). Returns its name.
 */
export function rebindDefault(address: string): string | undefined {
  const a = normalizeAddress(address);
  const dir = devDir(a);
  const current = linkBase(`${dir}/driver`);
  // Clear first: with the old override still set the probe would pick it again.
  sysfsWrite(`${dir}/driver_override`, '\n');
  if (current !== undefined) sysfsWrite(`${dir}/driver/unbind`, a);
  sysfsWrite(`${SYSFS_PCI}/drivers_probe`, a);
  return linkBase(`${dir}/driver`);
}

/** The device's IOMMU group, or a PciError('iommu') when the system has no IOMMU for it. */
export function iommuGroup(address: string): number {
  const a = normalizeAddress(address);
  const g = linkBase(`${devDir(a)}/iommu_group`);
  if (g === undefined) throw new PciError(`${a} has no IOMMU group: no IOMMU enabled (intel_iommu=on / amd_iommu=on on the kernel command line)`, 'iommu', a);
  return Number(g);
}

/** Addresses of every device in `address`'s IOMMU group (VFIO needs them all on vfio-pci or unbound). */
export function iommuGroupDevices(address: string): string[] {
  const g = iommuGroup(address);
  return fs.readdirSync(`${SYSFS_IOMMU_GROUPS}/${g}/devices`).sort();
}

/** The uio device name (uio0 ...) of a device held by a uio driver, undefined otherwise. */
export function uioName(address: string): string | undefined {
  try {
    return fs.readdirSync(`${devDir(normalizeAddress(address))}/uio`).find((n) => /^uio\d+$/.test(n));
  } catch (e) {
    if (e instanceof PciError) throw e;
    return undefined;
  }
}
