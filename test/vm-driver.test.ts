// Inside the VM (npm run test:vm): the driver on QEMU's NVMe controllers
// through the route of this boot (NVME_WASM_VM_ROUTE: vfio-pci behind the
// virtual IOMMU, or uio_pci_generic with physical addresses). Skips itself
// outside a guest. The controllers are bound with `nvme-wasm setup` first
// and given back to the kernel with `setup reset` at the end.
//
// Devices (test/vm/main.ts): devices[0] has NSID 1 (512-byte blocks) and
// NSID 2 (4096), MDTS 7, 64 I/O queue pairs; devices[1] has max_ioqpairs=2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { Controller } from '../host/controller.js';
import { PcieError, ResourceError } from '../host/errors.js';
import type { Namespace } from '../host/namespace.js';
import { DMA_PAGE_SIZE } from '../assembly/abi/region.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import { pattern } from './helpers/rand.js';
import {
  vmConfig, cliSync, cli, tridOf, MAIN, driverOf, bindForRoute, resetToKernel, waitFor, kernelState, kernelBlockDevices,
} from './helpers/pcie-vm.js';

const vm = vmConfig();
const t = vm ? test : test.skip;
const main = vm?.devices[0];
const small = vm?.devices[1];

test.before(() => {
  if (!vm) return;
  bindForRoute(vm, vm.devices);
});

test.after(async () => {
  if (!vm) return;
  await resetToKernel(vm.devices);
});

async function open(opts: Parameters<typeof Controller.open>[0] = {}): Promise<Controller> {
  return Controller.open({ transport: tridOf(main!), regionSize: 32 << 20, ...opts });
}

/** Write `blocks` blocks at `lba`, read them back, compare; `seq` tells rounds apart. */
async function roundTrip(ns: Namespace, lba: number, blocks: number, seq: number): Promise<void> {
  const d = pattern(lba, blocks, ns.blockSize, seq);
  await ns.write(lba, d);
  const back = await ns.readBlocks(lba, blocks);
  assert.ok(back.equals(d), `NSID ${ns.id}: ${blocks} blocks at LBA ${lba} read back differently`);
}

t('setup status shows the controllers on the route driver, with hugepages', () => {
  const r = cliSync('setup', 'status');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^hugepages: \d+ x 2 MiB reserved/m);
  for (const d of vm!.devices) assert.match(r.out, new RegExp(`NVMe  ${d.bdf}  1b36   0010   ${driverOf(vm!)}`));
});

t('identify and namespaces: the controller and both namespaces as QEMU was told', async () => {
  const ctrl = await open();
  try {
    assert.is(ctrl.transport.route, vm!.route);
    assert.is(ctrl.data.serialNumber, main!.serial);
    assert.is(ctrl.data.modelNumber, 'QEMU NVMe Ctrl');
    assert.is(ctrl.maxTransfer, 2 ** main!.mdts * PAGE_SIZE);
    assert.equal([...ctrl.namespaces.keys()], main!.namespaces.map((n) => n.nsid));
    for (const n of main!.namespaces) {
      const ns = ctrl.namespace(n.nsid);
      assert.is(ns.blockSize, n.lbaSize, `NSID ${n.nsid} block size`);
      assert.is(Number(ns.blocks), n.blocks, `NSID ${n.nsid} blocks`);
    }
    assert.ok(ctrl.shadowDoorbells, 'QEMU advertises Doorbell Buffer Config: shadow doorbells are on');
  } finally {
    await ctrl.close();
  }
});

t('controller reset on QEMU\'s controller: two queue pairs come back (shadow doorbells given again), verified I/O after each of three resets', async () => {
  const ctrl = await open();
  try {
    const a = await ctrl.createQueuePair({ depth: 32 });
    const b = await ctrl.createQueuePair({ depth: 32 });
    const ns = ctrl.namespace(1);
    const resets: string[] = [];
    ctrl.on('reset', (r) => resets.push(r.reason));
    for (let i = 0; i < 3; i++) {
      // Commands in flight on both queue pairs while the reset starts: each ends, none hangs.
      const inflight = [a, b].flatMap((qp) => [0, 1, 2, 3].map((j) => ns.readBlocks(j * 8, 8, { qpair: qp }).then(() => 'ok', (e: Error) => e.name)));
      await ctrl.reset();
      for (const r of await Promise.all(inflight)) assert.ok(r === 'ok' || r === 'ControllerResetError', r);
      for (const qp of [a, b]) {
        const d = pattern(1000 + qp.qid * 16, 16, ns.blockSize, i);
        await ns.write(1000 + qp.qid * 16, d, { qpair: qp });
        assert.ok((await ns.readBlocks(1000 + qp.qid * 16, 16, { qpair: qp })).equals(d), `qid ${qp.qid} after reset ${i + 1}`);
      }
    }
    assert.equal(resets, ['requested', 'requested', 'requested']);
    assert.is(ctrl.resetCount, 3);
    assert.ok(ctrl.shadowDoorbells, 'still on after the resets');
    await a.delete();
    await b.delete();
  } finally {
    await ctrl.close();
  }
});

