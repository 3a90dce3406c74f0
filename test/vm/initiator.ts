// Guest side: the kernel's NVMe over Fabrics initiator (nvme-fabrics,
// nvme-tcp) driven through nvme-cli, and its controllers in sysfs.
//
//   /sys/class/nvme/nvmeC/{transport,subsysnqn,hostnqn,state,address,cntlid}
//   /sys/class/nvme/nvmeC/nvmeSnN       non-multipath: the block device itself
//   /sys/class/nvme/nvmeC/nvmeScCnN     native multipath (Debian's default):
//                                       the path; the block device is nvmeSnN
//                                       (S the subsystem instance)
//   /sys/class/nvme-subsystem/nvme-subsysS/iopolicy   numa | round-robin
//
// nvme-cli 2.x reads the default host NQN and host ID from /etc/nvme
// (the host's, visible in the guest's chroot).
import fs from 'node:fs';
import crypto from 'node:crypto';
import { run, tailLines } from './exec.js';
import { GuestCommandError } from './errors.js';
import { waitFor } from './kernel.js';

/** The discovery subsystem's well-known NQN (NVMe-oF 1.1, 7.2). */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** --ctrl-loss-tmo when a ConnectSpec gives none, seconds. */
export const DEFAULT_CTRL_LOSS_TMO = 60;

/** A fresh host NQN in the UUID form nvme-cli's gen-hostnqn gives; with its host ID. */
export function newHost(): { hostnqn: string; hostid: string } {
  const hostid = crypto.randomUUID();
  return { hostnqn: `nqn.2014-08.org.nvmexpress:uuid:${hostid}`, hostid };
}

/** The host NQN nvme-cli uses when given none. */
export function defaultHostNqn(): string {
  return fs.readFileSync('/etc/nvme/hostnqn', 'latin1').trim();
}

/** One record of the discovery log page, as nvme-cli prints it. */
export interface DiscoveryEntry {
  trtype: string;
  adrfam: string;
  subtype: string;
  subnqn: string;
  traddr: string;
  trsvcid: string;
  portid: number;
}

/** Where a target listens, and as whom the host connects. */
export interface FabricAddress {
  /** Default 127.0.0.1. */
  addr?: string;
  /** Default 4420. */
  port?: number;
  hostnqn?: string;
  hostid?: string;
}

function hostArgs(a: FabricAddress): string[] {
  return [...(a.hostnqn ? ['--hostnqn', a.hostnqn] : []), ...(a.hostid ? ['--hostid', a.hostid] : [])];
}

/** `nvme discover -t tcp -a ADDR -s PORT -o json`: the discovery log page's records. */
export function discover(a: FabricAddress = {}): DiscoveryEntry[] {
  const args = ['discover', '-t', 'tcp', '-a', a.addr ?? '127.0.0.1', '-s', String(a.port ?? 4420), ...hostArgs(a), '-o', 'json'];
  const r = run('nvme', args);
  let doc: { records?: Array<Record<string, unknown>> };
  try {
    doc = JSON.parse(r.stdout) as typeof doc;
  } catch {
    throw new GuestCommandError('nvme', args, 0, `output is not JSON: ${tailLines(r.stdout)}`);
  }
  return (doc.records ?? []).map((x) => ({
    trtype: String(x.trtype),
    adrfam: String(x.adrfam),
    subtype: String(x.subtype),
    subnqn: String(x.subnqn),
    traddr: String(x.traddr),
    trsvcid: String(x.trsvcid),
    portid: Number(x.portid),
  }));
}

/** What `nvme connect` is given. */
export interface ConnectSpec extends FabricAddress {
  nqn: string;
  /** -g: header digest. Never against the 6.1 kernel's nvmet-tcp (kernel BUG, docs/vm-nvmf.md). */
  hdrDigest?: boolean;
  /** -G: data digest. */
  dataDigest?: boolean;
  /**
   * --ctrl-loss-tmo seconds; default here 60 (the kernel's is 600): a
   * target that dies for good fails the I/O within a minute instead of
   * holding fio for ten.
   */
  ctrlLossTmo?: number;
  /** --reconnect-delay seconds (kernel default 10). */
  reconnectDelay?: number;
  /** --keep-alive-tmo seconds. */
  keepAliveTmo?: number;
  /** --nr-io-queues. */
  nrIoQueues?: number;
  /**
   * A second connection to the same address and subsystem (another host
   * NQN): nvme-cli 2.3 refuses it ("already connected", even with -D: its
   * lookup ignores the host NQN), so the options go to the kernel's
   * /dev/nvme-fabrics directly, as nvme-cli would write them, with
   * duplicate_connect.
   */
  duplicateConnect?: boolean;
}

