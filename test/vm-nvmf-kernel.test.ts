// Inside the VM (npm run test:vm, vfio boot): the NVMe/TCP harness proven
// against the kernel's own peers on the guest's loopback: the kernel
// initiator (nvme-cli, nvme-tcp) against the kernel target (nvmet-tcp,
// configured through configfs by test/vm/nvmet.ts). Every piece the tests
// of the project's target (vm-nvmf-target.test.ts) and bench:nvmf rely on
// is exercised here: modules, lo, configfs, discover, connect, fio verify,
// ext4 + e2fsck, two host NQNs on one subsystem, a refused host NQN, a
// block-device namespace on QEMU's controller, teardown leaving nothing.
// Never with digests: the 6.1 nvmet-tcp hits a kernel BUG with -g -G.
//
// Skips itself outside a guest, and on the uio boot (nothing here depends on
// the user-space route: once per test:vm run is enough).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { vmConfig } from './vm/env.js';
import { kernelReady } from './vm/kernel.js';
import {
  NvmetTarget, nvmetAvailable, nvmetState, backingFile, discover, connect, connectRefused, disconnect, fabricsControllers,
  fioVerify, ext4RoundTrip, newHost, defaultHostNqn, setIoPolicy, diskIos, run, DISCOVERY_NQN, type Connection, type DiscoveryEntry,
} from './vm/nvmf.js';

const vm = vmConfig();
const active = vm !== undefined && vm.route === 'vfio';
if (vm && !active) console.log('vm-nvmf-kernel: skipped on the uio boot (runs once, on the vfio boot)');
const t = active ? test : test.skip;

const NQN = 'nqn.2026-12.io.nvme-wasm:kernel-file';
const NQN_LOCKED = 'nqn.2026-12.io.nvme-wasm:kernel-locked';
const NQN_BDEV = 'nqn.2026-12.io.nvme-wasm:kernel-bdev';
const PORT = 4420;
const BACKING = '/tmp/nvmf/ns1.img';
const FIO_SIZE = 48 << 20;

let target: NvmetTarget | undefined;
const allowedHost = newHost();

test.after(async () => {
  if (!active) return;
  for (const c of fabricsControllers()) run('nvme', ['disconnect', '-d', c.name], { allowFail: true });
  target?.teardown();
  fs.rmSync('/tmp/nvmf', { recursive: true, force: true });
});

/** fio verify on a connection's block device; its result checked. */
function verified(c: Connection, size = FIO_SIZE): void {
  const r = fioVerify({ filename: `/dev/${c.blockDevice}`, size });
  assert.is(r.status, 0, `fio verify on ${c.blockDevice}: ${r.output}`);
  assert.is(r.errors, 0, 'fio errors');
  assert.is(r.written, size, 'bytes written');
  assert.is(r.read, size, 'bytes verified');
}

t('the guest has the fabrics and ext4 modules, lo up, THP off, configfs mounted with nvmet empty', () => {
  for (const m of ['nvme_fabrics', 'nvme_tcp', 'nvmet', 'nvmet_tcp', 'configfs', 'crc32c_generic', 'ext4', 'jbd2']) assert.ok(fs.existsSync(`/sys/module/${m}`), `module ${m} loaded`);
  assert.match(run('ip', ['-o', 'addr', 'show', 'dev', 'lo']).stdout, /inet 127\.0\.0\.1\//);
  assert.is(fs.readFileSync('/sys/class/net/lo/operstate', 'latin1').trim() !== 'down', true, 'lo is not down');
  // THP off (test/vm/guest.ts says why: nvmet-tcp's usercopy BUG on loopback).
  assert.match(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'latin1'), /\[never\]/);
  assert.ok(nvmetAvailable(), 'configfs has nvmet');
  assert.equal(nvmetState(), { subsystems: [], ports: [], hosts: [] });
  assert.equal(fabricsControllers(), []);
});

t('nvmet-tcp from configfs: discover lists the subsystems each host may reach on 127.0.0.1:4420, and the discovery subsystem', () => {
  target = NvmetTarget.create({
    port: { id: 1, trsvcid: PORT },
    subsystems: [
      { nqn: NQN, namespaces: [{ nsid: 1, devicePath: backingFile(BACKING, 256) }] },
      { nqn: NQN_LOCKED, namespaces: [{ nsid: 1, devicePath: backingFile('/tmp/nvmf/locked.img', 64) }], allowedHosts: [allowedHost.hostnqn] },
    ],
  });
  const state = nvmetState();
  assert.equal(state.subsystems.sort(), [NQN, NQN_LOCKED].sort());
  assert.equal(state.ports, ['1']);
  const check = (log: DiscoveryEntry[], want: string[]): void => {
    const nvm = log.filter((e) => e.subtype === 'nvme subsystem');
    assert.equal(nvm.map((e) => e.subnqn).sort(), [...want].sort(), `NVM subsystems in the discovery log: ${JSON.stringify(log)}`);
    for (const e of nvm) assert.equal([e.trtype, e.adrfam, e.traddr, e.trsvcid], ['tcp', 'ipv4', '127.0.0.1', String(PORT)]);
    // nvmet 6.1 lists the discovery subsystem itself too (subtype 3).
    const self = log.find((e) => e.subnqn === DISCOVERY_NQN);
    assert.ok(self, 'the discovery subsystem lists itself');
    assert.is(self!.subtype, 'current discovery subsystem');
  };
  // The default host may not reach the locked subsystem: nvmet leaves it out of its log page.
  check(discover({ port: PORT }), [NQN]);
  check(discover({ port: PORT, ...allowedHost }), [NQN, NQN_LOCKED]);
  // nvme-cli's discover leaves no controller behind.
  assert.equal(fabricsControllers(), []);
});