t('verified write/read from one block to beyond MDTS (split), 512- and 4096-byte blocks', async () => {
  const ctrl = await open({ regionSize: 64 << 20 });
  try {
    for (const n of main!.namespaces) {
      const ns = ctrl.namespace(n.nsid);
      const mdtsBlocks = ctrl.maxTransfer / ns.blockSize;
      const sizes = [1, 2, 7, PAGE_SIZE / ns.blockSize + 1, mdtsBlocks - 1, mdtsBlocks, mdtsBlocks + 1, 3 * mdtsBlocks + 5];
      let lba = 3;
      for (const [i, blocks] of sizes.entries()) {
        await roundTrip(ns, lba, blocks, i + 1);
        lba += blocks + 11;
      }
      // The last blocks of the namespace.
      await roundTrip(ns, Number(ns.blocks) - 9, 9, 99);
    }
  } finally {
    await ctrl.close();
  }
});

t('zero-copy I/O on a DMA buffer crossing a 2 MiB page of the region (a different physical page on uio)', async () => {
  const ctrl = await open({ regionSize: 64 << 20 });
  try {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocDma(DMA_PAGE_SIZE + 256 * 1024);
    try {
      const boundary = Math.ceil((buf.regionOffset + 1) / DMA_PAGE_SIZE) * DMA_PAGE_SIZE;
      const start = boundary - buf.regionOffset - 3 * PAGE_SIZE;
      const part = buf.subarray(start, start + 64 * 1024);
      const d = pattern(5000, part.length / ns.blockSize, ns.blockSize, 7);
      part.bytes.set(d);
      await ns.write(5000, part);
      part.bytes.fill(0);
      await ns.read(5000, part);
      assert.ok(Buffer.from(part.bytes).equals(d));
      // Read into an ordinary buffer too: the device wrote what we wrote.
      assert.ok((await ns.readBlocks(5000, part.length / ns.blockSize)).equals(d));
    } finally {
      buf.free();
    }
  } finally {
    await ctrl.close();
  }
});

t('shadow doorbells off: same data, no MMIO write skipped', async () => {
  const ctrl = await open({ shadowDoorbells: false });
  try {
    assert.is(ctrl.shadowDoorbells, false);
    const ns = ctrl.namespace(2);
    const qp = await ctrl.createQueuePair({ depth: 32 });
    const writes = Array.from({ length: 16 }, (_, i) => ns.write(100 + i * 4, pattern(100 + i * 4, 4, ns.blockSize, 3), { qpair: qp }));
    await Promise.all(writes);
    for (let i = 0; i < 16; i++) assert.ok((await ns.readBlocks(100 + i * 4, 4, { qpair: qp })).equals(pattern(100 + i * 4, 4, ns.blockSize, 3)));
    assert.is(ctrl.doorbellWritesSkipped, 0);
    await qp.delete();
  } finally {
    await ctrl.close();
  }
});

t('max_ioqpairs=2: two queue pairs, the third is a ResourceError naming the limit', async () => {
  const ctrl = await Controller.open({ transport: tridOf(small!), regionSize: 32 << 20 });
  try {
    assert.is(ctrl.maxQueuePairs, 2);
    const a = await ctrl.createQueuePair();
    const b = await ctrl.createQueuePair();
    try {
      await ctrl.createQueuePair();
      assert.unreachable('a third queue pair was created');
    } catch (e) {
      assert.instance(e, ResourceError);
      assert.is((e as ResourceError).resource, 'qid');
      assert.match((e as Error).message, 'granted 2');
    }
    // Both work, and a freed one can be created again.
    const ns = ctrl.namespace(1);
    await ns.write(0, pattern(0, 2, ns.blockSize, 1), { qpair: a });
    assert.ok((await ns.readBlocks(0, 2, { qpair: b })).equals(pattern(0, 2, ns.blockSize, 1)));
    await a.delete();
    const c = await ctrl.createQueuePair();
    assert.ok((await ns.readBlocks(0, 2, { qpair: c })).equals(pattern(0, 2, ns.blockSize, 1)));
  } finally {
    await ctrl.close();
  }
});

