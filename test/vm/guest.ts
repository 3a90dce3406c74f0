// Boots a QEMU guest (TCG) with NVMe devices and runs a shell script in it.
//
// The guest is the provisioned Debian kernel + busybox initramfs; its init
// (test/vm/init.sh) chroots into this host's own root, mounted read-only over
// 9p, so the job runs the host's node, fio and nvme-cli on the project
// directory at its host path. A per-run temporary directory holds the
// (sparse) namespace images and the shared folder:
//
//   <tmp>/ns-<dev>-<nsid>.img   raw images, sparse, removed afterwards
//   <tmp>/shared/               9p 'shared', read-write in the guest:
//     job.env                     paths init.sh needs (sourced by init)
//     job.sh                      environment + the caller's script
//     stdout stderr rc            written by init around the job
//     boot-seconds boot-error     guest uptime at job start / init failure
//     dmesg                       the kernel log after the job (kept as <name>-dmesg.log)
//     (anything else)             files the job wrote: returned in `files`
//
// PCI layout: NVMe controller i sits at 0000:00:(04+i).0, so tests know
// their addresses; the 9p devices sit at 00:10.0 and up; the virtual IOMMU
// (intel-iommu, needed by vfio-pci) comes before every device it translates.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VmArgumentError, QemuMissingError, GuestBootError, GuestTimeoutError } from './errors.js';
import { provision, type Provisioned } from './provision.js';

export const PROJECT_DIR = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const QEMU = 'qemu-system-x86_64';

/** The first NVMe controller's PCI slot; controller i is at slot FIRST_NVME_SLOT + i. */
export const FIRST_NVME_SLOT = 0x04;
/** The 9p devices' first slot, clear of the NVMe controllers. */
const FIRST_9P_SLOT = 0x10;
const MAX_NVME = FIRST_9P_SLOT - FIRST_NVME_SLOT;

export interface NamespaceSpec {
  /** Logical block size in bytes: 512 or 4096. */
  lbaSize: 512 | 4096;
  /** Namespace size in MiB (sparse image); default 256. */
  sizeMiB?: number;
}

export interface NvmeSpec {
  /** Namespaces, NSID 1, 2, ... in order; default one 512-byte namespace. */
  namespaces?: NamespaceSpec[];
  /** QEMU's max_ioqpairs (default 64). */
  maxIoQpairs?: number;
  /** QEMU's mdts: log2 of the maximum transfer in units of the minimum page (default 7: 512 KiB). */
  mdts?: number;
  /** Serial number; default NVMEWASM<i>. */
  serial?: string;
}

/** What the guest's tests are told about one controller (NVME_WASM_VM_DEVICES). */
export interface VmDevice {
  bdf: string;
  serial: string;
  maxIoQpairs: number;
  mdts: number;
  namespaces: Array<{ nsid: number; lbaSize: number; blocks: number }>;
}

export interface GuestOptions {
  nvme?: NvmeSpec[];
  /** intel-iommu in the guest (vfio-pci needs it); default true. */
  iommu?: boolean;
  smp?: number;
  memMiB?: number;
  /** 2 MiB hugepages reserved and mounted at /dev/hugepages before the script; default 0. */
  hugepages?: number;
  /** Shell script (sh) run as root in the chroot, cwd the project directory; an array is one command a line. */
  script: string | string[];
  /** Extra environment of the script. */
  env?: Record<string, string>;
  /** Extra kernel command-line arguments (e.g. nvme.poll_queues=2). */
  kernelArgs?: string[];
  /** Mount the project directory read-write in the guest; default false. */
  projectWritable?: boolean;
  /** QEMU is killed after this long; default 20 minutes. */
  timeoutMs?: number;
  /** Where the serial console goes; default <project>/build/vm/<name>-console.log (the kernel log: <name>-dmesg.log beside it). */
  consoleLog?: string;
  /** Label of this boot (log file names, messages). */
  name?: string;
  /** Streams of the job's output while it runs. */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Provisioned artefacts; default: provision() now. */
  provisioned?: Provisioned;
}

export interface GuestResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Files the job left in the shared folder (NVME_WASM_VM_SHARED), by relative path. */
  files: Map<string, Buffer>;
  devices: VmDevice[];
  consoleLog: string;
  /** Guest uptime when the job started. */
  bootSeconds: number;
  /** Wall time from QEMU start to its exit. */
  seconds: number;
}

