// hal/pci-bind.ts on any machine: addresses and driver names are checked
// before sysfs is touched, and a missing device is a typed error. (Moving
// devices between drivers is tested in the VM: test/vm-kernel.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { normalizeAddress, listPciDevices, pciDevice, bindDriver, rebindDefault, driverLoaded, currentDriver, PciError, SYSFS_PCI_DEVICES } from '../hal/pci-bind.js';

const argErr = (arg: string) => (e: unknown) => e instanceof PciError && e.reason === 'argument' && e.argument === arg && e.message.includes(arg);

test('addresses: DDDD:BB:DD.F and BB:DD.F in any case are accepted, anything else names the argument', () => {
  assert.is(normalizeAddress('0000:00:04.0'), '0000:00:04.0');
  assert.is(normalizeAddress('00:1F.7'), '0000:00:1f.7');
  assert.is(normalizeAddress(' 0001:3a:00.1 '), '0001:3a:00.1');
  for (const bad of ['', '00:04', '0000:00:04.8', '0000:00:20.0', 'zz:00.0', '0000:00:04.0/../..', '0000:000:04.0']) {
    assert.throws(() => normalizeAddress(bad), argErr('address'), JSON.stringify(bad));
  }
  assert.throws(() => normalizeAddress(4 as unknown as string), argErr('address'));
  assert.throws(() => normalizeAddress('x', 'traddr'), argErr('traddr'), 'callers name their own argument');
});

test('driver names and class codes are checked before anything is written', () => {
  for (const bad of ['', '../nvme', 'vfio pci', 'a/b', 'x'.repeat(65)]) {
    assert.throws(() => bindDriver('0000:00:04.0', bad), argErr('driver'), JSON.stringify(bad));
    assert.throws(() => driverLoaded(bad), argErr('driver'));
  }
  assert.throws(() => bindDriver('nope', 'vfio-pci'), argErr('address'));
  assert.throws(() => rebindDefault('nope'), argErr('address'));
  for (const bad of [-1, 0x1000000, 1.5, NaN]) assert.throws(() => listPciDevices(bad), argErr('classCode'), String(bad));
});

test('a device that does not exist is a PciError naming it, for every operation', () => {
  // Domain ffff is not used by any machine this runs on.
  const ghost = 'ffff:ff:1f.7';
  const missing = (e: unknown) => e instanceof PciError && e.reason === 'missing' && e.address === ghost && e.message.includes(ghost);
  assert.throws(() => pciDevice(ghost), missing);
  assert.throws(() => currentDriver(ghost), missing);
  assert.throws(() => bindDriver(ghost, 'vfio-pci'), missing);
  assert.throws(() => rebindDefault(ghost), missing);
});

test('listing: every entry is a well-formed device, consistent with pciDevice()', () => {
  const all = listPciDevices();
  const names = fs.existsSync(SYSFS_PCI_DEVICES) ? fs.readdirSync(SYSFS_PCI_DEVICES) : [];
  assert.is(all.length, names.length, 'one entry per sysfs device');
  for (const d of all) {
    assert.equal(pciDevice(d.address), d);
    assert.ok(d.vendor >= 0 && d.vendor <= 0xffff && d.classCode >= 0 && d.classCode <= 0xffffff);
    assert.equal(
      listPciDevices(d.classCode).map((x) => x.classCode),
      all.filter((x) => x.classCode === d.classCode).map((x) => x.classCode),
    );
  }
});

test.run();