/** A controller of the kernel initiator, from sysfs. */
export interface KernelFabricsController {
  /** nvmeC */
  name: string;
  transport: string;
  subsysnqn: string;
  hostnqn: string;
  state: string;
  /** traddr=...,trsvcid=... */
  address: string;
  cntlid: number;
}

function attr(ctrl: string, name: string): string {
  try {
    return fs.readFileSync(`/sys/class/nvme/${ctrl}/${name}`, 'latin1').trim();
  } catch {
    return '';
  }
}

/** The kernel's controllers whose transport is tcp. */
export function fabricsControllers(): KernelFabricsController[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/class/nvme');
  } catch {
    return [];
  }
  return names
    .map((name) => ({
      name,
      transport: attr(name, 'transport'),
      subsysnqn: attr(name, 'subsysnqn'),
      hostnqn: attr(name, 'hostnqn'),
      state: attr(name, 'state'),
      address: attr(name, 'address'),
      cntlid: Number(attr(name, 'cntlid')),
    }))
    .filter((c) => c.transport === 'tcp');
}

function connectArgs(s: ConnectSpec): string[] {
  return [
    'connect', '-t', 'tcp', '-n', s.nqn, '-a', s.addr ?? '127.0.0.1', '-s', String(s.port ?? 4420), ...hostArgs(s),
    ...(s.hdrDigest ? ['-g'] : []), ...(s.dataDigest ? ['-G'] : []),
    '--ctrl-loss-tmo', String(s.ctrlLossTmo ?? DEFAULT_CTRL_LOSS_TMO),
    ...(s.reconnectDelay !== undefined ? ['--reconnect-delay', String(s.reconnectDelay)] : []),
    ...(s.keepAliveTmo !== undefined ? ['--keep-alive-tmo', String(s.keepAliveTmo)] : []),
    ...(s.nrIoQueues !== undefined ? ['--nr-io-queues', String(s.nrIoQueues)] : []),
  ];
}

/** A connection of the kernel initiator: its controller and block device. */
export interface Connection {
  ctrl: string;
  /** nvmeSnN, /dev/<blockDevice> exists. */
  blockDevice: string;
  /** The path's gendisk under multipath (nvmeScCnN), else the block device. */
  pathDevice: string;
  spec: ConnectSpec;
}

/** Block devices of a controller: [block device, path device] per namespace. */
export function controllerDisks(ctrl: string): Array<{ blockDevice: string; pathDevice: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(`/sys/class/nvme/${ctrl}`);
  } catch {
    return [];
  }
  const out: Array<{ blockDevice: string; pathDevice: string }> = [];
  for (const n of names.sort()) {
    const mp = /^nvme(\d+)c\d+n(\d+)$/.exec(n);
    if (mp) out.push({ blockDevice: `nvme${mp[1]}n${mp[2]}`, pathDevice: n });
    else if (/^nvme\d+n\d+$/.test(n)) out.push({ blockDevice: n, pathDevice: n });
  }
  return out;
}

/** Size in bytes of a block device (sysfs counts 512-byte sectors). */
export function blockBytes(dev: string): number {
  try {
    return Number(fs.readFileSync(`/sys/block/${dev}/size`, 'latin1').trim()) * 512;
  } catch {
    return 0;
  }
}

/**
 * `nvme connect`, then the new controller (the one that was not there
 * before) and its first namespace's block device, polled from sysfs until
 * /dev has it. A refused connect is a GuestCommandError.
 */
