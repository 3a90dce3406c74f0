// Register-level handshake with the simulated controller through its real
// BAR0 file (NVMe 1.4, 3.1 and 7.6): CAP/VS, CC.EN -> CSTS.RDY, reset,
// shutdown, the never-ready and fatal faults, the enable checks, and the
// device files' lifetime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { SimHarness, sqe, IOVA, DATA_OFF } from './sim-harness.js';
import * as R from '../assembly/nvme/regs.js';
import { AdminOpc } from '../assembly/nvme/cmd.js';
import { startSimWorker, SimClient, SimState, simBarPath, simCtlPath } from '../host/sim/index.js';

const name = (s: string) => `t-${s}-${process.pid}`;
const RDY = 1 << R.CSTS_RDY_SHIFT;
const CFS = 1 << R.CSTS_CFS_SHIFT;
const shst = (csts: number) => R.regField(csts, R.CSTS_SHST_SHIFT, R.CSTS_SHST_MASK);

test('CAP and VS describe the configuration', async () => {
  const h = await SimHarness.start({ name: name('cap'), mqes: 255, timeout: 200, dstrd: 1, maxIoQueuePairs: 3 }, false);
  try {
    const lo = h.reg(R.REG_CAP);
    const hi = h.reg(R.REG_CAP_HI);
    assert.is(R.regField(lo, R.CAP_MQES_SHIFT, R.CAP_MQES_MASK), 255);
    assert.is(R.regField(lo, R.CAP_CQR_SHIFT, R.CAP_CQR_MASK), 1);
    assert.is(R.regField(lo, R.CAP_AMS_SHIFT, R.CAP_AMS_MASK), 0);
    assert.is(R.regField(lo, R.CAP_TO_SHIFT, R.CAP_TO_MASK), 200);
    assert.is(R.regField(hi, R.CAP_DSTRD_SHIFT, R.CAP_DSTRD_MASK), 1);
    assert.is(R.regField(hi, R.CAP_CSS_SHIFT, R.CAP_CSS_MASK) & R.CAP_CSS_NVM, R.CAP_CSS_NVM);
    assert.is(R.regField(hi, R.CAP_MPSMIN_SHIFT, R.CAP_MPSMIN_MASK), 0);
    assert.is(R.regField(hi, R.CAP_MPSMAX_SHIFT, R.CAP_MPSMAX_MASK), 0);
    assert.is(h.reg(R.REG_VS), R.VS_1_4);
    assert.is(h.reg(R.REG_CSTS), 0);
    assert.is(h.sim.client.state, SimState.Running);
    assert.is(h.sim.client.pid, process.pid);
    assert.is(h.sim.client.config.mqes, 255);
    assert.ok(h.sim.client.isAlive());
    // Read-only registers come back if the host writes over them.
    h.setReg(R.REG_VS, 0);
    assert.ok(await h.waitCsts(() => h.reg(R.REG_VS) === R.VS_1_4));
  } finally {
    await h.stop();
  }
});

test('CC.EN = 1 -> RDY = 1, admin commands run; CC.EN = 0 -> RDY = 0 and queues are gone', async () => {
  const h = await SimHarness.start({ name: name('en') });
  try {
    await h.enable();
    const c = await h.cmd(0, sqe(AdminOpc.Identify, 0, { prp1: IOVA + DATA_OFF, cdw10: 1 }));
    assert.is(c.sf, 0);
    h.setReg(R.REG_CC, SimHarness.ccValue(false));
    assert.ok(await h.waitCsts((s) => s === 0), 'RDY (and everything else) cleared');
    // Enable again: a fresh admin queue pair works from slot 0.
    await h.enable();
    assert.is((await h.cmd(0, sqe(AdminOpc.Identify, 0, { prp1: IOVA + DATA_OFF, cdw10: 1 }))).sf, 0);
  } finally {
    await h.stop();
  }
});

test('readyDelayMs delays RDY', async () => {
  const h = await SimHarness.start({ name: name('delay'), readyDelayMs: 150 });
  try {
    const t0 = performance.now();
    await h.enable();
    assert.ok(performance.now() - t0 >= 140);
  } finally {
    await h.stop();
  }
});

test('enable checks (QEMU nvme_start_ctrl): a bad CC or admin queue leaves RDY = 0', async () => {
  const h = await SimHarness.start({ name: name('bad') });
  try {
    const cases: Array<[string, () => void]> = [
      ['IOSQES 0', () => h.setupAdmin(SimHarness.ccValue(true) & ~(R.CC_IOSQES_MASK << R.CC_IOSQES_SHIFT))],
      ['MPS 1', () => h.setupAdmin(SimHarness.ccValue(true) | (1 << R.CC_MPS_SHIFT))],
      ['CSS 7', () => h.setupAdmin(SimHarness.ccValue(true) | (7 << R.CC_CSS_SHIFT))],
      ['ASQ unaligned', () => h.setupAdmin(SimHarness.ccValue(true), IOVA + 0x80)],
      ['ASQ outside the DMA window', () => h.setupAdmin(SimHarness.ccValue(true), 0x1000)],
    ];
    for (const [what, setup] of cases) {
      setup();
      assert.not.ok(await h.waitCsts((s) => (s & RDY) !== 0, 100), what);
      h.setReg(R.REG_CC, 0);
      assert.ok(await h.waitCsts((s) => s === 0));
    }
    await h.enable(); // and a good one still works
  } finally {
    await h.stop();
  }
});