t('a device in use: a second driver and setup reset are refused, naming this process', async () => {
  const ctrl = await open();
  try {
    const other = await cli('identify', '-r', tridOf(main!));
    assert.is(other.code, 1);
    assert.match(other.err, /^nvme-wasm: error: /m); // the CLI's one message style (a PcieError underneath)
    assert.match(other.err, 'in use');
    assert.match(other.err, `pid ${process.pid}`);
    const reset = cliSync('setup', 'reset', '--allow', main!.bdf);
    assert.is(reset.code, 1);
    assert.match(reset.out, `${main!.bdf} (1b36:0010): not resetting, in use: pid ${process.pid}`);
  } finally {
    await ctrl.close();
  }
  // Once closed, nothing holds it.
  const r = await cli('identify', '-r', tridOf(main!));
  assert.is(r.code, 0, r.err);
});

t('not root: opening is refused with a PcieError saying so, before anything is created', () => {
  const r = spawnSync(process.execPath, [MAIN, 'identify', '-r', tridOf(main!)], { encoding: 'utf8', uid: 65534, gid: 65534 });
  assert.is(r.status, 1);
  assert.match(r.stderr, /^nvme-wasm: error: /m); // a PcieError, printed in the CLI's one style
  assert.match(r.stderr, 'root');
});

t('no hugepages for the region: a ResourceError saying how to reserve them', async () => {
  for (const opts of [{ hugepages: 'never' as const }, { regionSize: 1 << 30 }]) {
    try {
      await open(opts);
      assert.unreachable();
    } catch (e) {
      assert.instance(e, ResourceError);
      assert.is((e as ResourceError).resource, 'dma');
      assert.match((e as Error).message, 'nvme-wasm setup');
    }
  }
});

t('on the kernel driver: opening is refused with what to do; setup refuses a device with an open block device or a mount', async () => {
  await resetToKernel([small!]);
  try {
    try {
      await Controller.open({ transport: tridOf(small!) });
      assert.unreachable();
    } catch (e) {
      assert.instance(e, PcieError);
      assert.is((e as PcieError).reason, 'driver');
      assert.match((e as Error).message, 'kernel nvme driver');
      assert.match((e as Error).message, '/dev/nvme');
      assert.match((e as Error).message, 'nvme-wasm setup');
    }
    const [blk] = kernelBlockDevices(small!.bdf);
    // An open block device: a process holding /dev/nvmeXnY.
    const holder = spawn('sh', ['-c', `exec 3</dev/${blk}; echo held; exec sleep 600`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => holder.stdout!.once('data', r));
      const r = cliSync('setup', '--driver', driverOf(vm!), '--allow', small!.bdf);
      assert.is(r.code, 1);
      assert.match(r.out, `${small!.bdf} (1b36:0010): not binding, in use: pid ${holder.pid} (sleep 600) has it open`);
      assert.is(kernelState(small!.bdf), 'live');
    } finally {
      holder.kill('SIGKILL');
    }
    // A mounted filesystem (when the guest kernel has ext4).
    if (fs.readFileSync('/proc/filesystems', 'utf8').includes('ext4')) {
      const dir = fs.mkdtempSync('/tmp/nvme-wasm-mnt-');
      try {
        cliOk('mkfs.ext4', '-q', '-F', `/dev/${blk}`);
        cliOk('mount', `/dev/${blk}`, dir);
        try {
          const r = cliSync('setup', '--driver', driverOf(vm!), '--allow', small!.bdf);
          assert.is(r.code, 1);
          assert.match(r.out, `not binding, in use: mount /dev/${blk} on ${dir} (ext4)`);
        } finally {
          cliOk('umount', dir);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    bindForRoute(vm!, [small!]);
  }
  await waitFor(`${small!.bdf} on ${driverOf(vm!)}`, () => !kernelState(small!.bdf));
});

function cliOk(cmd: string, ...args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit' }).status;
  if (r !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r}`);
}

test.run();
