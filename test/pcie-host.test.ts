// The PCIe path on a machine without an NVMe device: transport IDs, typed
// errors that say what to do (missing device, a device bound to another
// driver), physical addresses of a hugetlbfs page from /proc/self/pagemap,
// the uio DMA page table in the core (PRPs across a 2 MiB boundary), the
// shadow doorbell EventIdx rule in the core, and `nvme-wasm setup status`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseTransportId } from '../host/trid.js';
import { Controller } from '../host/controller.js';
import { InvalidArgumentError, PcieError } from '../host/errors.js';
import {
  listPciDevices, createSharedMemory, alignedOffset, mapFixed, openFile, closeFd, truncateFile, O_RDWR, O_CREAT, O_EXCL,
  hugetlbfsMount, hugePagesFree, physicalPages, lockMemory,
} from '../hal/index.js';
import { DMA_PAGE_SIZE, HDR_DMA_TABLE, REGION_ALIGN } from '../assembly/abi/region.js';
import { SQE_PRP1, SQE_PRP2, NvmOpc } from '../assembly/nvme/cmd.js';
import { doorbellOffset, PAGE_SIZE, PCI_CLASS_NVME } from '../assembly/nvme/regs.js';
import { makeHarness, makeQp, RingDevice } from './helpers/core-harness.js';

const MAIN = fileURLToPath(new URL('../host/cli/nvme-wasm.cjs', import.meta.url));

test('PCIe transport IDs: SPDK spelling, any case; the address is checked and lower-cased', () => {
  assert.equal(parseTransportId('trtype:PCIe traddr:0000:00:05.0'), { trtype: 'pcie', traddr: '0000:00:05.0' });
  assert.equal(parseTransportId('TRTYPE:pcie TRADDR:0000:0A:1F.7'), { trtype: 'pcie', traddr: '0000:0a:1f.7' });
  for (const bad of ['trtype:PCIe', 'trtype:PCIe traddr:00:05.0', 'trtype:PCIe traddr:0000:00:05.8', 'trtype:PCIe traddr:0000:00:05']) {
    assert.throws(() => parseTransportId(bad), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'transport id traddr', bad);
  }
});

function regionFiles(): string[] {
  const dirs = ['/dev/shm', hugetlbfsMount()].filter((d): d is string => !!d);
  return dirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.startsWith(`nvme-wasm-${process.pid}-`)));
}

test('a PCI address with no device: PcieError "missing", nothing left behind', async () => {
  const before = regionFiles();
  try {
    await Controller.open({ transport: 'trtype:PCIe traddr:00ff:1f:1f.7' });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PcieError);
    assert.is((e as PcieError).reason, 'missing');
    assert.is((e as PcieError).address, '00ff:1f:1f.7');
    assert.match((e as Error).message, '00ff:1f:1f.7');
  }
  assert.equal(regionFiles(), before);
});

test('an NVMe device bound to another driver is not touched: PcieError "driver" saying to run nvme-wasm setup', async () => {
  const other = listPciDevices().find((d) => d.classCode === PCI_CLASS_NVME && d.driver && d.driver !== 'vfio-pci' && d.driver !== 'uio_pci_generic');
  if (!other) return; // no such device on this machine (the VM suite has them: test/vm-driver.test.ts)
  try {
    await Controller.open({ transport: `trtype:PCIe traddr:${other.address}` });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PcieError);
    assert.is((e as PcieError).reason, 'driver');
    assert.match((e as Error).message, `bound to ${other.driver}`);
    assert.match((e as Error).message, 'nvme-wasm setup');
  }
  assert.is(listPciDevices().find((d) => d.address === other.address)!.driver, other.driver);
});

test('a device that is not NVMe is refused as such, untouched, with no setup advice', async () => {
  const other = listPciDevices().find((d) => d.classCode !== PCI_CLASS_NVME && d.driver);
  if (!other) return; // no such device on this machine
  const e = await Controller.open({ transport: `trtype:PCIe traddr:${other.address}` }).then(() => undefined, (x: unknown) => x);
  assert.instance(e, PcieError);
  assert.is((e as PcieError).reason, 'missing');
  assert.match((e as Error).message, `${other.address} is not an NVMe controller (class ${other.classCode.toString(16).padStart(6, '0')}`);
  assert.not.match((e as Error).message, 'setup');
  assert.is(listPciDevices().find((d) => d.address === other.address)!.driver, other.driver);
});