t('connect to the file-backed subsystem: a tcp controller, live, with a block device of the namespace size', async () => {
  const c = await connect({ nqn: NQN, port: PORT });
  try {
    const ctrl = fabricsControllers().find((x) => x.name === c.ctrl)!;
    assert.is(ctrl.state, 'live');
    assert.is(ctrl.hostnqn, defaultHostNqn());
    assert.match(ctrl.address, /traddr=127\.0\.0\.1,trsvcid=4420/);
    assert.is(Number(fs.readFileSync(`/sys/block/${c.blockDevice}/size`, 'latin1')) * 512, 256 * 2 ** 20);
  } finally {
    await disconnect(c.ctrl);
  }
  assert.equal(fabricsControllers(), [], 'nothing left after nvme disconnect');
});

t('fio verify through the kernel initiator: random writes 4k-256k, QD32, crc32c, every block read back', async () => {
  const c = await connect({ nqn: NQN, port: PORT });
  try {
    verified(c);
  } finally {
    await disconnect(c.ctrl);
  }
});

t('ext4 over NVMe/TCP: mkfs, files written, same sha256 after a remount, e2fsck -f -n clean', async () => {
  const c = await connect({ nqn: NQN, port: PORT });
  try {
    const r = ext4RoundTrip(`/dev/${c.blockDevice}`, '/tmp/nvmf-mnt');
    assert.is(r.written.size, 4);
    assert.equal([...r.readBack], [...r.written], 'checksums after the remount');
    assert.is(r.fsckStatus, 0, r.fsckOutput);
  } finally {
    await disconnect(c.ctrl);
  }
});

t('a host NQN not allowed is refused (no controller left); the allowed one connects', async () => {
  const stranger = newHost();
  const r = connectRefused({ nqn: NQN_LOCKED, port: PORT, ...stranger });
  assert.is.not(r.status, 0, `nvme connect as a host not allowed: ${r.output}`);
  assert.equal(r.leftover, []);
  const c = await connect({ nqn: NQN_LOCKED, port: PORT, ...allowedHost });
  try {
    assert.is(fabricsControllers().find((x) => x.name === c.ctrl)!.hostnqn, allowedHost.hostnqn);
  } finally {
    await disconnect(c.ctrl);
  }
});

t('two host NQNs on one subsystem at once: two controllers, one multipath namespace, I/O on both paths, verified', async () => {
  const a = await connect({ nqn: NQN, port: PORT });
  const other = newHost();
  let b: Connection | undefined;
  try {
    b = await connect({ nqn: NQN, port: PORT, ...other, duplicateConnect: true });
    const ctrls = fabricsControllers().filter((x) => x.subsysnqn === NQN);
    assert.is(ctrls.length, 2);
    assert.equal(ctrls.map((x) => x.hostnqn).sort(), [defaultHostNqn(), other.hostnqn].sort());
    assert.is.not(ctrls[0]!.cntlid, ctrls[1]!.cntlid, 'distinct controller IDs');
    assert.is(b.blockDevice, a.blockDevice, 'one namespace head over both controllers (native multipath)');
    setIoPolicy(a.blockDevice, 'round-robin');
    const before = [diskIos(a.pathDevice), diskIos(b.pathDevice)];
    verified(a, 16 << 20);
    const after = [diskIos(a.pathDevice), diskIos(b.pathDevice)];
    assert.ok(after[0]!.writes > before[0]!.writes && after[1]!.writes > before[1]!.writes, `writes on both paths: ${JSON.stringify({ before, after })}`);
  } finally {
    if (b) await disconnect(b.ctrl);
    await disconnect(a.ctrl);
  }
  assert.equal(fabricsControllers(), []);
});

t('a block-device namespace: QEMU\'s controller through the kernel nvme driver exported by nvmet-tcp, fio verify', async () => {
  const dev = vm!.devices[0]!;
  const { ns } = await kernelReady(dev);
  const blk = `/dev/${ns.get(1)!}`;
  const bdev = NvmetTarget.create({ port: { id: 2, trsvcid: PORT + 1 }, subsystems: [{ nqn: NQN_BDEV, namespaces: [{ nsid: 1, devicePath: blk }] }] });
  try {
    assert.is(fs.readFileSync(`/sys/kernel/config/nvmet/subsystems/${NQN_BDEV}/namespaces/1/buffered_io`, 'latin1').trim(), '0', 'O_DIRECT on a block device');
    const c = await connect({ nqn: NQN_BDEV, port: PORT + 1 });
    try {
      assert.is(Number(fs.readFileSync(`/sys/block/${c.blockDevice}/size`, 'latin1')) * 512, dev.namespaces[0]!.blocks * dev.namespaces[0]!.lbaSize);
      verified(c, 32 << 20);
    } finally {
      await disconnect(c.ctrl);
    }
  } finally {
    bdev.teardown();
  }
});

t('teardown in configfs order leaves nvmet empty', () => {
  target!.teardown();
  target = undefined;
  assert.equal(nvmetState(), { subsystems: [], ports: [], hosts: [] });
});

test.run();