export async function connect(s: ConnectSpec): Promise<Connection> {
  const before = new Set(fabricsControllers().map((c) => c.name));
  if (s.duplicateConnect) fabricsWrite(s);
  else run('nvme', connectArgs(s));
  const ctrl = await waitFor(`the controller nvme connect made for ${s.nqn}`, () =>
    fabricsControllers().find((c) => !before.has(c.name) && c.subsysnqn === s.nqn && c.state === 'live'));
  const disk = await waitFor(`a block device on ${ctrl.name}`, () => {
    const d = controllerDisks(ctrl.name)[0];
    return d && fs.existsSync(`/dev/${d.blockDevice}`) && blockBytes(d.blockDevice) > 0 ? d : undefined;
  });
  return { ctrl: ctrl.name, ...disk, spec: s };
}

/** The option string of /dev/nvme-fabrics (drivers/nvme/host/fabrics.c, opt_tokens) for a spec. */
export function fabricsOptions(s: ConnectSpec): string {
  const o = [
    'transport=tcp', `traddr=${s.addr ?? '127.0.0.1'}`, `trsvcid=${s.port ?? 4420}`, `nqn=${s.nqn}`,
    `hostnqn=${s.hostnqn ?? defaultHostNqn()}`, ...(s.hostid ? [`hostid=${s.hostid}`] : []),
    `ctrl_loss_tmo=${s.ctrlLossTmo ?? DEFAULT_CTRL_LOSS_TMO}`,
    ...(s.reconnectDelay !== undefined ? [`reconnect_delay=${s.reconnectDelay}`] : []),
    ...(s.keepAliveTmo !== undefined ? [`keep_alive_tmo=${s.keepAliveTmo}`] : []),
    ...(s.nrIoQueues !== undefined ? [`nr_io_queues=${s.nrIoQueues}`] : []),
    ...(s.hdrDigest ? ['hdr_digest'] : []), ...(s.dataDigest ? ['data_digest'] : []),
    ...(s.duplicateConnect ? ['duplicate_connect'] : []),
  ];
  return o.join(',');
}

/** Writes a connect request to /dev/nvme-fabrics; the kernel answers "instance=N,cntlid=M". */
function fabricsWrite(s: ConnectSpec): string {
  const opts = fabricsOptions(s);
  let fd: number | undefined;
  try {
    fd = fs.openSync('/dev/nvme-fabrics', 'r+');
    fs.writeSync(fd, opts);
    const buf = Buffer.alloc(256);
    return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, null)).toString('latin1').trim();
  } catch (e) {
    throw new GuestCommandError('/dev/nvme-fabrics', [opts], -1, (e as Error).message);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** `nvme connect` expected to be refused: its status and output, and no new controller left behind. */
export function connectRefused(s: ConnectSpec): { status: number; output: string; leftover: string[] } {
  const before = new Set(fabricsControllers().map((c) => c.name));
  const r = run('nvme', connectArgs(s), { allowFail: true });
  const leftover = fabricsControllers().filter((c) => !before.has(c.name)).map((c) => c.name);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim(), leftover };
}

/** `nvme disconnect -d nvmeC`, then waits until sysfs no longer has it. */
export async function disconnect(ctrl: string): Promise<void> {
  run('nvme', ['disconnect', '-d', ctrl]);
  await waitFor(`${ctrl} to go away`, () => !fs.existsSync(`/sys/class/nvme/${ctrl}`));
}

/** `nvme disconnect -n NQN` (every controller of that subsystem), then waits until none is left. */
export async function disconnectNqn(nqn: string): Promise<void> {
  run('nvme', ['disconnect', '-n', nqn], { allowFail: true });
  await waitFor(`the controllers of ${nqn} to go away`, () => !fabricsControllers().some((c) => c.subsysnqn === nqn));
}

/** The multipath I/O policy of the subsystem a block device belongs to (round-robin spreads I/O over every path). */
export function setIoPolicy(blockDevice: string, policy: 'numa' | 'round-robin'): void {
  const subsys = fs.realpathSync(`/sys/block/${blockDevice}/device`);
  const file = `${subsys}/iopolicy`;
  if (fs.existsSync(file)) fs.writeFileSync(file, policy);
}

/** Reads and writes completed on a block device (/sys/block/DEV/stat fields 1 and 5). */
export function diskIos(dev: string): { reads: number; writes: number } {
  const f = fs.readFileSync(`/sys/block/${dev}/stat`, 'latin1').trim().split(/\s+/).map(Number);
  return { reads: f[0] ?? 0, writes: f[4] ?? 0 };
}