test('pagemap: a hugetlbfs page has one physical address, the same through two mappings, 2 MiB aligned', () => {
  const mount = hugetlbfsMount();
  if (!mount || hugePagesFree() < 1 || process.getuid?.() !== 0) return; // needs root and a free hugepage
  const path = `${mount}/nvme-wasm-pagemap-test-${process.pid}`;
  const fd = openFile(path, O_RDWR | O_CREAT | O_EXCL);
  try {
    truncateFile(fd, DMA_PAGE_SIZE);
    const { memory, base } = createSharedMemory(3 * REGION_ALIGN + 2 * DMA_PAGE_SIZE);
    const a = alignedOffset(base, 0, REGION_ALIGN);
    const b = a + DMA_PAGE_SIZE;
    mapFixed(base, a, DMA_PAGE_SIZE, fd);
    mapFixed(base, b, DMA_PAGE_SIZE, fd);
    lockMemory(base + BigInt(a), DMA_PAGE_SIZE);
    lockMemory(base + BigInt(b), DMA_PAGE_SIZE);
    const [pa] = physicalPages(base + BigInt(a), DMA_PAGE_SIZE, DMA_PAGE_SIZE);
    const [pb] = physicalPages(base + BigInt(b), DMA_PAGE_SIZE, DMA_PAGE_SIZE);
    assert.ok(pa! > 0n);
    assert.is(pa! % BigInt(DMA_PAGE_SIZE), 0n);
    assert.is(pa, pb);
    // And the mapping really is one page: a store through one window shows in the other.
    new Uint8Array(memory.buffer, a, 16)[7] = 0x5a;
    assert.is(new Uint8Array(memory.buffer, b, 16)[7], 0x5a);
  } finally {
    closeFd(fd);
    fs.rmSync(path, { force: true });
  }
});

test('uio DMA page table: PRPs of a buffer crossing a 2 MiB page take each page from the table', () => {
  const h = makeHarness({ regionSize: 8 * 1024 * 1024 });
  // Physical pages in reverse order and far apart: nothing linear about them.
  const pages = [0x7_6000_0000n, 0x5_2000_0000n, 0x3_0400_0000n, 0x1_0000_0000n];
  h.region.setDmaTable(pages);
  assert.is(h.dv.getUint32(HDR_DMA_TABLE, true) !== 0, true);
  for (const off of [0x10000, DMA_PAGE_SIZE + 0x1234, 3 * DMA_PAGE_SIZE + DMA_PAGE_SIZE - 4]) {
    assert.is(h.core.dmaAddrOf(off), pages[Math.floor(off / DMA_PAGE_SIZE)]! + BigInt(off % DMA_PAGE_SIZE));
  }
  const qp = makeQp(h, { qsize: 8 });
  const dev = new RingDevice(h, qp);
  // 8 KiB starting 4 KiB before the 2 MiB boundary: PRP1 in page 1 of the table, PRP2 in page 2.
  const big = h.region.allocDma(DMA_PAGE_SIZE + 2 * PAGE_SIZE, { align: REGION_ALIGN });
  const boundary = Math.ceil((big.regionOffset + 1) / DMA_PAGE_SIZE) * DMA_PAGE_SIZE;
  const buf = boundary - PAGE_SIZE;
  assert.ok(h.core.submitRw(qp.desc, NvmOpc.Read, 1, 0, 16, buf, 2 * PAGE_SIZE, 0) >= 0);
  h.core.qpRing(qp.desc);
  const [cmd] = dev.fetch();
  const p = boundary / DMA_PAGE_SIZE;
  assert.is(h.dv.getBigUint64(cmd!.off + SQE_PRP1, true), pages[p - 1]! + BigInt(DMA_PAGE_SIZE - PAGE_SIZE));
  assert.is(h.dv.getBigUint64(cmd!.off + SQE_PRP2, true), pages[p]!);
  // Device-contiguous allocations never cross a DMA page.
  for (const bytes of [4096, 24 * 1024, 128 * 1024, 1024 * 1024]) {
    const q = h.region.allocDma(bytes, { contiguous: true });
    assert.is(Math.floor(q.regionOffset / DMA_PAGE_SIZE), Math.floor((q.regionOffset + bytes - 1) / DMA_PAGE_SIZE), `${bytes} bytes`);
  }
});

