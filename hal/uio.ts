// The uio_pci_generic route: no IOMMU, so the device sees physical
// addresses. BAR0 is mapped through sysfs (resourceN), bus mastering is set
// through the sysfs config file, and DMA addresses come from
// /proc/self/pagemap (pagemap.ts). The uio driver only keeps the kernel's
// own driver off the device; /dev/uioN (interrupts) is not used: we poll.
import { PciAccessError, barSize, mapResource, readConfig, writeConfig, enableBusMaster, resourceUsers } from './pci.js';
import { pciDevice } from './pci-bind.js';

export class UioDevice {
  private constructor(readonly address: string) {}

  /** The device, which must be bound to uio_pci_generic and not mapped by another process (unless `shared`). */
  static open(address: string, shared: boolean): UioDevice {
    const dev = pciDevice(address);
    if (dev.driver !== 'uio_pci_generic') {
      throw new PciAccessError(`${address} is bound to ${dev.driver ?? 'no driver'}, not uio_pci_generic`, address, 'driver');
    }
    if (!shared) {
      const users = resourceUsers(address);
      if (users.length) {
        throw new PciAccessError(`${address} is in use: its BAR is mapped by ${users.map((u) => `pid ${u.pid} (${u.command})`).join(', ')}`, address, 'in-use');
      }
    }
    return new UioDevice(address);
  }

  barSize(bar: number): number {
    return barSize(this.address, bar);
  }

  mapBar(bar: number, base: bigint, memOff: number, len: number): void {
    mapResource(this.address, bar, base, memOff, len);
  }

  enableBusMaster(): void {
    enableBusMaster({
      read16: (off) => readConfig(this.address, off, 2),
      write16: (off, v) => writeConfig(this.address, off, 2, v),
    });
  }
}
