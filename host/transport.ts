// How a controller is reached: where its BAR0 comes from and how the shared
// region becomes DMA-able. Two kinds: the simulated controller, and PCIe
// through VFIO (vfio-pci, behind an IOMMU) or uio_pci_generic (no IOMMU,
// physical addresses from /proc/self/pagemap). Which PCIe route is taken
// follows the driver the device is bound to (nvme-wasm setup binds it).
import {
  openFile, closeFd, mapFixed, O_RDWR, hugetlbfsMount, pciDevice, VfioDevice, UioDevice, PciError, PciAccessError, HalError,
  lockMemory, physicalPages, PagemapError, fileHolders, enableBusMaster, unmapFixed,
} from '../hal/index.js';
import { DMA_PAGE_SIZE } from '../assembly/abi/region.js';
import { REG_DBS, PCI_CLASS_NVME } from '../assembly/nvme/regs.js';
import type { TransportId } from './trid.js';
import type { SimConfigInput } from './sim/config.js';
import type { SimClient } from './sim/client.js';
import { ControllerError, PcieError, ResourceError } from './errors.js';
import type { Mmio } from '../hal/index.js';
import type { FabricAssociation } from './fabrics/association.js';
import fs from 'node:fs';
import { simInterrupts, vfioInterrupts, noInterrupts, type InterruptProvider } from './interrupts.js';

export interface Transport {
  /** As SPDK would print it, e.g. 'trtype:sim name:sim0'. */
  readonly description: string;
  /** A transport ID another process can open to reach the same device. */
  readonly trid: string;
  readonly barSize: number;
  /** True when the device is this process's own (embedded) simulator. */
  readonly embedded: boolean;
  /** The simulated controller's sideband (fault injection, events), for sim transports. */
  readonly sim?: SimClient;
  /** 'vfio' or 'uio' on PCIe; undefined for the simulator. */
  readonly route?: 'vfio' | 'uio';
  /** The registers when they are not in BAR0 (NVMe/TCP: properties). */
  readonly registers?: Mmio;
  /** NVMe/TCP: the association that plays the device on the rings. */
  readonly fabric?: FabricAssociation;
  /** Interrupt vectors for completionMode 'interrupt' / 'adaptive' (host/interrupts.ts); absent: none. */
  readonly interrupts?: InterruptProvider;
  /** Map BAR0 over memory offset `memOff` of a memory whose base is `base`. */
  mapBar(base: bigint, memOff: number): void;
  /**
   * Make the region file (mapped in this process at virtual address `vaddr`)
   * DMA-able. Resolves undefined when device addresses are `iova` + region
   * offset (VFIO, simulator), or with the device address of each
   * DMA_PAGE_SIZE page of the region (uio: physical addresses).
   */
  mapDma(regionPath: string, iova: bigint, size: number, vaddr: bigint): Promise<bigint[] | undefined>;
  /** Detach (and for an embedded simulator, stop it). */
  close(): Promise<void>;
  /**
   * False once the device is known gone by other means than its registers
   * (a simulator's process that died leaves its register page as it was).
   * Checked by the group duties every 100 ms. Absent: the registers tell.
   */
  alive?(): boolean;
}

/** Device address of region offset 0 (VFIO-style scheme; above 4 GiB to exercise 64-bit PRPs). */
export const IOVA_BASE = 0x1_0000_0000n;

let embeddedCount = 0;

export interface OpenTransportOptions {
  /** Joining a group whose primary already has the device: share it instead of claiming it. */
  secondary?: boolean;
  /** Entries of the admin queue (NVMe/TCP: the admin Connect's SQSIZE). */
  adminDepth?: number;
}

export async function openTransport(id: TransportId, sim: SimConfigInput | undefined, opts: OpenTransportOptions = {}): Promise<Transport> {
  if (id.trtype === 'pcie') return pcieTransport(id.traddr, opts.secondary ?? false);
  if (id.trtype === 'tcp') {
    const tcp = await import('./fabrics/tcp-transport.js');
    return tcp.openTcpTransport(id, opts.adminDepth ?? 32);
  }
  // Imported here so that tools that never use the simulator do not load it; a
  // simulator of another process needs its client only, not the simulator's code.
  if (id.trtype === 'embedded') {
    const { startSimWorker } = await import('./sim/embedded.js');
    const name = sim?.name ?? `emb-${process.pid}-${embeddedCount++}`;
    const handle = await startSimWorker({ ...(sim ?? {}), name });
    return simTransport(handle.client, `trtype:sim name:${name}`, `trtype:sim name:${name} (embedded)`, true, () => handle.stop());
  }
  if (id.trtype === 'sim') {
    const { SimClient } = await import('./sim/client.js');
    const client = SimClient.open(id.name, id.directory);
    const trid = `trtype:sim name:${id.name}${id.directory ? ` dir:${id.directory}` : ''}`;
    return simTransport(client, trid, `trtype:sim name:${id.name}`, false, async () => {
      client.releaseDma(); // another driver may have it now
      client.close();
    });
  }
  throw new ControllerError(`transport ${(id as { trtype: string }).trtype} is not supported`, 'unsupported');
}