test('shadow doorbells: the MMIO doorbell is written only when the new value passes EventIdx; admin stays MMIO', () => {
  const h = makeHarness();
  const pagesBuf = h.region.allocDma(2 * PAGE_SIZE, { contiguous: true });
  const db = pagesBuf.regionOffset;
  const ei = db + PAGE_SIZE;
  // Stale values of a previous queue with the same qid: qpInit must clear them.
  const sq1 = doorbellOffset(1, false, 0) - 0x1000;
  h.dv.setUint32(db + sq1, 37, true);
  h.dv.setUint32(ei + sq1, 37, true);
  h.core.setShadowDoorbells(db, ei, doorbellOffset(1, false, 0));
  const qp = makeQp(h, { qid: 1, qsize: 16 });
  const dev = new RingDevice(h, qp);
  assert.is(h.dv.getUint32(db + sq1, true), 0);
  assert.is(h.dv.getUint32(ei + sq1, true), 0);
  const skipped0 = h.core.doorbellsSkipped();
  const post = () => {
    assert.ok(h.core.submitFlush(qp.desc, 1) >= 0);
    h.core.qpRing(qp.desc);
  };
  post(); // 0 -> 1 passes EventIdx 0: MMIO
  assert.is(h.dv.getUint32(db + sq1, true), 1);
  assert.is(dev.sqTailDoorbell(), 1);
  post(); // 1 -> 2, the controller still at EventIdx 0 (it will read the shadow): no MMIO
  assert.is(h.dv.getUint32(db + sq1, true), 2);
  assert.is(dev.sqTailDoorbell(), 1);
  assert.is(h.core.doorbellsSkipped() - skipped0, 1);
  h.dv.setUint32(ei + sq1, 2, true); // the controller caught up and asks to be told past 2
  post(); // 2 -> 3: MMIO
  assert.is(dev.sqTailDoorbell(), 3);
  // The admin queue (qid 0) is never shadowed.
  const admin = makeQp(h, { qid: 0, qsize: 8 });
  const adev = new RingDevice(h, admin);
  for (let i = 1; i <= 3; i++) {
    assert.ok(h.core.submitFlush(admin.desc, 1) >= 0);
    h.core.qpRing(admin.desc);
    assert.is(adev.sqTailDoorbell(), i);
  }
  assert.is(h.dv.getUint32(db, true), 0);
});

test('nvme-wasm setup status: hugepages, IOMMU and the NVMe devices (or that there are none)', () => {
  const r = spawnSync(process.execPath, [MAIN, 'setup', 'status'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^hugepages: \d+ x 2 MiB reserved, \d+ free, hugetlbfs /m);
  assert.match(r.stdout, /^IOMMU: /m);
  const nvme = listPciDevices(PCI_CLASS_NVME);
  if (nvme.length === 0) assert.match(r.stdout, 'no NVMe devices found (no PCI device of class 01:08:02');
  else for (const d of nvme) assert.match(r.stdout, d.address);
  const bad = spawnSync(process.execPath, [MAIN, 'setup', 'status', '--allow', '0000:00:05.9'], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, 'invalid --allow');
  const badDriver = spawnSync(process.execPath, [MAIN, 'setup', '--driver', 'nvme'], { encoding: 'utf8' });
  assert.is(badDriver.status, 1);
  assert.match(badDriver.stderr, '--driver');
});

test('not root: setup and setup reset refuse, saying they need root; setup status works', () => {
  if (process.getuid?.() !== 0) return; // the test switches to an unprivileged user
  const as = { encoding: 'utf8' as const, uid: 65534, gid: 65534 };
  for (const args of [['setup', '--hugemem', '2'], ['setup', 'reset']]) {
    const r = spawnSync(process.execPath, [MAIN, ...args], as);
    assert.is(r.status, 1, args.join(' '));
    assert.match(r.stderr, `nvme-wasm: error: nvme-wasm ${args[0]}${args[1] === 'reset' ? ' reset' : ''} needs root`);
  }
  const st = spawnSync(process.execPath, [MAIN, 'setup', 'status'], as);
  assert.is(st.status, 0, st.stderr);
  assert.match(st.stdout, /^hugepages: /m);
});

test.run();
