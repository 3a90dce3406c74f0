// `nvme-wasm setup`: the counterpart of SPDK's scripts/setup.sh.
//
//   setup          reserve hugepages (--hugemem MiB or HUGEMEM; by default what
//                  is reserved if >= 64 MiB, else 2048 MiB up to 1/4 of memory)
//                  and mount hugetlbfs; bind NVMe devices to vfio-pci when an
//                  IOMMU is present, to uio_pci_generic otherwise (--driver
//                  overrides); --allow / --block (PCI_ALLOWED / PCI_BLOCKED)
//                  choose the devices. A device with a mounted filesystem,
//                  swap, a stacked device (dm, md) or an open block device is
//                  refused, naming what uses it.
//   setup status   hugepages, and every NVMe device with its driver and users
//   setup reset    give the devices back to the kernel nvme driver (refused
//                  while a user-space driver process still has one)
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Command, InvalidArgumentError as OptionValueError } from 'commander';
import {
  listPciDevices, bindDriver, rebindDefault, driverLoaded, iommuPresent, fileHolders, resourceUsers, vfioUsers,
  hugepageStatus, reserveHugepages, pciBind, type PciDevice,
} from '../../hal/index.js';
import { PCI_CLASS_NVME } from '../../assembly/nvme/regs.js';
import { kernelUsers } from '../transport.js';
import { InvalidArgumentError, PcieError } from '../errors.js';
import { intArg } from './options.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);

export const USER_SPACE_DRIVERS = ['vfio-pci', 'uio_pci_generic'] as const;
const DEFAULT_HUGEMEM_MIB = 2048;
/** Without --hugemem or HUGEMEM: enough for the default 64 MiB region is enough. */
const MIN_DEFAULT_HUGEMEM_MIB = 64;
/** ... and a default never takes more than this share of the machine's memory. */
const DEFAULT_MAX_SHARE = 0.25;
const HUGEPAGE_MOUNT = '/dev/hugepages';

/** A PCI address list: DDDD:BB:DD.F or BB:DD.F (domain 0000), separated by spaces or commas. */
export function parseAddressList(text: string | undefined, what: string): string[] {
  if (!text || !text.trim()) return [];
  return text.trim().split(/[\s,]+/).map((a) => {
    const full = (/^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(a) ? `0000:${a}` : a).toLowerCase();
    if (!pciBind.PCI_ADDRESS_RE.test(full)) throw new InvalidArgumentError(what, 'PCI addresses DDDD:BB:DD.F (or BB:DD.F), separated by spaces or commas', a);
    return full;
  });
}

export interface DeviceSelection {
  allow: string[];
  block: string[];
}

/** NVMe devices (PCI class 01:08:02), allow list applied first, then the block list. */
export function nvmeDevices(sel: DeviceSelection): PciDevice[] {
  return listPciDevices(PCI_CLASS_NVME).filter((d) => (sel.allow.length === 0 || sel.allow.includes(d.address)) && !sel.block.includes(d.address));
}

/**
 * What keeps a device busy, in words: for the kernel driver, mounted
 * filesystems, swap, stacked devices and processes with its block devices
 * open; for user-space drivers, the processes holding it.
 */
export function deviceUsers(dev: PciDevice): string[] {
  const users: string[] = [];
  if (dev.driver === 'nvme') {
    const nodes = kernelUsers(dev.address).filter((p) => /n\d+$/.test(p));
    const names = nodes.map((p) => p.slice('/dev/'.length));
    // Partitions: nvme0n1p1 ... (sysfs lists them under the disk).
    const parts = names.flatMap((n) => {
      try {
        return fs.readdirSync(`/sys/block/${n}`).filter((x) => x.startsWith(`${n}p`));
      } catch {
        return [];
      }
    });
    const all = [...names, ...parts];
    const isOurs = (path: string) => all.some((n) => path === `/dev/${n}`);
    try {
      for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
        const [src, dir, type] = line.split(' ');
        if (src && isOurs(src)) users.push(`mount ${src} on ${dir} (${type})`);
      }
    } catch {
      /* no /proc/mounts */
    }
    try {
      for (const line of fs.readFileSync('/proc/swaps', 'utf8').split('\n').slice(1)) {
        const src = line.split(/\s+/)[0];
        if (src && isOurs(src)) users.push(`swap on ${src}`);
      }
    } catch {
      /* no swap */
    }
    for (const n of all) {
      const base = parts.includes(n) ? `/sys/block/${n.replace(/p\d+$/, '')}/${n}` : `/sys/block/${n}`;
      try {
        for (const h of fs.readdirSync(`${base}/holders`)) users.push(`${h} is stacked on /dev/${n}`);
      } catch {
        /* no holders directory */
      }
    }
    const devNodes = new Set([...all.map((n) => `/dev/${n}`), ...kernelUsers(dev.address).filter((p) => /nvme\d+$/.test(p))]);
    for (const h of fileHolders((l) => devNodes.has(l))) users.push(`pid ${h.pid} (${h.command}) has it open`);
  } else if (dev.driver === 'vfio-pci') {
    for (const u of vfioUsers(dev.address)) users.push(`${u} holds its VFIO group`);
  } else if (dev.driver === 'uio_pci_generic') {
    for (const u of resourceUsers(dev.address)) users.push(`pid ${u.pid} (${u.command}) maps its BAR`);
  }
  return users;
}

