// The VM harness's own checks that need no guest: bad runInGuest options are
// typed errors naming the option, and a host without QEMU gets a
// QemuMissingError saying what to install (nothing is booted here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInGuest, bdfOf, type GuestOptions } from './vm/guest.js';
import { VmArgumentError, QemuMissingError } from './vm/errors.js';
import { vmConfig } from './vm/env.js';

const argErr = (arg: string) => (e: unknown) => e instanceof VmArgumentError && e.argument === arg && e.message.includes(arg);

test('bad options are VmArgumentErrors naming the option', async () => {
  const cases: Array<[Partial<GuestOptions>, string]> = [
    [{ script: '' }, 'script'],
    [{ script: [] }, 'script'],
    [{ script: ['echo', 3 as unknown as string] }, 'script'],
    [{ nvme: [{ namespaces: [{ lbaSize: 1024 as 512 }] }] }, 'nvme[0].namespaces[0].lbaSize'],
    [{ nvme: [{}, { namespaces: [{ lbaSize: 512, sizeMiB: 0 }] }] }, 'nvme[1].namespaces[0].sizeMiB'],
    [{ nvme: [{ maxIoQpairs: 0 }] }, 'nvme[0].maxIoQpairs'],
    [{ nvme: [{ mdts: 2.5 }] }, 'nvme[0].mdts'],
    [{ nvme: [{ serial: 'has space' }] }, 'nvme[0].serial'],
    [{ nvme: Array.from({ length: 13 }, () => ({})) }, 'nvme'],
    [{ smp: 0 }, 'smp'],
    [{ memMiB: 16 }, 'memMiB'],
    [{ hugepages: -1 }, 'hugepages'],
    [{ timeoutMs: 10 }, 'timeoutMs'],
    [{ env: { 'BAD-NAME': 'x' } }, 'env.BAD-NAME'],
    [{ kernelArgs: ['two words'] }, 'kernelArgs'],
  ];
  for (const [o, arg] of cases) {
    await runInGuest({ script: 'true', ...o }).then(
      () => assert.unreachable(`${arg} accepted`),
      (e: unknown) => assert.ok(argErr(arg)(e), `${arg}: ${String(e)}`),
    );
  }
});

test('no QEMU on PATH: QemuMissingError before anything is provisioned or booted', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-qemu-'));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    await runInGuest({ script: 'true' }).then(
      () => assert.unreachable('booted without QEMU'),
      (e: unknown) => {
        assert.instance(e, QemuMissingError);
        assert.match((e as Error).message, 'apt-get install qemu-system-x86');
      },
    );
  } finally {
    process.env.PATH = saved;
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('PCI addresses of the controllers, and what the guest-side tests parse', () => {
  assert.is(bdfOf(0), '0000:00:04.0');
  assert.is(bdfOf(1), '0000:00:05.0');
  assert.is(bdfOf(11), '0000:00:0f.0');
  assert.is(vmConfig({}), undefined, 'outside a guest: no configuration, the vm-* tests skip');
  const dev = { bdf: bdfOf(1), serial: 'S1', maxIoQpairs: 2, mdts: 7, namespaces: [{ nsid: 1, lbaSize: 4096, blocks: 16 }] };
  const c = vmConfig({ NVME_WASM_VM_PCI: dev.bdf, NVME_WASM_VM_DEVICES: JSON.stringify([dev]), NVME_WASM_VM_ROUTE: 'uio', NVME_WASM_VM_IOMMU: '1', NVME_WASM_VM_SHARED: '/x' });
  assert.equal(c, { devices: [dev], route: 'uio', iommu: true, shared: '/x' });
});

test.run();
