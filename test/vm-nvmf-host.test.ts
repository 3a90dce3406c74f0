// Inside the VM (npm run test:vm -- --routes vfio --pattern '^vm-nvmf-host.*\.test\.js$'):
// this project's NVMe/TCP initiator against the kernel's nvmet-tcp on the
// guest's loopback (configured through configfs by test/vm/nvmet.ts, a
// file-backed namespace on tmpfs): discovery, identify and the namespace
// list (the CLI tools too), verified write/read from one block to beyond
// the maximum transfer, perf -V with no mismatch, Keep Alive over a quiet
// period longer than KATO, the subsystem unlinked from the port mid-I/O and
// linked back (Host Pathing Error, then reconnect and verified I/O), and a
// subsystem that does not allow this host. Never with digests: the 6.1
// nvmet-tcp hits a kernel BUG with them (../shared/DESIGN.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { vmConfig } from './vm/env.js';
import { NvmetTarget, nvmetAvailable, backingFile, newHost, NVMET_ROOT } from './vm/nvmf.js';
import { Controller, NvmeStatusError, NvmfConnectError, discover, Sct, PathSc } from '../host/index.js';
import { pattern } from './helpers/rand.js';

const vm = vmConfig();
const active = vm !== undefined && vm.route === 'vfio' && nvmetAvailable();
if (vm && !active) console.log('vm-nvmf-host: skipped (runs on the vfio boot, with nvmet in configfs)');
const t = active ? test : test.skip;

const NQN = 'nqn.2026-12.io.nvme-wasm:host-file';
const NQN_LOCKED = 'nqn.2026-12.io.nvme-wasm:host-locked';
const PORT = 4420;
const TRID = `trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${PORT} subnqn:${NQN}`;
const CLI = 'dist/host/cli/main.js';
let target: NvmetTarget | undefined;

test.before(() => {
  if (!active) return;
  target = NvmetTarget.create({
    port: { id: 1, trsvcid: PORT },
    subsystems: [
      { nqn: NQN, namespaces: [{ nsid: 1, devicePath: backingFile('/tmp/nvmf-host/ns1.img', 128) }] },
      { nqn: NQN_LOCKED, namespaces: [{ nsid: 1, devicePath: backingFile('/tmp/nvmf-host/locked.img', 16) }], allowedHosts: [newHost().hostnqn] },
    ],
  });
});

test.after(() => {
  if (!active) return;
  target?.teardown();
  fs.rmSync('/tmp/nvmf-host', { recursive: true, force: true });
});

const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

t('discover: nvmet-tcp lists the subsystem this host may reach (and the discovery subsystem)', async () => {
  const log = await discover('127.0.0.1', PORT);
  const nvm = log.entries.filter((e) => e.subtype === 2).map((e) => e.subnqn);
  assert.equal(nvm, [NQN]);
  const r = cli(['discover', '-t', 'tcp', '-a', '127.0.0.1', '-s', String(PORT)]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /Discovery Log Number of Records \d+/);
  assert.match(r.stdout, new RegExp(`subnqn:  ${NQN.replace(/\./g, '\\.')}`));
});

t('identify and the namespace list over TCP (the API and the CLI tools)', async () => {
  const ctrl = await Controller.open({ transport: TRID });
  try {
    assert.equal([...ctrl.namespaces.keys()], [1]);
    const ns = ctrl.namespace(1);
    assert.is(ns.blocks * ns.blockSize, 128 * 2 ** 20);
    assert.match(ctrl.data.modelNumber, /Linux/);
    console.log(`vm-nvmf-host: nvmet-tcp: ${ctrl.data.modelNumber.trim()} VS ${ctrl.version}, MDTS -> maxTransfer ${ctrl.maxTransfer}, ${ctrl.maxQueuePairs} I/O queues, CAP.MQES+1 ${ctrl.maxQueueEntries}`);
  } finally {
    await ctrl.close();
  }
  for (const tool of [['identify'], ['list'], ['smart-log'], ['error-log'], ['get-feature', '-f', '7']]) {
    const r = cli([...tool, '-r', TRID]);
    assert.is(r.status, 0, `${tool.join(' ')}: ${r.stderr}`);
  }
});

t('verified write/read from one block to beyond the maximum transfer, then all at once', async () => {
  const ctrl = await Controller.open({ transport: TRID });
  try {
    const ns = ctrl.namespace(1);
    const bs = ns.blockSize;
    const sizes = [bs, 4096, 8192, 16384, 16384 + bs, 65536, 131072, ctrl.maxTransfer, ctrl.maxTransfer + 4096, 2 * ctrl.maxTransfer + bs].filter((s) => s <= 8 * 2 ** 20);
    let lba = 0;
    const written: Array<[number, Buffer]> = [];
    for (const [i, size] of sizes.entries()) {
      const n = size / bs;
      const d = pattern(lba, n, bs, i);
      await ns.write(lba, d);
      assert.ok((await ns.readBlocks(lba, n)).equals(d), `${size} bytes at ${lba}`);
      written.push([lba, d]);
      lba += n + 7;
    }
    const all = await Promise.all(written.map(([l, d]) => ns.readBlocks(l, d.length / bs)));
    all.forEach((b, i) => assert.ok(b.equals(written[i]![1]), `concurrent read ${i}`));
  } finally {
    await ctrl.close();
  }
});

