// Namespace backings of the simulated controller: RAM, and a file that keeps
// its data across instances; the allocation map behind NUSE and
// deallocation; the configuration checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace } from '../host/sim/namespace.js';
import { AllocationMap, popcount32 } from '../host/sim/alloc-map.js';
import { parseSimConfig, SIM_DEFAULTS } from '../host/sim/config.js';
import { InvalidArgumentError } from '../host/errors.js';

const tmp = `/dev/shm/nvme-wasm-simtest-ns-${process.pid}`;

test('config: defaults, and bad values rejected by name', () => {
  const d = parseSimConfig();
  assert.equal(d, SIM_DEFAULTS);
  assert.is(parseSimConfig({ namespaces: [{ blocks: 10 }] }).namespaces[0]!.lbaSize, 512, 'namespace defaults fill in');
  const bad: Array<[object, string]> = [
    [{ name: 'a b' }, 'sim.name'],
    [{ mdts: 13 }, 'sim.mdts'],
    [{ maxIoQueuePairs: 0 }, 'sim.maxIoQueuePairs'],
    [{ mqes: 0 }, 'sim.mqes'],
    [{ dstrd: 5 }, 'sim.dstrd'],
    [{ namespaces: [] }, 'sim.namespaces'],
    [{ namespaces: [{ lbaSize: 1024 }] }, 'sim.namespaces[0].lbaSize'],
    [{ namespaces: [{ backing: 'file' }] }, 'sim.namespaces[0].path'],
    [{ serial: 'x'.repeat(21) }, 'sim.serial'],
    [{ latency: { mode: 'slow' } }, 'sim.latency.mode'],
    [{ latency: { mode: 'random', minUs: 10, maxUs: 5 } }, 'sim.latency.maxUs'],
    [{ nullIo: 1 }, 'sim.nullIo'],
  ];
  for (const [input, field] of bad) {
    try {
      parseSimConfig(input as never);
      assert.unreachable(`${JSON.stringify(input)} accepted`);
    } catch (e) {
      assert.instance(e, InvalidArgumentError);
      assert.is((e as InvalidArgumentError).argument, field);
    }
  }
});

test('main.js: a bad configuration exits 2 with the reason', () => {
  const main = fileURLToPath(new URL('../host/sim/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main, '--config', JSON.stringify({ mdts: 99 })], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /sim\.mdts/);
  const r2 = spawnSync(process.execPath, [main, '--config', '{not json'], { encoding: 'utf8' });
  assert.is(r2.status, 2);
  assert.match(r2.stderr, /JSON/);
});

test('RAM namespace: zero-filled, reads what was written', () => {
  const ns = Namespace.open(1, { lbaSize: 4096, blocks: 16, backing: 'ram' });
  assert.is(ns.bytes, 65536);
  const out = Buffer.alloc(8192, 0xff);
  ns.backing.read(out, 0, 8192, 4096);
  assert.ok(out.every((b) => b === 0));
  ns.backing.write(Buffer.alloc(4096, 7), 0, 4096, 8192);
  ns.backing.read(out, 0, 8192, 4096);
  assert.is(out[4095], 0);
  assert.is(out[4096], 7);
  ns.close();
});

test('file namespace: created and sized, data persists across instances', () => {
  const path = `${tmp}.img`;
  fs.rmSync(path, { force: true });
  try {
    const a = Namespace.open(1, { lbaSize: 512, blocks: 64, backing: 'file', path });
    assert.is(fs.statSync(path).size, 64 * 512);
    assert.is(a.alloc.used, 0, 'a new file has nothing allocated');
    a.backing.write(Buffer.from('persistent data'), 0, 15, 512 * 10);
    a.alloc.set(10, 1);
    a.backing.flush();
    a.close();
    const b = Namespace.open(1, { lbaSize: 512, blocks: 64, backing: 'file', path });
    const out = Buffer.alloc(15);
    b.backing.read(out, 0, 15, 512 * 10);
    assert.is(out.toString(), 'persistent data');
    assert.is(b.alloc.used, 64, 'an existing file counts as allocated (the map is not persisted)');
    b.backing.zero(512 * 10, 512);
    b.backing.read(out, 0, 15, 512 * 10);
    assert.ok(out.every((x) => x === 0));
    b.close();
    assert.is(fs.statSync(path).mode & 0o777, 0o600);
  } finally {
    fs.rmSync(path, { force: true });
  }
});

test('allocation map: counts, set/clear across words and chunks', () => {
  assert.is(popcount32(0xffffffff), 32);
  assert.is(popcount32(0x80000001), 2);
  const m = new AllocationMap(100_000, false);
  m.set(5, 100);
  assert.is(m.used, 100);
  m.set(50, 100); // overlaps 50..104
  assert.is(m.used, 145);
  assert.is(m.count(0, 10), 5);
  assert.ok(m.isAllocated(149) && !m.isAllocated(150));
  m.set(32760, 20); // spans the first chunk boundary (32768)
  assert.is(m.count(32760, 20), 20);
  m.clear(0, 100_000);
  assert.is(m.used, 0);
  const full = new AllocationMap(70_000, true);
  assert.is(full.used, 70_000);
  full.clear(69_990, 10);
  assert.is(full.used, 69_990);
  assert.is(full.count(65_000, 5000), 4990);
});

test.run();
