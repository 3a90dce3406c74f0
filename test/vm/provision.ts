// Provisioning of the VM harness, idempotent and cached: the Debian packages
// (QEMU, busybox-static, fio, nvme-cli ...), a Debian kernel fetched with
// `apt-get download` (the version apt offers today, not a hard-coded one),
// its uncompressed vmlinux and the few modules the guest loads, and the
// initramfs (busybox + those modules + test/vm/init.sh).
//
// Cache layout (${NVME_WASM_VM_CACHE:-/var/cache/nvme-wasm/vm}):
//
//   kernel/current.json             {"version": "6.1.0-50-amd64"}: the kernel in use
//   kernel/<version>/vmlinux        ELF, booted by QEMU through its PVH note
//   kernel/<version>/modules/*.ko   the closure of ROOT_MODULES
//   kernel/<version>/manifest.json  package, roots, load order
//   initramfs-<hash>.cpio           newc archive; hash of init.sh, modules, busybox
//
// Re-running with a complete cache runs no apt command and says what it reuses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VmProvisionError } from './errors.js';

/** The package a command comes from; checked with dpkg-query. */
export const PACKAGES: ReadonlyArray<{ pkg: string; needs: string }> = [
  { pkg: 'qemu-system-x86', needs: 'qemu-system-x86_64' },
  { pkg: 'busybox-static', needs: 'the guest init' },
  { pkg: 'cpio', needs: 'packing the initramfs' },
  { pkg: 'xz-utils', needs: 'extracting vmlinux from vmlinuz' },
  { pkg: 'kmod', needs: 'modinfo (module dependencies)' },
  { pkg: 'fio', needs: 'the kernel-driver baseline' },
  { pkg: 'nvme-cli', needs: 'nvme id-ctrl / id-ns in the guest' },
  { pkg: 'pciutils', needs: 'lspci in the guest' },
  { pkg: 'e2fsprogs', needs: 'mkfs.ext4 and e2fsck in the guest (the NVMe/TCP tests)' },
  { pkg: 'iproute2', needs: 'ip in the guest' },
  { pkg: 'gdb', needs: 'backtraces of a crashed perf in the guest (vm-driver-loop)' },
];

/**
 * Modules the guest needs; their dependencies are added from modinfo.
 * virtio + 9p: the host root and the shared folder. nvme: the kernel driver
 * (the baseline, and what the tests check first). uio_pci_generic and
 * vfio-pci + vfio_iommu_type1: the two user-space routes.
 * NVMe over Fabrics on TCP (test/vm/nvmf.ts): the kernel initiator
 * (nvme_fabrics, nvme_tcp) and target (nvmet, nvmet_tcp, configured through
 * configfs); crc32c_generic gives the crypto API's "crc32c" that NVMe/TCP
 * digests and ext4's metadata checksums ask for (the guest has no modprobe
 * to load it on demand). ext4 (with jbd2, mbcache, crc16 from modinfo): the
 * filesystem tests on a block device the kernel initiator sees.
 */
export const ROOT_MODULES: readonly string[] = [
  'virtio_pci', '9pnet_virtio', '9p', 'nvme', 'uio_pci_generic', 'vfio_pci', 'vfio_iommu_type1',
  'configfs', 'crc32c_generic', 'nvme_fabrics', 'nvme_tcp', 'nvmet', 'nvmet_tcp', 'ext4',
];

const BUSYBOX = '/bin/busybox';
const INIT_SH = fileURLToPath(new URL('../../../test/vm/init.sh', import.meta.url));

export interface Provisioned {
  cacheDir: string;
  kernelVersion: string;
  vmlinux: string;
  initramfs: string;
  /** Module names in load order. */
  modules: string[];
}

export interface ProvisionOptions {
  cacheDir?: string;
  /** Progress lines; default console.log. */
  log?: (line: string) => void;
}