function simTransport(client: SimClient, trid: string, description: string, embedded: boolean, close: () => Promise<void>): Transport {
  return {
    trid,
    description,
    embedded,
    sim: client,
    interrupts: simInterrupts(client),
    barSize: client.barSize,
    mapBar(base, memOff) {
      const fd = openFile(client.barPath, O_RDWR);
      try {
        mapFixed(base, memOff, client.barSize, fd);
      } finally {
        closeFd(fd); // the mapping keeps the file
      }
    },
    mapDma: async (path, iova, size) => {
      await client.mapDma(path, iova, size);
      return undefined;
    },
    close,
    alive: () => client.isAlive(),
  };
}

// ---- PCIe ----

const SETUP_HINT = "run 'nvme-wasm setup' (as root) to reserve hugepages and bind NVMe devices to vfio-pci or uio_pci_generic";

/** Block devices and mount points the kernel nvme driver has for `address` (to say what to unmount). */
export function kernelUsers(address: string): string[] {
  const dir = `/sys/bus/pci/devices/${address}/nvme`;
  let ctrls: string[] = [];
  try {
    ctrls = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const c of ctrls) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(`${dir}/${c}`).filter((n) => /^nvme\d+(c\d+)?n\d+$/.test(n));
    } catch {
      /* gone */
    }
    out.push(`/dev/${c}`, ...entries.map((n) => `/dev/${n}`));
  }
  return out;
}

/** Turn HAL failures into typed errors that say what to do. */
function pcieFailure(address: string, e: unknown): Error {
  if (e instanceof PcieError) return e;
  if (e instanceof PciError) return new PcieError(e.message, address, e.reason === 'argument' ? 'missing' : e.reason);
  if (e instanceof PciAccessError) return new PcieError(e.message, address, e.reason);
  if (e instanceof PagemapError) return new PcieError(`${address}: ${e.message}`, address, 'permission');
  if (e instanceof HalError && (e.code === 'EACCES' || e.code === 'EPERM')) {
    return new PcieError(`${address}: ${e.message}: user-space PCIe access needs root (or CAP_SYS_ADMIN and access to /dev/vfio)`, address, 'permission');
  }
  return e as Error;
}

/** Check the device exists, is not the kernel's, and pick the route from its driver. */
function pcieRoute(address: string): 'vfio' | 'uio' {
  const dev = pciDevice(address);
  // Setup advice is for NVMe controllers only: anything else is simply not ours.
  if (dev.classCode !== PCI_CLASS_NVME) {
    const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
    throw new PcieError(`${address} is not an NVMe controller (class ${hex(dev.classCode, 6)}, ${hex(dev.vendor, 4)}:${hex(dev.device, 4)}; NVMe is class 010802)`, address, 'missing');
  }
  if (dev.driver === 'vfio-pci') return 'vfio';
  if (dev.driver === 'uio_pci_generic') return 'uio';
  if (dev.driver === 'nvme') {
    const users = kernelUsers(address);
    throw new PcieError(`${address} is bound to the kernel nvme driver${users.length ? ` (${users.join(', ')})` : ''}: ${SETUP_HINT}`, address, 'driver');
  }
  throw new PcieError(`${address} is bound to ${dev.driver ?? 'no driver'}: ${SETUP_HINT}`, address, 'driver');
}

/** DMA memory on PCIe must be hugetlbfs: it must not move, be swapped, or cross a 2 MiB page unevenly. */
function checkHugetlbfs(address: string, regionPath: string): void {
  const mount = hugetlbfsMount();
  if (!mount || !regionPath.startsWith(`${mount}/`)) {
    throw new ResourceError(
      `${address}: the shared region ${regionPath} is not on hugetlbfs; PCIe DMA memory must be hugepages: ${mount ? 'reserve more 2 MiB pages' : 'mount hugetlbfs and reserve pages'} (nvme-wasm setup, or HUGEMEM=<MiB> nvme-wasm setup)`,
      'dma',
    );
  }
}

/** Throw a PcieError if the device cannot be opened as it is bound (missing, kernel driver, unbound). */
export function checkPcieDevice(address: string): void {
  let route: 'vfio' | 'uio';
  try {
    route = pcieRoute(address);
  } catch (e) {
    throw pcieFailure(address, e);
  }
  checkRights(address, route);
}