export function bdfOf(index: number): string {
  return `0000:00:${(FIRST_NVME_SLOT + index).toString(16).padStart(2, '0')}.0`;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function checkInt(name: string, v: number | undefined, lo: number, hi: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < lo || v > hi)) throw new VmArgumentError(name, `an integer in ${lo}..${hi}`, v);
}

function validate(o: GuestOptions): void {
  const script = Array.isArray(o.script) ? o.script : [o.script];
  if (script.length === 0 || script.some((l) => typeof l !== 'string') || script.join('').trim() === '') {
    throw new VmArgumentError('script', 'a non-empty shell script or array of commands', o.script);
  }
  const nvme = o.nvme ?? [];
  if (!Array.isArray(nvme) || nvme.length > MAX_NVME) throw new VmArgumentError('nvme', `an array of at most ${MAX_NVME} controllers`, nvme);
  nvme.forEach((d, i) => {
    checkInt(`nvme[${i}].maxIoQpairs`, d.maxIoQpairs, 1, 65535);
    checkInt(`nvme[${i}].mdts`, d.mdts, 0, 15);
    if (d.serial !== undefined && !/^[A-Za-z0-9_-]{1,20}$/.test(d.serial)) throw new VmArgumentError(`nvme[${i}].serial`, '1 to 20 characters [A-Za-z0-9_-]', d.serial);
    (d.namespaces ?? []).forEach((ns, j) => {
      if (ns.lbaSize !== 512 && ns.lbaSize !== 4096) throw new VmArgumentError(`nvme[${i}].namespaces[${j}].lbaSize`, '512 or 4096', ns.lbaSize);
      checkInt(`nvme[${i}].namespaces[${j}].sizeMiB`, ns.sizeMiB, 1, 1 << 20);
    });
  });
  checkInt('smp', o.smp, 1, 64);
  checkInt('memMiB', o.memMiB, 256, 1 << 20);
  checkInt('hugepages', o.hugepages, 0, 1 << 20);
  checkInt('timeoutMs', o.timeoutMs, 1000, 24 * 3600 * 1000);
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string') throw new VmArgumentError(`env.${k}`, 'a shell variable name with a string value', v);
  }
  for (const a of o.kernelArgs ?? []) if (typeof a !== 'string' || /\s/.test(a) || a === '') throw new VmArgumentError('kernelArgs', 'words without spaces', a);
}

function qemuAvailable(): boolean {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** QEMU arguments of the NVMe controllers, and what the guest is told about them. */
function nvmeArgs(specs: NvmeSpec[], tmp: string): { args: string[]; devices: VmDevice[] } {
  const args: string[] = [];
  const devices: VmDevice[] = [];
  specs.forEach((spec, i) => {
    const id = `nvme${i}`;
    const serial = spec.serial ?? `NVMEWASM${i}`;
    const props = [`nvme`, `id=${id}`, `serial=${serial}`, `bus=pcie.0`, `addr=0x${(FIRST_NVME_SLOT + i).toString(16)}`];
    if (spec.maxIoQpairs !== undefined) props.push(`max_ioqpairs=${spec.maxIoQpairs}`);
    if (spec.mdts !== undefined) props.push(`mdts=${spec.mdts}`);
    args.push('-device', props.join(','));
    const namespaces = (spec.namespaces ?? [{ lbaSize: 512 }]).map((ns, j) => {
      const nsid = j + 1;
      const img = path.join(tmp, `ns-${i}-${nsid}.img`);
      const bytes = (ns.sizeMiB ?? 256) * 2 ** 20;
      fs.closeSync(fs.openSync(img, 'w'));
      fs.truncateSync(img, bytes); // sparse: no blocks until the guest writes
      args.push('-drive', `file=${img},if=none,id=${id}n${nsid},format=raw,cache=unsafe`);
      args.push('-device', `nvme-ns,drive=${id}n${nsid},bus=${id},nsid=${nsid},logical_block_size=${ns.lbaSize},physical_block_size=${ns.lbaSize}`);
      return { nsid, lbaSize: ns.lbaSize, blocks: bytes / ns.lbaSize };
    });
    devices.push({ bdf: bdfOf(i), serial, maxIoQpairs: spec.maxIoQpairs ?? 64, mdts: spec.mdts ?? 7, namespaces });
  });
  return { args, devices };
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no console output)';
  }
}

