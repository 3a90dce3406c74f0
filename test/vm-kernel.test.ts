// Inside the VM (npm run test:vm): QEMU's NVMe controllers as the kernel
// sees them, and the driver-binding helpers (hal/pci-bind.ts) moving each
// controller to uio_pci_generic and vfio-pci and back to nvme. Skips itself
// outside a guest (NVME_WASM_VM_PCI unset).
//
// Everything is read back from the kernel and the device: sysfs, and the raw
// Identify data nvme-cli fetches (`-b`), decoded with the project's own
// offsets. Each test leaves every controller bound to nvme with its
// namespaces up, as it found it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  listPciDevices,
  pciDevice,
  currentDriver,
  bindDriver,
  rebindDefault,
  driverOverride,
  iommuGroup,
  iommuGroupDevices,
  uioName,
  normalizeAddress,
  PciError,
} from '../hal/pci-bind.js';
import { IDC_VID, IDC_SN, IDC_SN_LEN, IDC_MDTS, IDNS_NSZE, IDNS_FLBAS, IDNS_FLBAS_INDEX_MASK, IDNS_LBAF0, IDNS_LBAF_SIZE, LBAF_LBADS_SHIFT } from '../assembly/nvme/identify.js';
import { FeatureId, NQ_NSQ_SHIFT, NQ_NCQ_SHIFT, NQ_MASK } from '../assembly/nvme/cmd.js';
import { vmConfig, ROUTE_DRIVER, QEMU_NVME_VENDOR, QEMU_NVME_DEVICE, PCI_CLASS_NVME, } from './vm/env.js';
import { kernelController, kernelReady } from './vm/kernel.js';
import { pattern } from './helpers/rand.js';

const vm = vmConfig();
const t = vm ? test : test.skip;
const devices = vm?.devices ?? [];

/** LBADS is 8 bits wide (1.4 Figure "LBA Format Data Structure"). */
const LBADS_MASK = 0xff;
/** sysfs block sizes are in 512-byte sectors, whatever the LBA size. */
const SECTOR = 512;

function nvmeCli(...args: string[]): Buffer {
  return execFileSync('nvme', args, { maxBuffer: 1 << 20 });
}

t('sysfs lists exactly the controllers under test: class 0x010802, QEMU 1b36:0010, held by nvme', async () => {
  const found = listPciDevices(PCI_CLASS_NVME);
  assert.equal(
    found.map((d) => d.address),
    devices.map((d) => d.bdf),
  );
  for (const d of found) {
    assert.is(d.vendor, QEMU_NVME_VENDOR, `${d.address} vendor`);
    assert.is(d.device, QEMU_NVME_DEVICE, `${d.address} device`);
    assert.is(d.classCode, PCI_CLASS_NVME);
    assert.is(d.driver, 'nvme', `${d.address} driver`);
    assert.is(currentDriver(d.address), 'nvme');
    if (vm!.iommu) assert.type(d.iommuGroup, 'number', 'a group per device behind intel-iommu');
  }
});

t('the kernel driver sees each controller: serial, vendor, MDTS and the queue pairs QEMU was given', async () => {
  for (const d of devices) {
    const { ctrl } = await kernelReady(d);
    assert.is(fs.readFileSync(`/sys/class/nvme/${ctrl}/serial`, 'latin1').trim(), d.serial);
    const id = nvmeCli('id-ctrl', `/dev/${ctrl}`, '-b');
    assert.is(id.readUInt16LE(IDC_VID), QEMU_NVME_VENDOR, 'Identify Controller VID');
    assert.is(id.subarray(IDC_SN, IDC_SN + IDC_SN_LEN).toString('latin1').trim(), d.serial);
    assert.is(id.readUInt8(IDC_MDTS), d.mdts, 'MDTS');
    // Number of Queues (5.21.1.7): 0's based counts the controller allocated.
    const out = nvmeCli('get-feature', `/dev/${ctrl}`, '-f', String(FeatureId.NumberOfQueues)).toString();
    const m = /value:\s*(0x[0-9a-f]+)/i.exec(out);
    assert.ok(m, `get-feature output: ${out}`);
    const dw0 = Number(m![1]);
    assert.is(((dw0 >>> NQ_NSQ_SHIFT) & NQ_MASK) + 1, d.maxIoQpairs, 'submission queues');
    assert.is(((dw0 >>> NQ_NCQ_SHIFT) & NQ_MASK) + 1, d.maxIoQpairs, 'completion queues');
  }
});

t('every namespace has its LBA size and capacity, in sysfs and in Identify Namespace', async () => {
  const sizes = new Set<number>();
  for (const d of devices) {
    const { ns } = await kernelReady(d);
    for (const want of d.namespaces) {
      const blk = ns.get(want.nsid);
      assert.ok(blk, `${d.bdf} nsid ${want.nsid} has a block device`);
      assert.is(Number(fs.readFileSync(`/sys/block/${blk}/queue/logical_block_size`, 'latin1')), want.lbaSize, `${blk} logical_block_size`);
      assert.is(Number(fs.readFileSync(`/sys/block/${blk}/size`, 'latin1')) * SECTOR, want.blocks * want.lbaSize, `${blk} capacity`);
      const id = nvmeCli('id-ns', `/dev/${blk}`, '-b');
      const fmt = id.readUInt8(IDNS_FLBAS) & IDNS_FLBAS_INDEX_MASK;
      const lbads = (id.readUInt32LE(IDNS_LBAF0 + fmt * IDNS_LBAF_SIZE) >>> LBAF_LBADS_SHIFT) & LBADS_MASK;
      assert.is(2 ** lbads, want.lbaSize, `${blk} LBA format ${fmt}`);
      assert.is(Number(id.readBigUInt64LE(IDNS_NSZE)), want.blocks, `${blk} NSZE`);
      sizes.add(want.lbaSize);
    }
  }
  assert.ok(sizes.has(512) && sizes.has(4096), 'the configuration has both LBA sizes');
});