/**
 * Before anything is created: the uio route reads physical addresses
 * (CAP_SYS_ADMIN) and maps sysfs resources (root); VFIO needs read-write
 * access to the group's /dev/vfio node.
 */
function checkRights(address: string, route: 'vfio' | 'uio'): void {
  const root = typeof process.getuid !== 'function' || process.getuid() === 0;
  if (route === 'uio' && !root) {
    throw new PcieError(`${address} is on uio_pci_generic: user-space access then needs root (physical addresses from /proc/self/pagemap, the BAR through sysfs)`, address, 'permission');
  }
  if (route === 'vfio') {
    const node = `/dev/vfio/${pciDevice(address).iommuGroup}`;
    try {
      fs.accessSync(node, fs.constants.R_OK | fs.constants.W_OK);
      fs.accessSync('/dev/vfio/vfio', fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      throw new PcieError(`${address}: no read-write access to ${node} and /dev/vfio/vfio: run as root (or give this user the VFIO group)`, address, 'permission');
    }
  }
}

function pcieTransport(address: string, secondary: boolean): Transport {
  try {
    const route = pcieRoute(address);
    return route === 'vfio' ? vfioTransport(address, secondary) : uioTransport(address, secondary);
  } catch (e) {
    throw pcieFailure(address, e);
  }
}

function vfioTransport(address: string, secondary: boolean): Transport {
  let dev: VfioDevice;
  if (secondary) {
    // Our group's primary (or another member) holds the VFIO group: share it.
    dev = fileHolders(`/dev/vfio/${pciDevice(address).iommuGroup}`).length ? VfioDevice.adopt(address) : VfioDevice.open(address);
  } else {
    dev = VfioDevice.open(address);
  }
  try {
    const bar = dev.regionInfo(0);
    if (bar.mappable < REG_DBS) throw new PcieError(`${address}: BAR0 is not mmap-able through VFIO (${bar.mappable} of ${bar.size} bytes)`, address, 'permission');
    enableBusMaster(dev); // through the config region: vfio-pci passes the bus-master bit through
    const trid = `trtype:PCIe traddr:${address}`;
    const bars = new BarWindows();
    const interrupts = vfioInterrupts(dev);
    return {
      trid,
      description: trid,
      embedded: false,
      route: 'vfio',
      interrupts,
      barSize: bar.mappable,
      mapBar(base, memOff) {
        dev.mapRegion(0, base, memOff, bar.mappable);
        bars.add(base, memOff, bar.mappable);
      },
      async mapDma(regionPath, iova, size, vaddr) {
        checkHugetlbfs(address, regionPath);
        // Adopted groups share the holder's container, where the region is mapped already.
        if (dev.containerFd >= 0) dev.mapDma(vaddr, iova, size);
        return undefined;
      },
      async close() {
        interrupts.close(); // before the device fd goes
        bars.unmapAll(); // the mapping holds the device file, and so the VFIO group, open
        dev.close();
      },
    };
  } catch (e) {
    dev.close();
    throw pcieFailure(address, e);
  }
}

function uioTransport(address: string, secondary: boolean): Transport {
  const dev = UioDevice.open(address, secondary);
  dev.enableBusMaster();
  const size = dev.barSize(0);
  const trid = `trtype:PCIe traddr:${address}`;
  const bars = new BarWindows();
  return {
    trid,
    description: trid,
    embedded: false,
    route: 'uio',
    interrupts: noInterrupts(`${address} is on uio_pci_generic (INTx only): its queue pairs poll`),
    barSize: size,
    mapBar(base, memOff) {
      try {
        dev.mapBar(0, base, memOff, size);
        bars.add(base, memOff, size);
      } catch (e) {
        throw pcieFailure(address, e);
      }
    },
    async mapDma(regionPath, _iova, len, vaddr) {
      checkHugetlbfs(address, regionPath);
      try {
        lockMemory(vaddr, len);
        return physicalPages(vaddr, len, DMA_PAGE_SIZE);
      } catch (e) {
        throw pcieFailure(address, e);
      }
    },
    async close() {
      bars.unmapAll(); // other processes see who maps the BAR: stop being one
    },
  };
}

/** Where this transport mapped BAR0, so close() can put anonymous memory back. */
class BarWindows {
  private readonly windows: Array<{ base: bigint; memOff: number; len: number }> = [];
  add(base: bigint, memOff: number, len: number): void {
    this.windows.push({ base, memOff, len });
  }
  unmapAll(): void {
    for (const w of this.windows.splice(0)) unmapFixed(w.base, w.memOff, w.len);
  }
}