function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PcieError(`nvme-wasm setup${what ? ` ${what}` : ''} needs root (it writes /proc/sys/vm/nr_hugepages and /sys/bus/pci)`, '', 'permission');
  }
}

/** Load a driver module if its sysfs directory is missing. */
function loadDriver(driver: string): void {
  if (driverLoaded(driver)) return;
  try {
    execFileSync('modprobe', [driver], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const msg = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new PcieError(`driver ${driver} is not loaded and modprobe ${driver} failed${msg ? `: ${msg}` : ''}`, '', 'driver');
  }
  if (!driverLoaded(driver)) throw new PcieError(`driver ${driver} did not appear in /sys/bus/pci/drivers after modprobe`, '', 'driver');
}

/** Reserve hugepages for `mib` MiB (never fewer than are reserved already) and mount hugetlbfs. */
export function setupHugepages(mib: number): string {
  const st = hugepageStatus();
  const pageMib = st.pageSize / (1024 * 1024) || 2;
  const want = Math.ceil(mib / pageMib);
  let total = st.total;
  if (want > total) total = reserveHugepages(want);
  let mount = st.mount;
  if (!mount) {
    fs.mkdirSync(HUGEPAGE_MOUNT, { recursive: true });
    execFileSync('mount', ['-t', 'hugetlbfs', 'nodev', HUGEPAGE_MOUNT], { stdio: ['ignore', 'ignore', 'pipe'] });
    mount = HUGEPAGE_MOUNT;
  }
  const short = total < want ? ` (asked for ${want}: the kernel could not find more; free memory, or reserve at boot with hugepages=${want})` : '';
  return `hugepages: ${total} x ${pageMib} MiB reserved${short}, hugetlbfs at ${mount}`;
}

interface SetupCliOptions {
  hugemem?: number;
  allow?: string;
  block?: string;
  driver?: string;
}

function selection(o: SetupCliOptions): DeviceSelection {
  return {
    allow: parseAddressList(o.allow ?? process.env.PCI_ALLOWED, o.allow !== undefined ? '--allow' : 'PCI_ALLOWED'),
    block: parseAddressList(o.block ?? process.env.PCI_BLOCKED, o.block !== undefined ? '--block' : 'PCI_BLOCKED'),
  };
}

function memTotalMib(): number {
  try {
    return Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/**
 * MiB of hugepages to have: --hugemem, else HUGEMEM, else what is reserved
 * already if it is at least 64 MiB, else 2048 MiB capped at a quarter of
 * the memory (hugepages are taken from everything else: a small VM would
 * starve).
 */
function hugememMib(o: SetupCliOptions): number {
  if (o.hugemem !== undefined) return o.hugemem;
  const env = process.env.HUGEMEM;
  if (env === undefined || env === '') {
    const st = hugepageStatus();
    const have = (st.total * st.pageSize) / 2 ** 20;
    if (have >= MIN_DEFAULT_HUGEMEM_MIB) return have;
    const mem = memTotalMib();
    return Math.max(MIN_DEFAULT_HUGEMEM_MIB, Math.min(DEFAULT_HUGEMEM_MIB, mem ? Math.floor(mem * DEFAULT_MAX_SHARE) : DEFAULT_HUGEMEM_MIB));
  }
  if (!/^\d+$/.test(env.trim())) throw new InvalidArgumentError('HUGEMEM', 'a number of MiB', env);
  return Number(env.trim());
}

function noDevices(sel: DeviceSelection): string {
  const all = listPciDevices(PCI_CLASS_NVME);
  if (all.length === 0) return 'no NVMe devices found (no PCI device of class 01:08:02 in /sys/bus/pci/devices)';
  return `no NVMe device selected (found ${all.map((d) => d.address).join(', ')}; allow list: ${sel.allow.join(' ') || 'all'}, block list: ${sel.block.join(' ') || 'none'})`;
}

/** `setup`: hugepages, then bind. Returns the number of devices refused. */
export function runSetup(o: SetupCliOptions): number {
  const sel = selection(o);
  requireRoot('');
  const driver = o.driver ?? (iommuPresent() ? 'vfio-pci' : 'uio_pci_generic');
  out(setupHugepages(hugememMib(o)));
  const devs = nvmeDevices(sel);
  if (devs.length === 0) {
    out(noDevices(sel));
    return 0;
  }
  loadDriver(driver);
  let refused = 0;
  for (const d of devs) {
    const id = `${d.address} (${hex4(d.vendor)}:${hex4(d.device)})`;
    if (d.driver === driver) {
      out(`${id}: already bound to ${driver}`);
      continue;
    }
    const users = deviceUsers(d);
    if (users.length) {
      out(`${id}: not binding, in use: ${users.join('; ')}`);
      refused++;
      continue;
    }
    bindDriver(d.address, driver);
    out(`${id}: ${d.driver ?? 'no driver'} -> ${driver}`);
  }
  return refused;
}

/** `setup reset`: back to the kernel's nvme driver. Returns the number of devices refused. */
export function runReset(o: SetupCliOptions): number {
  const sel = selection(o);
  requireRoot('reset');
  const devs = nvmeDevices(sel);
  if (devs.length === 0) {
    out(noDevices(sel));
    return 0;
  }
  loadDriver('nvme');
  let refused = 0;
  for (const d of devs) {
    const id = `${d.address} (${hex4(d.vendor)}:${hex4(d.device)})`;
    if (d.driver === 'nvme') {
      out(`${id}: already bound to nvme`);
      continue;
    }
    const users = deviceUsers(d);
    if (users.length) {
      out(`${id}: not resetting, in use: ${users.join('; ')}`);
      refused++;
      continue;
    }
    const now = rebindDefault(d.address);
    out(`${id}: ${d.driver ?? 'no driver'} -> ${now ?? 'no driver'}`);
  }
  return refused;
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** `setup status`: hugepages and devices, readable without root. */
export function statusLines(sel: DeviceSelection): string[] {
  const st = hugepageStatus();
  const lines = [
    `hugepages: ${st.total} x ${st.pageSize / (1024 * 1024)} MiB reserved, ${st.free} free, hugetlbfs ${st.mount ? `at ${st.mount}` : 'not mounted'}`,
    `IOMMU: ${iommuPresent() ? 'present (setup binds to vfio-pci)' : 'none (setup binds to uio_pci_generic)'}`,
  ];
  const devs = nvmeDevices(sel);
  if (devs.length === 0) {
    lines.push(noDevices(sel));
    return lines;
  }
  lines.push('Type  BDF           Vendor Device Driver           IOMMU group  Users');
  for (const d of devs) {
    const users = deviceUsers(d);
    const blocks = d.driver === 'nvme' ? kernelUsers(d.address).filter((p) => /n\d+$/.test(p)).join(' ') : '';
    lines.push(
      `NVMe  ${d.address}  ${hex4(d.vendor)}   ${hex4(d.device)}   ${(d.driver ?? '-').padEnd(16)} ${String(d.iommuGroup ?? '-').padEnd(12)} ${[blocks, ...users].filter(Boolean).join('; ') || '-'}`,
    );
  }
  return lines;
}

function driverArg(v: string): string {
  if (!(USER_SPACE_DRIVERS as readonly string[]).includes(v)) throw new OptionValueError(`Expected ${USER_SPACE_DRIVERS.join(' or ')}.`);
  return v;
}

function selectionOptions(c: Command): Command {
  return c
    .option('--allow <addrs>', 'only these PCI addresses (spaces or commas; env PCI_ALLOWED)')
    .option('--block <addrs>', 'never these PCI addresses (env PCI_BLOCKED)');
}

export function setupCommand(): Command {
  const setup = selectionOptions(new Command('setup'))
    .description('reserve hugepages and bind NVMe devices to vfio-pci (IOMMU present) or uio_pci_generic, like SPDK scripts/setup.sh')
    .option('--hugemem <MiB>', `hugepage memory to reserve (env HUGEMEM; default: keep what is reserved if at least ${MIN_DEFAULT_HUGEMEM_MIB} MiB, else ${DEFAULT_HUGEMEM_MIB} MiB up to a quarter of memory)`, intArg(0, 1 << 24, 'a number of MiB'))
    .option('--driver <name>', 'bind to this driver instead of choosing by IOMMU presence', driverArg)
    .action((o: SetupCliOptions) => {
      if (runSetup(o) > 0) process.exitCode = 1;
    });
  // --allow / --block are setup's options, given before or after the subcommand.
  setup.command('status').description('hugepages, IOMMU, NVMe devices with their drivers and users (--allow/--block apply)')
    .action((_o: unknown, cmd: Command) => {
      for (const l of statusLines(selection(cmd.optsWithGlobals<SetupCliOptions>()))) out(l);
    });
  setup.command('reset').description('give NVMe devices back to the kernel nvme driver (--allow/--block apply)')
    .action((_o: unknown, cmd: Command) => {
      if (runReset(cmd.optsWithGlobals<SetupCliOptions>()) > 0) process.exitCode = 1;
    });
  return setup;
}