t('the kernel driver moves data: 1 MiB (beyond MDTS) written and read back with O_DIRECT on every namespace', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-kernel-'));
  try {
    for (const d of devices) {
      const { ns } = await kernelReady(d);
      for (const n of d.namespaces) {
        const blk = ns.get(n.nsid)!;
        const bytes = 1 << 20;
        const lba = 3 * (n.lbaSize === 512 ? 8 : 1) + 1; // not 4 KiB aligned on the 512 namespace
        const data = pattern(lba, bytes / n.lbaSize, n.lbaSize, n.nsid);
        const src = path.join(dir, 'src');
        const dst = path.join(dir, 'dst');
        fs.writeFileSync(src, data);
        const bs = `bs=${n.lbaSize}`;
        execFileSync('dd', [`if=${src}`, `of=/dev/${blk}`, bs, `seek=${lba}`, 'oflag=direct', 'conv=notrunc,fsync', 'status=none']);
        execFileSync('dd', [`if=/dev/${blk}`, `of=${dst}`, bs, `skip=${lba}`, `count=${bytes / n.lbaSize}`, 'iflag=direct', 'status=none']);
        assert.ok(fs.readFileSync(dst).equals(data), `${blk}: read back what was written`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t('bind each controller to uio_pci_generic, then back to nvme with its namespaces', async () => {
  for (const d of devices) {
    bindDriver(d.bdf, ROUTE_DRIVER.uio);
    try {
      assert.is(currentDriver(d.bdf), 'uio_pci_generic');
      assert.is(driverOverride(d.bdf), 'uio_pci_generic', 'the override stays: no rescan hands it back');
      assert.is(kernelController(d.bdf), undefined, 'nvme let go of it');
      const uio = uioName(d.bdf);
      assert.ok(uio, 'a uio device');
      assert.ok(fs.existsSync(`/dev/${uio}`), `/dev/${uio}`);
      bindDriver(d.bdf, ROUTE_DRIVER.uio); // already there: nothing to do
      assert.is(currentDriver(d.bdf), 'uio_pci_generic');
    } finally {
      assert.is(rebindDefault(d.bdf), 'nvme');
    }
    assert.is(driverOverride(d.bdf), undefined);
    await kernelReady(d);
  }
});

t('bind each controller to vfio-pci (behind the virtual IOMMU), then back to nvme', async () => {
  if (!vm!.iommu) {
    assert.throws(() => iommuGroup(devices[0]!.bdf), (e: unknown) => e instanceof PciError && e.reason === 'iommu');
    return;
  }
  for (const d of devices) {
    const group = iommuGroup(d.bdf);
    assert.equal(iommuGroupDevices(d.bdf), [d.bdf], 'alone in its group: VFIO can take it without its neighbours');
    bindDriver(d.bdf, ROUTE_DRIVER.vfio);
    try {
      assert.is(currentDriver(d.bdf), 'vfio-pci');
      assert.is(kernelController(d.bdf), undefined, 'nvme let go of it');
      assert.ok(fs.existsSync(`/dev/vfio/${group}`), `/dev/vfio/${group}`);
      assert.ok(fs.existsSync('/dev/vfio/vfio'), 'the VFIO container device');
      // Straight from one user-space driver to the other.
      bindDriver(d.bdf, ROUTE_DRIVER.uio);
      assert.is(currentDriver(d.bdf), 'uio_pci_generic');
      assert.not.ok(fs.existsSync(`/dev/vfio/${group}`), 'the group device goes with vfio-pci');
      bindDriver(d.bdf, ROUTE_DRIVER.vfio);
      assert.is(currentDriver(d.bdf), 'vfio-pci');
    } finally {
      assert.is(rebindDefault(d.bdf), 'nvme');
    }
    await kernelReady(d);
  }
});

t('bad input and refusals are typed errors naming the argument or the device, and change nothing', async () => {
  const d = devices[0]!;
  const argErr = (arg: string) => (e: unknown) => e instanceof PciError && e.reason === 'argument' && e.argument === arg && e.message.includes(arg);
  assert.throws(() => normalizeAddress('zz:00.0'), argErr('address'));
  assert.throws(() => bindDriver('0000:00:04', 'vfio-pci'), argErr('address'));
  assert.throws(() => bindDriver(d.bdf, '../nvme'), argErr('driver'));
  assert.throws(() => listPciDevices(-1), argErr('classCode'));
  assert.is(normalizeAddress(d.bdf.slice(5).toUpperCase()), d.bdf, 'BB:DD.F and upper case accepted');
  assert.throws(
    () => pciDevice('0000:00:1e.7'),
    (e: unknown) => e instanceof PciError && e.reason === 'missing' && e.address === '0000:00:1e.7',
  );
  assert.throws(
    () => bindDriver(d.bdf, 'no_such_driver'),
    (e: unknown) => e instanceof PciError && e.reason === 'driver' && e.message.includes('no_such_driver'),
  );
  assert.is(currentDriver(d.bdf), 'nvme', 'a refused bind leaves the device where it was');
  assert.is(driverOverride(d.bdf), undefined);
  await kernelReady(d);
});

test.run();
