// What a guest-side test (test/vm-*.test.ts) is told by the harness, from
// its environment (written by test/vm/guest.ts and test/vm/main.ts; see
// test/vm/README.md). Outside a guest NVME_WASM_VM_PCI is unset and
// vmConfig() returns undefined: the tests skip themselves.
import type { VmDevice } from './guest.js';

export type { VmDevice };

/** User-space route the run is about: uio_pci_generic or vfio-pci. */
export type VmRoute = 'uio' | 'vfio';

/** Kernel driver each route binds the controller to. */
export const ROUTE_DRIVER: Readonly<Record<VmRoute, string>> = { uio: 'uio_pci_generic', vfio: 'vfio-pci' };

/** QEMU's NVMe controller: PCI vendor Red Hat (QEMU), device "QEMU NVM Express Controller". */
export const QEMU_NVME_VENDOR = 0x1b36;
export const QEMU_NVME_DEVICE = 0x0010;
/** PCI class code of an NVM Express controller: mass storage (01), NVM (08), NVMe programming interface (02). */
export { PCI_CLASS_NVME } from '../../assembly/nvme/regs.js';

export interface VmConfig {
  /** Controllers, in NVME_WASM_VM_PCI order. */
  devices: VmDevice[];
  route: VmRoute;
  /** The guest has an IOMMU (vfio-pci usable). */
  iommu: boolean;
  /** Writable folder whose files the host gets back. */
  shared: string | undefined;
}

export function vmConfig(env: NodeJS.ProcessEnv = process.env): VmConfig | undefined {
  const pci = env.NVME_WASM_VM_PCI;
  if (!pci) return undefined;
  const devices = JSON.parse(env.NVME_WASM_VM_DEVICES ?? '[]') as VmDevice[];
  const order = pci.split(',');
  const sorted = order.map((bdf) => devices.find((d) => d.bdf === bdf) ?? { bdf, serial: '', maxIoQpairs: 0, mdts: 0, namespaces: [] });
  const route = env.NVME_WASM_VM_ROUTE === 'uio' ? 'uio' : 'vfio';
  return { devices: sorted, route, iommu: env.NVME_WASM_VM_IOMMU === '1', shared: env.NVME_WASM_VM_SHARED };
}
