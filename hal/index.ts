// The hardware abstraction layer: system calls through koffi, nothing about
// NVMe. The host is the only user.
export { HalError } from './errors.js';
export { openFile, truncateFile, allocateFile, closeFd, O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, flockShared, tryFlockExclusive } from './fd.js';
export { addressOf, createSharedMemory, alignedOffset, mapFixed, unmapFixed } from './mmap.js';
export { futexWait, futexWaitAsync, futexWake, yieldCpu } from './futex.js';
export { Mmio } from './mmio.js';
export { processStartTime, processAlive, processLiveness, pidRunning, currentPid, type Liveness } from './proc.js';
export { hugetlbfsMount, hugePagesFree, hugepageStatus, reserveHugepages, type HugepageStatus } from './hugepages.js';
export * as pciBind from './pci-bind.js';
export { PciError, pciDevice, listPciDevices, bindDriver, rebindDefault, driverLoaded, normalizeAddress, type PciDevice } from './pci-bind.js';
export {
  PciAccessError, readConfig, writeConfig, enableBusMaster, barSize, mapResource, resourceUsers, fileHolders, commandOf, iommuPresent,
} from './pci.js';
export { VfioDevice, vfioGroupOf, vfioUsers, stealFd, VFIO_PCI_MSIX_IRQ_INDEX } from './vfio.js';
export { eventfdCreate, eventfdDrain, eventfdSignal, pollReadableAsync, ReadableSet } from './eventfd.js';
export { Gather, gatherable, GATHER_BLOCKED, IOV_MAX } from './sendmsg.js';
export { recvNonBlocking, sendNonBlocking, dupSocket, RECV_NOTHING, SEND_BLOCKED } from './socket.js';
export { UioDevice } from './uio.js';
export { physicalPages, physicalAddress, lockMemory, PagemapError } from './pagemap.js';
export { peerCredentials, socketFd, type PeerCredentials } from './peercred.js';