test('CC.SHN: SHST goes to complete, then commands wait for a reset', async () => {
  const h = await SimHarness.start({ name: name('shn') });
  try {
    await h.enable();
    h.setReg(R.REG_CC, SimHarness.ccValue(true) | (R.CC_SHN_NORMAL << R.CC_SHN_SHIFT));
    assert.ok(await h.waitCsts((s) => shst(s) === R.CSTS_SHST_COMPLETE));
    h.submit(0, sqe(AdminOpc.Identify, 0, { prp1: IOVA + DATA_OFF, cdw10: 1 }));
    assert.is(await h.reap(0, 50), undefined, 'no command processed after shutdown');
    h.setReg(R.REG_CC, 0);
    assert.ok(await h.waitCsts((s) => s === 0), 'reset clears SHST and RDY');
    await h.enable();
  } finally {
    await h.stop();
  }
});

test('never-ready flag: CC.EN = 1 never brings RDY', async () => {
  const h = await SimHarness.start({ name: name('never') });
  try {
    h.sim.client.setNeverReady(true);
    h.setupAdmin();
    assert.not.ok(await h.waitCsts((s) => (s & RDY) !== 0, 150));
    h.setReg(R.REG_CC, 0);
    h.sim.client.setNeverReady(false);
    await h.enable();
  } finally {
    await h.stop();
  }
});

test('fatal flag: CSTS.CFS = 1 and nothing processed, until a reset', async () => {
  const h = await SimHarness.start({ name: name('fatal') });
  try {
    await h.enable();
    h.sim.client.setFatal();
    assert.ok(await h.waitCsts((s) => (s & CFS) !== 0));
    h.submit(0, sqe(AdminOpc.Identify, 0, { prp1: IOVA + DATA_OFF, cdw10: 1 }));
    assert.is(await h.reap(0, 50), undefined);
    h.setReg(R.REG_CC, 0);
    assert.ok(await h.waitCsts((s) => s === 0), 'reset clears CFS');
    await h.enable();
    assert.is((await h.cmd(0, sqe(AdminOpc.Identify, 0, { prp1: IOVA + DATA_OFF, cdw10: 1 }))).sf, 0);
  } finally {
    await h.stop();
  }
});

test('two simulated controllers of one name: the second is refused; files go on stop', async () => {
  const n = name('dup');
  const a = await startSimWorker({ name: n });
  try {
    assert.ok(fs.existsSync(simBarPath('/dev/shm', n)));
    assert.is(fs.statSync(simCtlPath('/dev/shm', n)).mode & 0o777, 0o600);
    const e = await startSimWorker({ name: n }).catch((x: unknown) => x);
    assert.instance(e, Error);
    assert.match((e as Error).message, `a simulated controller named ${n} already runs (pid ${process.pid})`);
  } finally {
    await a.stop();
  }
  assert.not.ok(fs.existsSync(simBarPath('/dev/shm', n)));
  assert.not.ok(fs.existsSync(simCtlPath('/dev/shm', n)));
  assert.throws(() => SimClient.open(n), /no simulated controller named/);
  // A stale ctl file (state Running, dead pid) is overwritten.
  const stale = Buffer.alloc(4096);
  stale.writeUInt32LE(0x4d53564e, 0);
  stale.writeUInt32LE(0x7ffffff0, 4);
  stale.writeUInt32LE(SimState.Running, 0x0c);
  fs.writeFileSync(simCtlPath('/dev/shm', n), stale);
  const b = await startSimWorker({ name: n });
  assert.is(b.client.pid, process.pid);
  await b.stop();
});

test('DMA mapping: errors come back as errno', async () => {
  const h = await SimHarness.start({ name: name('dma') }, false);
  try {
    await h.sim.client.mapDma(h.regionPath, BigInt(IOVA), 4096);
    const e = await h.sim.client.mapDma('/dev/shm/does-not-exist-nvme-wasm', BigInt(IOVA), 4096).catch((x: unknown) => x);
    assert.match(String(e), /ENOENT/);
    const big = await h.sim.client.mapDma(h.regionPath, BigInt(IOVA), 64 * 1024 * 1024).catch((x: unknown) => x);
    assert.match(String(big), /EINVAL/, 'window larger than the file');
    await h.sim.client.unmapDma();
  } finally {
    await h.stop();
  }
});

test.run();