export function defaultCacheDir(): string {
  return process.env.NVME_WASM_VM_CACHE || '/var/cache/nvme-wasm/vm';
}

interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions & { step: string; allowFail?: boolean }): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new VmProvisionError(opts.step, `${cmd}: ${r.error.message}`);
  const res = { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (res.status !== 0 && !opts.allowFail) {
    throw new VmProvisionError(opts.step, `${cmd} ${args.join(' ')} exited ${res.status}: ${res.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  return res;
}

// ---------------------------------------------------------------- packages

function installed(pkg: string): boolean {
  const r = run('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg], { step: 'dpkg-query', allowFail: true });
  return r.status === 0 && r.stdout.trim() === 'installed';
}

let aptUpdated = false;
function aptUpdate(log: (l: string) => void): void {
  if (aptUpdated) return;
  log('apt-get update');
  run('apt-get', ['update', '-q'], { step: 'apt-get update', stdio: ['ignore', 'ignore', 'pipe'] });
  aptUpdated = true;
}

function ensurePackages(log: (l: string) => void): void {
  const missing = PACKAGES.filter((p) => !installed(p.pkg));
  if (missing.length === 0) {
    log(`packages: reusing installed ${PACKAGES.map((p) => p.pkg).join(', ')}`);
    return;
  }
  const names = missing.map((p) => p.pkg);
  if (process.getuid?.() !== 0) throw new VmProvisionError('packages', `missing ${names.join(', ')} and not root: apt-get install ${names.join(' ')}`);
  log(`packages: installing ${names.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '-q', '--no-install-recommends', ...names];
  // An install on a machine whose lists are stale or absent fails: update, retry once.
  const first = run('apt-get', args, { step: 'apt-get install', env, allowFail: true, stdio: ['ignore', 'ignore', 'pipe'] });
  if (first.status !== 0) {
    aptUpdate(log);
    run('apt-get', args, { step: 'apt-get install', env, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

// ------------------------------------------------------------------ kernel

/** linux-image-<version> that apt offers: the one linux-image-amd64 depends on. */
function kernelPackage(log: (l: string) => void): string {
  for (let attempt = 0; attempt < 2; attempt++) {
    const dep = run('apt-cache', ['depends', 'linux-image-amd64'], { step: 'apt-cache depends', allowFail: true });
    const m = /Depends:\s+linux-image-(\d+\.\d+\.\d+-\d+-amd64)\b/.exec(dep.stdout);
    if (m) return m[1]!;
    // No metapackage in the lists: the newest 6.1 image by name.
    const s = run('apt-cache', ['search', '--names-only', '^linux-image-6\\.1\\.[0-9]+-[0-9]+-amd64$'], { step: 'apt-cache search', allowFail: true });
    const versions = [...s.stdout.matchAll(/^linux-image-(6\.1\.\d+-(\d+)-amd64)\s/gm)].sort((a, b) => Number(b[2]) - Number(a[2]));
    if (versions[0]) return versions[0][1]!;
    aptUpdate(log);
  }
  throw new VmProvisionError('kernel', 'apt offers no linux-image-amd64 nor linux-image-6.1.*-amd64 package');
}

/** Offset of the first xz stream in a bzImage (what scripts/extract-vmlinux looks for). */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

function extractVmlinux(vmlinuz: string, out: string): void {
  const image = fs.readFileSync(vmlinuz);
  const at = image.indexOf(XZ_MAGIC);
  if (at < 0) throw new VmProvisionError('vmlinux', `${vmlinuz} has no xz payload`);
  // xz complains about the bytes after the stream (the bzImage trailer): the
  // exit status is not the test, the ELF header of what came out is.
  const r = spawnSync('xz', ['-dc', '--single-stream'], { input: image.subarray(at), maxBuffer: 1 << 30 });
  const elf = r.stdout as Buffer | null;
  if (!elf || elf.length < 1 << 20 || !elf.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new VmProvisionError('vmlinux', `xz did not yield an ELF image: ${String(r.stderr ?? r.error ?? '').trim()}`);
  }
  fs.writeFileSync(out, elf);
}

const norm = (m: string): string => m.replace(/-/g, '_');

/** name -> .ko path for every module of the unpacked tree. */
function moduleIndex(modRoot: string): Map<string, string> {
  const index = new Map<string, string>();
  for (const rel of fs.readdirSync(modRoot, { recursive: true }) as string[]) {
    if (rel.endsWith('.ko')) index.set(norm(path.basename(rel, '.ko')), path.join(modRoot, rel));
  }
  return index;
}

/** Depth-first: each module after the ones it depends on. */
function loadOrder(index: Map<string, string>, builtin: Set<string>, roots: readonly string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string): void => {
    const n = norm(name);
    if (state.get(n) === 'done' || builtin.has(n)) return;
    if (state.get(n) === 'visiting') throw new VmProvisionError('modules', `dependency cycle at ${n}`);
    const file = index.get(n);
    if (!file) throw new VmProvisionError('modules', `module ${n} (needed by ${from}) is neither in the package nor built in`);
    state.set(n, 'visiting');
    const deps = run('modinfo', ['-F', 'depends', file], { step: 'modinfo' }).stdout.trim();
    for (const d of deps.split(',').filter(Boolean)) visit(d, n);
    state.set(n, 'done');
    order.push(n);
  };
  for (const r of roots) visit(r, 'ROOT_MODULES');
  return order;
}

interface KernelManifest {
  package: string;
  version: string;
  roots: string[];
  order: string[];
}

function kernelComplete(dir: string): KernelManifest | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as KernelManifest;
    if (m.roots.join() !== ROOT_MODULES.join()) return undefined;
    if (!fs.existsSync(path.join(dir, 'vmlinux'))) return undefined;
    if (!m.order.every((n) => fs.existsSync(path.join(dir, 'modules', `${n}.ko`)))) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

function ensureKernel(cacheDir: string, log: (l: string) => void): KernelManifest & { dir: string } {
  const kroot = path.join(cacheDir, 'kernel');
  const currentFile = path.join(kroot, 'current.json');
  try {
    const cur = JSON.parse(fs.readFileSync(currentFile, 'utf8')) as { version: string };
    const dir = path.join(kroot, cur.version);
    const m = kernelComplete(dir);
    if (m) {
      log(`kernel: reusing ${m.package} (${dir})`);
      return { ...m, dir };
    }
  } catch {
    /* no current kernel: fetch one */
  }
  const version = kernelPackage(log);
  const pkg = `linux-image-${version}`;
  const dir = path.join(kroot, version);
  const done = kernelComplete(dir);
  if (done) {
    fs.writeFileSync(currentFile, JSON.stringify({ version }));
    log(`kernel: reusing ${pkg} (${dir})`);
    return { ...done, dir };
  }
  log(`kernel: apt-get download ${pkg}`);
  fs.mkdirSync(kroot, { recursive: true });
  const work = fs.mkdtempSync(path.join(kroot, '.fetch-'));
  try {
    let dl = run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { step: 'apt-get download', cwd: work, allowFail: true });
    if (dl.status !== 0) {
      aptUpdate(log);
      dl = run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { step: 'apt-get download', cwd: work });
    }
    const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new VmProvisionError('apt-get download', `no .deb in ${work}`);
    const tree = path.join(work, 'tree');
    run('dpkg-deb', ['-x', path.join(work, deb), tree], { step: 'dpkg-deb -x' });

    const stage = path.join(work, 'out');
    fs.mkdirSync(path.join(stage, 'modules'), { recursive: true });
    extractVmlinux(path.join(tree, 'boot', `vmlinuz-${version}`), path.join(stage, 'vmlinux'));
    const modRoot = path.join(tree, 'lib', 'modules', version);
    const builtin = new Set(
      fs
        .readFileSync(path.join(modRoot, 'modules.builtin'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => norm(path.basename(l, '.ko'))),
    );
    const index = moduleIndex(path.join(modRoot, 'kernel'));
    const order = loadOrder(index, builtin, ROOT_MODULES);
    for (const n of order) fs.copyFileSync(index.get(n)!, path.join(stage, 'modules', `${n}.ko`));
    const manifest: KernelManifest = { package: pkg, version, roots: [...ROOT_MODULES], order };
    fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify(manifest, null, 2));
    // Rename last: a directory with a manifest is always complete.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(stage, dir);
    fs.writeFileSync(currentFile, JSON.stringify({ version }));
    log(`kernel: ${pkg} unpacked, modules ${order.join(' ')}`);
    // Kernels apt no longer offers as current are never booted again.
    for (const v of fs.readdirSync(kroot)) {
      if (v !== version && !v.startsWith('.') && v !== 'current.json') fs.rmSync(path.join(kroot, v), { recursive: true, force: true });
    }
    return { ...manifest, dir };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// --------------------------------------------------------------- initramfs

function ensureInitramfs(cacheDir: string, kernel: KernelManifest & { dir: string }, log: (l: string) => void): string {
  const init = fs.readFileSync(INIT_SH);
  const bb = fs.statSync(BUSYBOX);
  const h = crypto.createHash('sha256');
  h.update(init).update(kernel.version).update(kernel.order.join(',')).update(`${bb.size}:${bb.mtimeMs}`);
  const file = path.join(cacheDir, `initramfs-${h.digest('hex').slice(0, 16)}.cpio`);
  if (fs.existsSync(file)) {
    log(`initramfs: reusing ${file}`);
    return file;
  }
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-initramfs-'));
  try {
    for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev', 'newroot', 'shared']) fs.mkdirSync(path.join(stage, d), { recursive: true });
    fs.copyFileSync(BUSYBOX, path.join(stage, 'bin/busybox'));
    fs.chmodSync(path.join(stage, 'bin/busybox'), 0o755);
    fs.writeFileSync(path.join(stage, 'init'), init, { mode: 0o755 });
    for (const n of kernel.order) fs.copyFileSync(path.join(kernel.dir, 'modules', `${n}.ko`), path.join(stage, 'lib/modules', `${n}.ko`));
    fs.writeFileSync(path.join(stage, 'lib/modules/order'), kernel.order.join('\n') + '\n');
    // Uncompressed: the guest kernel would spend longer under TCG inflating it than reading it.
    const list = run('find', ['.', '-mindepth', '1'], { step: 'find', cwd: stage }).stdout;
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w');
    try {
      run('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--quiet'], { step: 'cpio', cwd: stage, input: list, stdio: ['pipe', fd, 'pipe'] });
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    log(`initramfs: built ${file} (${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB)`);
    // Older builds (another init.sh or kernel) are never used again.
    for (const f of fs.readdirSync(cacheDir)) {
      if (/^initramfs-[0-9a-f]+\.cpio$/.test(f) && path.join(cacheDir, f) !== file) fs.rmSync(path.join(cacheDir, f), { force: true });
    }
    return file;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------- main

export function provision(opts: ProvisionOptions = {}): Provisioned {
  const log = opts.log ?? ((l: string) => console.log(`vm: ${l}`));
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  ensurePackages(log);
  fs.mkdirSync(cacheDir, { recursive: true });
  const kernel = ensureKernel(cacheDir, log);
  const initramfs = ensureInitramfs(cacheDir, kernel, log);
  return { cacheDir, kernelVersion: kernel.version, vmlinux: path.join(kernel.dir, 'vmlinux'), initramfs, modules: kernel.order };
}

// `node dist/test/vm/provision.js`: provision only.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const t0 = Date.now();
  const p = provision();
  console.log(`vm: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${p.vmlinux}, ${p.initramfs}`);
}
