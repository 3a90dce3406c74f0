// The controller's life: the CC.EN / CSTS.RDY handshake, CC.SHN shutdown with
// CSTS.SHST, re-initialising a controller left enabled, a controller that never
// becomes ready, and the simulator running as its own process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller, NvmeTimeoutError } from '../host/index.js';
import { startSimWorker } from '../host/sim/index.js';
import { simBarPath } from '../host/sim/ctl.js';
import { REG_CC, REG_CSTS, CSTS_RDY_MASK, CSTS_SHST_SHIFT, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, CC_EN_MASK } from '../assembly/nvme/regs.js';
import { pattern } from './helpers/rand.js';

const reg = (name: string, off: number) => fs.readFileSync(simBarPath('/dev/shm', name)).readUInt32LE(off);

test('enable, shutdown, re-enable: CSTS.RDY follows CC.EN, CSTS.SHST reports completion', async () => {
  const name = `lc-${process.pid}`;
  const sim = await startSimWorker({ name });
  try {
    assert.is(reg(name, REG_CSTS) & CSTS_RDY_MASK, 0, 'not ready before the driver enables it');
    const ctrl = await Controller.open({ transport: `trtype:sim name:${name}` });
    assert.is(reg(name, REG_CC) & CC_EN_MASK, 1);
    assert.is(reg(name, REG_CSTS) & CSTS_RDY_MASK, 1);
    const d = pattern(1, 4, 512, 1);
    await ctrl.namespace(1).write(1, d);
    await ctrl.close();
    assert.is((reg(name, REG_CSTS) >>> CSTS_SHST_SHIFT) & CSTS_SHST_MASK, CSTS_SHST_COMPLETE, 'shutdown complete');
    // A second driver finds the controller shut down (still enabled) and resets it first.
    const again = await Controller.open({ transport: `trtype:sim name:${name}` });
    assert.is(reg(name, REG_CSTS) & CSTS_RDY_MASK, 1);
    assert.is((reg(name, REG_CSTS) >>> CSTS_SHST_SHIFT) & CSTS_SHST_MASK, 0, 'SHST cleared by the reset');
    assert.ok((await again.namespace(1).readBlocks(1, 4)).equals(d), 'RAM namespace kept its data across driver restarts');
    await again.close();
  } finally {
    await sim.stop();
  }
});

test('a controller that never becomes ready: NvmeTimeoutError after CAP.TO, no hang', async () => {
  const name = `nr-${process.pid}`;
  const sim = await startSimWorker({ name, timeout: 1 }); // CAP.TO = 500 ms
  try {
    sim.client.setNeverReady(true);
    const t0 = performance.now();
    const e = await Controller.open({ transport: `trtype:sim name:${name}` }).catch((x: unknown) => x);
    const ms = performance.now() - t0;
    assert.instance(e, NvmeTimeoutError);
    assert.match((e as Error).message, /CSTS.RDY = 1/);
    assert.ok(ms >= 450 && ms < 3000, `gave up after ${ms.toFixed(0)} ms (CAP.TO 500 ms)`);
  } finally {
    await sim.stop();
  }
});

test('the simulator as its own process: start, attach by name, verified I/O, stop', async () => {
  const name = `proc-${process.pid}`;
  const main = fileURLToPath(new URL('../host/sim/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '--config', JSON.stringify({ name, mdts: 4 })], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes(`ready ${name}`)) resolve();
      });
      child.on('exit', (c) => reject(new Error(`simulator exited with ${c}`)));
      setTimeout(() => reject(new Error('simulator did not start')), 10000);
    });
    const ctrl = await Controller.open({ transport: `trtype:sim name:${name}` });
    assert.is(ctrl.maxTransfer, 16 * 4096);
    const d = pattern(0, 300, 512, 2);
    await ctrl.namespace(1).write(0, d);
    assert.ok((await ctrl.namespace(1).readBlocks(0, 300)).equals(d));
    await ctrl.close();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  assert.not.ok(fs.existsSync(simBarPath('/dev/shm', name)), 'the simulator removed its files on exit');
});

test('identify, features and logs through the admin queue', async () => {
  const ctrl = await Controller.open({ sim: { serial: 'SN-TEST-1', model: 'Model X', firmware: 'FW9', namespaces: [{ lbaSize: 4096, blocks: 1024 }, { lbaSize: 512, blocks: 2048 }] } });
  try {
    assert.is(ctrl.data.serialNumber, 'SN-TEST-1');
    assert.is(ctrl.data.modelNumber, 'Model X');
    assert.is(ctrl.data.firmwareRevision, 'FW9');
    assert.is(ctrl.data.numberOfNamespaces, 2);
    assert.equal([...ctrl.namespaces.keys()], [1, 2]);
    assert.is(ctrl.namespace(1).blockSize, 4096);
    assert.is(ctrl.namespace(2).blocks, 2048);
    const nq = await ctrl.getFeature(0x07);
    assert.is((nq & 0xffff) + 1, ctrl.maxQueuePairs);
    await ctrl.namespace(1).write(0, Buffer.alloc(4096 * 3, 1));
    const smart = await ctrl.smartLog();
    assert.ok(smart.hostWriteCommands >= 1n);
    assert.ok(smart.temperatureK > 250);
    const fw = await ctrl.firmwareSlotLog();
    assert.is(fw.activeSlot, 1);
    assert.is(fw.revisions[0], 'FW9');
    await ctrl.identifyRaw(0x55, 0).catch(() => {});
    const log = await ctrl.errorLog();
    assert.ok(log.length >= 1, 'the failed Identify is in the error log');
    assert.is(log[0]!.sqid, 0);
  } finally {
    await ctrl.close();
  }
});

test.run();
