// VFIO (include/uapi/linux/vfio.h, Documentation/driver-api/vfio.rst): a
// PCI device bound to vfio-pci, reached through a container (the IOMMU
// context), its group and a device file descriptor. Nothing about NVMe.
//
//   /dev/vfio/vfio  --VFIO_SET_IOMMU(TYPE1v2)-->  container: IOVA -> memory map
//        ^ VFIO_GROUP_SET_CONTAINER
//   /dev/vfio/N     --VFIO_GROUP_GET_DEVICE_FD("DDDD:BB:DD.F")-->  device fd
//                                         regions: BAR0..5 (index 0..5), config (7)
//
// A group can be opened by one process only (EBUSY otherwise). Other
// processes of a multi-process group duplicate the holder's group file
// descriptor with pidfd_getfd(2) instead (as DPDK secondaries receive it over
// a socket): the group stays attached to the container, and so the DMA
// mappings stay, while any of them holds it.
import fs from 'node:fs';
import os from 'node:os';
import { c, errno, fail } from './libc.js';
import { HalError } from './errors.js';
import { openFile, closeFd, O_RDWR } from './fd.js';
import { mapFixed } from './mmap.js';
import { PciAccessError, fileHolders, commandOf } from './pci.js';
import { pciDevice } from './pci-bind.js';

// ioctl numbers: _IO(';', 100 + n); VFIO passes sizes in argsz, not in the number.
const VFIO_TYPE = 0x3b;
const VFIO_BASE = 100;
const vfioIo = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n);
export const VFIO_GET_API_VERSION = vfioIo(0);
export const VFIO_CHECK_EXTENSION = vfioIo(1);
export const VFIO_SET_IOMMU = vfioIo(2);
export const VFIO_GROUP_GET_STATUS = vfioIo(3);
export const VFIO_GROUP_SET_CONTAINER = vfioIo(4);
export const VFIO_GROUP_GET_DEVICE_FD = vfioIo(6);
export const VFIO_DEVICE_GET_REGION_INFO = vfioIo(8);
export const VFIO_DEVICE_GET_IRQ_INFO = vfioIo(9);
export const VFIO_DEVICE_SET_IRQS = vfioIo(10);
export const VFIO_IOMMU_MAP_DMA = vfioIo(13);
export const VFIO_IOMMU_UNMAP_DMA = vfioIo(14);

export const VFIO_API_VERSION = 0;
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;

// struct vfio_group_status { u32 argsz; u32 flags; }
const GROUP_STATUS_SIZE = 8;
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

// struct vfio_region_info { u32 argsz; u32 flags; u32 index; u32 cap_offset; u64 size; u64 offset; }
const RI_ARGSZ = 0;
const RI_FLAGS = 4;
const RI_INDEX = 8;
const RI_CAP_OFFSET = 12;
const RI_SIZE = 16;
const RI_OFFSET = 24;
const REGION_INFO_SIZE = 32;
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
// struct vfio_info_cap_header { u16 id; u16 version; u32 next; }
// VFIO_REGION_INFO_CAP_SPARSE_MMAP (id 1): { header; u32 nr_areas; u32 reserved; { u64 offset; u64 size; } areas[] }
const CAP_SPARSE_MMAP = 1;

export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;

// struct vfio_iommu_type1_dma_map { u32 argsz; u32 flags; u64 vaddr; u64 iova; u64 size; }
const DMA_MAP_SIZE = 32;
// struct vfio_iommu_type1_dma_unmap { u32 argsz; u32 flags; u64 iova; u64 size; }
const DMA_UNMAP_SIZE = 24;
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

// Interrupts (vfio.h): struct vfio_irq_info { u32 argsz; u32 flags; u32 index; u32 count; }
const IRQ_INFO_SIZE = 16;
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
// struct vfio_irq_set { u32 argsz; u32 flags; u32 index; u32 start; u32 count; u8 data[]; }
const IRQ_SET_SIZE = 20;
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
/** enum { INTX, MSI, MSIX, ERR, REQ } of vfio.h: the MSI-X interrupts' index. */
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;

const SYS_pidfd_open = 434; // x86-64
const SYS_pidfd_getfd = 438;

export interface RegionInfo {
  index: number;
  flags: number;
  size: number;
  /** Offset of the region in the device fd (for pread/pwrite/mmap). */
  offset: number;
  /** Bytes from the region's start that can be mmap'ed (a sparse-mmap hole, e.g. an MSI-X table, ends it). */
  mappable: number;
}

