// Guest side: the kernel nvme driver's view of a controller, from sysfs.
// Used by the vm-*.test files and the VM bench, which hand a controller to a
// user-space route and need to know when the kernel has it back.
//
//   /sys/class/nvme/nvmeN/address     the PCI address it drives
//   /sys/class/nvme/nvmeN/serial      Identify Controller SN
//   /sys/block/nvmeNnM/nsid           namespace of each block device
import fs from 'node:fs';
import type { VmDevice } from './guest.js';
import { VmWaitTimeoutError } from './errors.js';

/** The kernel's controller (nvmeN) at `bdf`, if the nvme driver holds it. */
export function kernelController(bdf: string): string | undefined {
  const dir = '/sys/class/nvme';
  if (!fs.existsSync(dir)) return undefined;
  return fs.readdirSync(dir).find((c) => {
    try {
      return fs.readFileSync(`${dir}/${c}/address`, 'latin1').trim() === bdf;
    } catch {
      return false;
    }
  });
}

/** Block devices of a controller's namespaces: nsid -> nvmeNnM. */
export function kernelNamespaces(ctrl: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const b of fs.readdirSync('/sys/block')) {
    if (!b.startsWith(`${ctrl}n`)) continue;
    try {
      out.set(Number(fs.readFileSync(`/sys/block/${b}/nsid`, 'latin1').trim()), b);
    } catch {
      /* going away meanwhile */
    }
  }
  return out;
}

/** Polls `cond` every 100 ms until it yields a value: the kernel probes and scans in work items. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new VmWaitTimeoutError(what, timeoutMs);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until nvme holds `d` with a block device for every namespace. */
export async function kernelReady(d: { bdf: string; namespaces: ReadonlyArray<Pick<VmDevice['namespaces'][number], 'nsid'>> }): Promise<{ ctrl: string; ns: Map<number, string> }> {
  return waitFor(`nvme to hold ${d.bdf} with ${d.namespaces.length} namespace(s)`, () => {
    const ctrl = kernelController(d.bdf);
    if (!ctrl) return undefined;
    const ns = kernelNamespaces(ctrl);
    return ns.size === d.namespaces.length && [...ns.values()].every((b) => fs.existsSync(`/dev/${b}`)) ? { ctrl, ns } : undefined;
  });
}