// poll:1: the I/O queue's socket read by perf's own polls (FabricsOptions.poll).
for (const extra of ['', ' poll:1']) {
  t(`perf -V against nvmet-tcp${extra}: 0 mismatches, 0 errors`, () => {
    const r = cli(['perf', '-r', `${TRID}${extra}`, '-q', '16', '-o', '4096', '-w', 'randrw', '-M', '50', '-t', '3', '-V', '--json']);
    assert.is(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    const text = JSON.stringify(doc);
    console.log(`vm-nvmf-host: perf -V${extra}: ${text.slice(0, 400)}`);
    assert.match(text, /"mismatches":0/);
    assert.not.match(text, /"errors":[1-9]/);
    assert.match(text, /"ios":[1-9]/);
  });
}

t('Keep Alive: a quiet period of 3 x KATO (2 s), then verified I/O, no disconnection', async () => {
  const ctrl = await Controller.open({ transport: `${TRID} kato:2000` });
  let lost = 0;
  ctrl.on('disconnected', () => lost++);
  try {
    const ns = ctrl.namespace(1);
    await ns.write(100, pattern(100, 8, ns.blockSize, 1));
    await new Promise((r) => setTimeout(r, 6000));
    assert.ok((await ns.readBlocks(100, 8)).equals(pattern(100, 8, ns.blockSize, 1)));
    assert.is(lost, 0);
  } finally {
    await ctrl.close();
  }
});

t('the subsystem unlinked from the port mid-I/O, linked back: Host Pathing Error, reconnect, verified I/O', async () => {
  const ctrl = await Controller.open({ transport: `${TRID} reconnect_delay:1 ctrl_loss_tmo:60` });
  const events: string[] = [];
  ctrl.on('disconnected', () => events.push('disconnected'));
  ctrl.on('reconnected', (e) => events.push(`reconnected after ${'attempts' in e ? e.attempts : '?'} attempts`));
  const link = `${NVMET_ROOT}/ports/1/subsystems/${NQN}`;
  try {
    const ns = ctrl.namespace(1);
    const bs = ns.blockSize;
    let stop = false;
    let ok = 0;
    const errors: unknown[] = [];
    const loops = [0, 1, 2, 3].map(async (i) => {
      const d = pattern(i * 64, 64, bs, 3);
      while (!stop) {
        try {
          await ns.write(i * 64, d);
          ok++;
        } catch (e) {
          errors.push(e);
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    fs.unlinkSync(link);
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 10_000))]);
    stop = true;
    assert.ok(ok > 0);
    assert.ok(errors.length > 0, 'in-flight commands ended');
    for (const e of errors) {
      assert.ok(e instanceof NvmeStatusError, String(e));
      assert.is((e as NvmeStatusError).sct, Sct.PathRelated);
      assert.is((e as NvmeStatusError).sc, PathSc.HostPathingError);
    }
    assert.ok(events.includes('disconnected'));
    await new Promise((r) => setTimeout(r, 2500)); // reconnect attempts are refused meanwhile
    fs.symlinkSync(`${NVMET_ROOT}/subsystems/${NQN}`, link);
    const end = performance.now() + 20_000;
    while (!events.some((e) => e.startsWith('reconnected')) && performance.now() < end) await new Promise((r) => setTimeout(r, 100));
    console.log(`vm-nvmf-host: events ${events.join(', ')}; ${ok} writes before, ${errors.length} ended by the loss`);
    assert.ok(events.some((e) => e.startsWith('reconnected')), events.join(', '));
    for (let i = 0; i < 4; i++) {
      const d = pattern(4096 + i * 256, 256, bs, 9);
      await ns.write(4096 + i * 256, d);
      assert.ok((await ns.readBlocks(4096 + i * 256, 256)).equals(d), `after the reconnect ${i}`);
    }
  } finally {
    if (!fs.existsSync(link)) fs.symlinkSync(`${NVMET_ROOT}/subsystems/${NQN}`, link);
    await ctrl.close();
  }
});

t('a subsystem that does not allow this host: NvmfConnectError naming the host, Connect Invalid Host', async () => {
  const t0 = performance.now();
  const err = await Controller.open({ transport: `trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${PORT} subnqn:${NQN_LOCKED}` }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof NvmfConnectError, String(err));
  assert.is((err as NvmfConnectError).reason, 'rejected');
  console.log(`vm-nvmf-host: refused host: ${(err as Error).message} (sct ${(err as NvmfConnectError).sct} sc 0x${(err as NvmfConnectError).sc.toString(16)}, ${Math.round(performance.now() - t0)} ms)`);
  assert.ok((err as NvmfConnectError).sc === 0x84 || (err as NvmfConnectError).sc === 0x82);
  assert.ok(performance.now() - t0 < 5000);
});

test.run();