function ioctl(fd: number, req: number, arg: Buffer | number, what: string): number {
  const r = typeof arg === 'number' ? (c.ioctlInt(fd, req, arg) as number) : (c.ioctlPtr(fd, req, arg) as number);
  if (r < 0) throw new HalError('ioctl', errno(), what);
  return r;
}

/** The VFIO group number of a device, or a PciError saying there is no IOMMU. */
export function vfioGroupOf(address: string): number {
  const dev = pciDevice(address);
  if (dev.iommuGroup === undefined) {
    throw new PciAccessError(
      `${address} has no IOMMU group: VFIO needs an IOMMU (boot with intel_iommu=on iommu=pt, or a virtual IOMMU in a VM); without one use uio_pci_generic (nvme-wasm setup does this)`,
      address, 'iommu',
    );
  }
  return dev.iommuGroup;
}

/** Duplicate file descriptor `fd` of process `pid` into this process (pidfd_getfd, needs ptrace rights: same user or root). */
export function stealFd(pid: number, fd: number): number {
  const pidfd = Number(c.pidfdOpen(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) fail('pidfd_open', `pid ${pid}`);
  try {
    const dup = Number(c.pidfdGetfd(SYS_pidfd_getfd, pidfd, fd, 0));
    if (dup < 0) fail('pidfd_getfd', `fd ${fd} of pid ${pid}`);
    return dup;
  } finally {
    closeFd(pidfd);
  }
}

/** A VFIO device: its container (if this process created it), group and device file descriptors. */
export class VfioDevice {
  private closed = false;
  private constructor(
    readonly address: string,
    readonly group: number,
    /** -1 when the group was adopted from another process (its container already set). */
    readonly containerFd: number,
    readonly groupFd: number,
    readonly deviceFd: number,
  ) {}

  /**
   * Open the device for this process alone: a new container with the Type 1
   * IOMMU, the group attached to it, the device fd. EBUSY on the group (it
   * is open elsewhere) becomes a PciError naming the holders.
   */
  static open(address: string): VfioDevice {
    const group = vfioGroupOf(address);
    const groupPath = `/dev/vfio/${group}`;
    if (!fs.existsSync(groupPath)) {
      throw new PciAccessError(`${groupPath} does not exist: bind ${address} to vfio-pci (nvme-wasm setup)`, address, 'driver');
    }
    let container = -1;
    let groupFd = -1;
    try {
      container = openFile('/dev/vfio/vfio', O_RDWR);
      const version = ioctl(container, VFIO_GET_API_VERSION, 0, 'VFIO_GET_API_VERSION');
      if (version !== VFIO_API_VERSION) throw new PciAccessError(`${address}: the kernel's VFIO API is version ${version}, this driver speaks ${VFIO_API_VERSION}`, address, 'driver');
      const type = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU, 'VFIO_CHECK_EXTENSION') ? VFIO_TYPE1v2_IOMMU
        : ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU, 'VFIO_CHECK_EXTENSION') ? VFIO_TYPE1_IOMMU : 0;
      if (!type) throw new PciAccessError(`${address}: the kernel's VFIO has no Type 1 IOMMU driver (modprobe vfio_iommu_type1)`, address, 'iommu');
      try {
        groupFd = openFile(groupPath, O_RDWR);
      } catch (e) {
        if (e instanceof HalError && e.code === 'EBUSY') {
          const users = fileHolders(groupPath).map((h) => `pid ${h.pid} (${h.command})`);
          throw new PciAccessError(`${address} is in use: VFIO group ${group} is open in ${users.join(', ') || 'another process'}`, address, 'in-use');
        }
        throw e;
      }
      const status = groupStatus(groupFd);
      if (!(status & VFIO_GROUP_FLAGS_VIABLE)) {
        throw new PciAccessError(`VFIO group ${group} is not viable: bind every device of /sys/kernel/iommu_groups/${group}/devices to vfio-pci`, address, 'iommu');
      }
      const arg = Buffer.alloc(4);
      arg.writeInt32LE(container, 0);
      ioctl(groupFd, VFIO_GROUP_SET_CONTAINER, arg, 'VFIO_GROUP_SET_CONTAINER');
      ioctl(container, VFIO_SET_IOMMU, type, 'VFIO_SET_IOMMU');
      const deviceFd = ioctl(groupFd, VFIO_GROUP_GET_DEVICE_FD, Buffer.from(`${address}\0`, 'latin1'), `VFIO_GROUP_GET_DEVICE_FD ${address}`);
      return new VfioDevice(address, group, container, groupFd, deviceFd);
    } catch (e) {
      if (groupFd >= 0) closeFd(groupFd);
      if (container >= 0) closeFd(container);
      throw e;
    }
  }

  /**
   * Open the device through the group another process of ours holds (a
   * multi-process group's member): its group fd is duplicated, the
   * container and DMA mappings are the holder's.
   */
  static adopt(address: string): VfioDevice {
    const group = vfioGroupOf(address);
    const groupPath = `/dev/vfio/${group}`;
    const holders = fileHolders(groupPath);
    if (holders.length === 0) throw new PciAccessError(`${address}: no process holds VFIO group ${group} to share it`, address, 'in-use');
    let lastError: unknown;
    for (const h of holders) {
      let groupFd = -1;
      try {
        groupFd = stealFd(h.pid, h.fd);
        if (!(groupStatus(groupFd) & VFIO_GROUP_FLAGS_CONTAINER_SET)) throw new PciAccessError(`VFIO group ${group} held by pid ${h.pid} has no container yet`, address, 'in-use');
        const deviceFd = ioctl(groupFd, VFIO_GROUP_GET_DEVICE_FD, Buffer.from(`${address}\0`, 'latin1'), `VFIO_GROUP_GET_DEVICE_FD ${address}`);
        return new VfioDevice(address, group, -1, groupFd, deviceFd);
      } catch (e) {
        if (groupFd >= 0) closeFd(groupFd);
        lastError = e;
      }
    }
    throw lastError;
  }

  /** Region `index`'s size, offset in the device fd, flags and mmap-able prefix. */
  regionInfo(index: number): RegionInfo {
    let b = Buffer.alloc(REGION_INFO_SIZE);
    b.writeUInt32LE(REGION_INFO_SIZE, RI_ARGSZ);
    b.writeUInt32LE(index, RI_INDEX);
    ioctl(this.deviceFd, VFIO_DEVICE_GET_REGION_INFO, b, `VFIO_DEVICE_GET_REGION_INFO ${index}`);
    const need = b.readUInt32LE(RI_ARGSZ);
    if (need > REGION_INFO_SIZE) {
      // Capabilities follow: ask again with room for them.
      b = Buffer.alloc(need);
      b.writeUInt32LE(need, RI_ARGSZ);
      b.writeUInt32LE(index, RI_INDEX);
      ioctl(this.deviceFd, VFIO_DEVICE_GET_REGION_INFO, b, `VFIO_DEVICE_GET_REGION_INFO ${index}`);
    }
    const flags = b.readUInt32LE(RI_FLAGS);
    const size = Number(b.readBigUInt64LE(RI_SIZE));
    let mappable = flags & VFIO_REGION_INFO_FLAG_MMAP ? size : 0;
    if (flags & VFIO_REGION_INFO_FLAG_CAPS && b.length > REGION_INFO_SIZE) {
      for (let cap = b.readUInt32LE(RI_CAP_OFFSET); cap !== 0 && cap + 16 <= b.length; cap = b.readUInt32LE(cap + 4)) {
        if (b.readUInt16LE(cap) !== CAP_SPARSE_MMAP) continue;
        // The mappable prefix: the area starting at 0, if any.
        mappable = 0;
        const n = b.readUInt32LE(cap + 8);
        for (let i = 0; i < n; i++) {
          const a = cap + 16 + i * 16;
          if (b.readBigUInt64LE(a) === 0n) mappable = Number(b.readBigUInt64LE(a + 8));
        }
      }
    }
    return { index, flags, size, offset: Number(b.readBigUInt64LE(RI_OFFSET)), mappable };
  }

  /** Map `len` bytes of region `index` over memory offset `memOff` of a memory at `base`. */
  mapRegion(index: number, base: bigint, memOff: number, len: number): void {
    const r = this.regionInfo(index);
    if (len > r.mappable) throw new PciAccessError(`${this.address}: region ${index} has ${r.mappable} mmap-able bytes, ${len} wanted`, this.address, 'permission');
    mapFixed(base, memOff, len, this.deviceFd, r.offset);
  }

  private configOffset(): number {
    return this.regionInfo(VFIO_PCI_CONFIG_REGION_INDEX).offset;
  }

  read16(off: number): number {
    const b = Buffer.alloc(2);
    if (fs.readSync(this.deviceFd, b, 0, 2, this.configOffset() + off) !== 2) throw new HalError('pread', os.constants.errno.EIO, `${this.address}: config space at ${off}, short read`);
    return b.readUInt16LE(0);
  }

  write16(off: number, v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v, 0);
    fs.writeSync(this.deviceFd, b, 0, 2, this.configOffset() + off);
  }

  /** Interrupt index `index`: how many vectors it has, and whether they can signal eventfds. */
  irqInfo(index: number): { count: number; eventfd: boolean } {
    const b = Buffer.alloc(IRQ_INFO_SIZE);
    b.writeUInt32LE(IRQ_INFO_SIZE, 0);
    b.writeUInt32LE(index, 8);
    ioctl(this.deviceFd, VFIO_DEVICE_GET_IRQ_INFO, b, `VFIO_DEVICE_GET_IRQ_INFO ${index}`);
    return { count: b.readUInt32LE(12), eventfd: (b.readUInt32LE(4) & VFIO_IRQ_INFO_EVENTFD) !== 0 };
  }

  /**
   * Vectors `start` .. `start + fds.length - 1` of interrupt index `index`
   * signal eventfds `fds` (-1: that vector signals nothing). The first call
   * on an index enables it with `start + fds.length` vectors (vfio-pci
   * allocates them then; later calls may only change vectors below that).
   */
  setIrqEventfds(index: number, start: number, fds: number[]): void {
    const b = Buffer.alloc(IRQ_SET_SIZE + 4 * fds.length);
    b.writeUInt32LE(b.length, 0);
    b.writeUInt32LE(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 4);
    b.writeUInt32LE(index, 8);
    b.writeUInt32LE(start, 12);
    b.writeUInt32LE(fds.length, 16);
    fds.forEach((fd, i) => b.writeInt32LE(fd, IRQ_SET_SIZE + 4 * i));
    ioctl(this.deviceFd, VFIO_DEVICE_SET_IRQS, b, `VFIO_DEVICE_SET_IRQS index ${index} vectors ${start}+${fds.length}`);
  }

  /** Disable interrupt index `index` (every vector; DATA_NONE with count 0). */
  disableIrqs(index: number): void {
    const b = Buffer.alloc(IRQ_SET_SIZE);
    b.writeUInt32LE(IRQ_SET_SIZE, 0);
    b.writeUInt32LE(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 4);
    b.writeUInt32LE(index, 8);
    ioctl(this.deviceFd, VFIO_DEVICE_SET_IRQS, b, `VFIO_DEVICE_SET_IRQS index ${index} off`);
  }

  /** Let the device reach [vaddr, vaddr + size) of this process at `iova` (container owners only). */
  mapDma(vaddr: bigint, iova: bigint, size: number): void {
    if (this.containerFd < 0) throw new PciAccessError(`${this.address}: DMA mapping on an adopted VFIO group (the container belongs to another process)`, this.address, 'in-use');
    const b = Buffer.alloc(DMA_MAP_SIZE);
    b.writeUInt32LE(DMA_MAP_SIZE, 0);
    b.writeUInt32LE(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, 4);
    b.writeBigUInt64LE(vaddr, 8);
    b.writeBigUInt64LE(iova, 16);
    b.writeBigUInt64LE(BigInt(size), 24);
    ioctl(this.containerFd, VFIO_IOMMU_MAP_DMA, b, `VFIO_IOMMU_MAP_DMA ${size} bytes at IOVA 0x${iova.toString(16)}`);
  }

  unmapDma(iova: bigint, size: number): void {
    if (this.containerFd < 0) return;
    const b = Buffer.alloc(DMA_UNMAP_SIZE);
    b.writeUInt32LE(DMA_UNMAP_SIZE, 0);
    b.writeBigUInt64LE(iova, 8);
    b.writeBigUInt64LE(BigInt(size), 16);
    ioctl(this.containerFd, VFIO_IOMMU_UNMAP_DMA, b, 'VFIO_IOMMU_UNMAP_DMA');
  }

  /** Close the device, group and container fds (the last holder's close detaches and resets the device). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.deviceFd);
    closeFd(this.groupFd);
    if (this.containerFd >= 0) closeFd(this.containerFd);
  }
}

function groupStatus(groupFd: number): number {
  const b = Buffer.alloc(GROUP_STATUS_SIZE);
  b.writeUInt32LE(GROUP_STATUS_SIZE, 0);
  ioctl(groupFd, VFIO_GROUP_GET_STATUS, b, 'VFIO_GROUP_GET_STATUS');
  return b.readUInt32LE(4);
}

/** Who holds a device's VFIO group open, for error messages. */
export function vfioUsers(address: string): string[] {
  const dev = pciDevice(address);
  if (dev.iommuGroup === undefined) return [];
  return fileHolders(`/dev/vfio/${dev.iommuGroup}`).map((h) => `pid ${h.pid} (${commandOf(h.pid)})`);
}