/** Reads what was appended to a file since the last call. */
class Follower {
  private pos = 0;
  constructor(
    private readonly file: string,
    private readonly sink?: (s: string) => void,
  ) {}
  poll(): void {
    if (!this.sink) return;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.pos);
        if (n <= 0) break;
        this.pos += n;
        this.sink(buf.subarray(0, n).toString());
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

function readTree(dir: string, skip: Set<string>): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (skip.has(rel) || rel.startsWith('.mounted')) continue;
    const p = path.join(dir, rel);
    if (fs.statSync(p).isFile()) files.set(rel, fs.readFileSync(p));
  }
  return files;
}

/**
 * Guests running now. If this process exits or is told to stop while one
 * runs, its QEMU is killed and its images removed (QEMU would otherwise run
 * on, orphaned, and leave its sparse images in the temporary directory).
 */
const active = new Set<{ qemu: ChildProcess; tmp: string }>();
let watching = false;

function reap(): void {
  for (const g of active) {
    g.qemu.kill('SIGKILL');
    fs.rmSync(g.tmp, { recursive: true, force: true });
  }
  active.clear();
}

function watchSignals(): void {
  if (watching) return;
  watching = true;
  process.once('exit', reap);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      reap();
      // Then die of the same signal, as without this handler.
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}

/** Boots a guest, runs `script` in it, powers it off; see GuestOptions. */
export async function runInGuest(o: GuestOptions): Promise<GuestResult> {
  validate(o);
  if (!qemuAvailable()) throw new QemuMissingError(QEMU);
  const prov = o.provisioned ?? provision();
  const name = o.name ?? 'guest';
  const consoleLog = o.consoleLog ?? path.join(PROJECT_DIR, 'build', 'vm', `${name}-console.log`);
  fs.mkdirSync(path.dirname(consoleLog), { recursive: true });
  fs.rmSync(consoleLog, { force: true });
  const iommu = o.iommu ?? true;
  const smp = o.smp ?? 2;
  const timeoutMs = o.timeoutMs ?? 20 * 60_000;

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-vm-'));
  const shared = path.join(tmp, 'shared');
  fs.mkdirSync(shared);
  try {
    const { args: devArgs, devices } = nvmeArgs(o.nvme ?? [], tmp);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      NVME_WASM_VM: '1',
      NVME_WASM_VM_PCI: devices.map((d) => d.bdf).join(','),
      NVME_WASM_VM_DEVICES: JSON.stringify(devices),
      NVME_WASM_VM_IOMMU: iommu ? '1' : '0',
      NVME_WASM_VM_SHARED: shared,
      ...(o.env ?? {}),
    };
    if (devices.length === 0) delete env.NVME_WASM_VM_PCI;
    fs.writeFileSync(
      path.join(shared, 'job.env'),
      `NVMEVM_PROJECT=${shQuote(PROJECT_DIR)}\nNVMEVM_SHARED=${shQuote(shared)}\nNVMEVM_PROJECT_MODE=${o.projectWritable ? 'rw' : 'ro'}\n`,
    );
    const hp = o.hugepages ?? 0;
    fs.writeFileSync(
      path.join(shared, 'job.sh'),
      [
        '# Written by test/vm/guest.ts',
        ...Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}`),
        hp > 0 ? `echo ${hp} > /proc/sys/vm/nr_hugepages && mount -t hugetlbfs nodev /dev/hugepages || { echo 'nvme-wasm-vm: hugepages setup failed' >&2; exit 125; }` : '',
        ...(Array.isArray(o.script) ? o.script : [o.script]),
        '',
      ].join('\n'),
    );

    // no_timer_check: under TCG on a loaded host the IO-APIC timer check can
    // miss its ticks and panic ("timer doesn't work through Interrupt-remapped IO-APIC").
    // transparent_hugepage=never: with THP on, fio's O_DIRECT buffers sit in
    // 2 MiB folios, and NVMe/TCP over the guest's loopback hands the target
    // skb fragments running past such a folio's end; the 6.1 kernel's
    // hardened usercopy check then BUGs in nvmet_tcp_io_work (usercopy_abort,
    // "Kernel memory exposure attempt detected from page alloc"), seen here
    // without digests too. The project's driver uses hugetlbfs, not THP.
    const append = ['console=ttyS0', 'panic=-1', 'loglevel=4', 'no_timer_check', 'transparent_hugepage=never', ...(iommu ? ['intel_iommu=on', 'iommu=pt'] : []), ...(o.kernelArgs ?? [])];
    const args = [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-no-reboot',
      // kernel-irqchip=split: intel-iommu's interrupt remapping needs it.
      '-machine',
      `q35${iommu ? ',kernel-irqchip=split' : ''}`,
      '-accel',
      'tcg,thread=multi',
      // -cpu max: node needs SSE4/AVX-era instructions the default qemu64 model lacks.
      '-cpu',
      'max',
      '-smp',
      String(smp),
      '-m',
      String(o.memMiB ?? 2048),
      '-kernel',
      prov.vmlinux,
      '-initrd',
      prov.initramfs,
      '-append',
      append.join(' '),
      '-serial',
      `file:${consoleLog}`,
      // The IOMMU before the devices it translates.
      ...(iommu ? ['-device', 'intel-iommu,intremap=on,caching-mode=on'] : []),
      ...devArgs,
      ...virtfs('hostroot', '/', true, FIRST_9P_SLOT, 'remap'),
      ...virtfs('project', PROJECT_DIR, !o.projectWritable, FIRST_9P_SLOT + 1, 'remap'),
      ...virtfs('shared', shared, false, FIRST_9P_SLOT + 2),
    ];
    fs.writeFileSync(path.join(tmp, 'qemu.args'), args.join('\n'));

    const out = new Follower(path.join(shared, 'stdout'), o.onStdout);
    const err = new Follower(path.join(shared, 'stderr'), o.onStderr);
    const t0 = Date.now();
    const qemu = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const guest = { qemu, tmp };
    active.add(guest);
    qemu.once('exit', () => active.delete(guest));
    watchSignals();
    let qemuOut = '';
    qemu.stdout.on('data', (d: Buffer) => (qemuOut += d.toString()));
    qemu.stderr.on('data', (d: Buffer) => (qemuOut += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, timeoutMs);
    const follow = setInterval(() => (out.poll(), err.poll()), 500);
    const status = await new Promise<number | string>((resolve) => {
      qemu.once('error', (e) => resolve(e.message));
      qemu.once('exit', (code, sig) => resolve(code ?? sig ?? -1));
    });
    clearTimeout(timer);
    clearInterval(follow);
    out.poll();
    err.poll();
    const seconds = (Date.now() - t0) / 1000;

    const read = (f: string): string | undefined => {
      try {
        return fs.readFileSync(path.join(shared, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    const rc = read('rc');
    if (timedOut) throw new GuestTimeoutError(timeoutMs, tail(consoleLog), consoleLog, (read('stdout') ?? '').split('\n').slice(-30).join('\n'));
    if (rc === undefined) {
      const panic = /Kernel panic[^\n]*/.exec(tail(consoleLog, 200))?.[0];
      const why =
        read('boot-error')?.trim() ??
        (status !== 0 ? `QEMU exited with ${status}: ${qemuOut.trim().split('\n').slice(-5).join(' | ')}` : panic ? `kernel panic: ${panic}` : 'the guest powered off without running the job');
      throw new GuestBootError(why, tail(consoleLog), consoleLog);
    }
    const internal = new Set(['job.env', 'job.sh', 'stdout', 'stderr', 'rc', 'boot-seconds', 'boot-error', 'dmesg']);
    const dmesg = read('dmesg');
    if (dmesg !== undefined) fs.writeFileSync(consoleLog.replace(/(-console)?\.log$/, '') + '-dmesg.log', dmesg);
    return {
      exitCode: Number(rc.trim()),
      stdout: read('stdout') ?? '',
      stderr: read('stderr') ?? '',
      files: readTree(shared, internal),
      devices,
      consoleLog,
      bootSeconds: Number(read('boot-seconds') ?? NaN),
      seconds,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A 9p export: -fsdev + virtio-9p-pci at a fixed slot. */
function virtfs(tag: string, dir: string, readonly: boolean, slot: number, multidevs?: string): string[] {
  const fsdev = [`local`, `id=fs-${tag}`, `path=${dir}`, `security_model=none`, ...(readonly ? ['readonly=on'] : []), ...(multidevs ? [`multidevs=${multidevs}`] : [])];
  return ['-fsdev', fsdev.join(','), '-device', `virtio-9p-pci,fsdev=fs-${tag},mount_tag=${tag},bus=pcie.0,addr=0x${slot.toString(16)}`];
}
