// `nvme-wasm nvmf-tgt` as a process: the contract's listening line, SIGINT
// and SIGTERM ending it with exit 0, --config with several subsystems,
// every bad input a clear error naming its flag, and thousands of
// connections at once with the target's memory measured (RSS, printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { cli, CLI_MAIN } from './helpers/cli.js';
import { adminAssociation, ioQueue, RawNvmfClient } from './helpers/nvmf-client.js';
import { DISCOVERY_NQN } from '../assembly/nvme/fabrics.js';
import { pattern } from './helpers/rand.js';

const PREFIX = 'nvmf-tgt: listening on ';
const SIM = JSON.stringify({ namespaces: [{ lbaSize: 512, blocks: 16384 }] });

interface Tgt {
  child: ChildProcess;
  ports: number[];
  err: () => string;
  exit: Promise<{ code: number | null; signal: string | null }>;
}

function startTgt(args: string[]): Promise<Tgt> {
  const child = spawn(process.execPath, [CLI_MAIN, 'nvmf-tgt', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith(PREFIX));
      if (line && out.includes(`${line}\n`)) {
        const ports = line.slice(PREFIX.length).split(',').map((x) => Number(x.split(':').at(-1)));
        resolve({ child, ports, err: () => err, exit });
      }
    });
    void exit.then((e) => reject(new Error(`nvmf-tgt exited ${JSON.stringify(e)} before listening: ${err}`)));
  });
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

test('bad input: each a clear error naming its flag, exit 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-cli-'));
  const badJson = path.join(dir, 'bad.json');
  fs.writeFileSync(badJson, '{"subsystems": [');
  const badField = path.join(dir, 'field.json');
  fs.writeFileSync(badField, JSON.stringify({ subsystems: [{ nqn: 'nqn.2026-12.io.x:a', namespace: [] }] }));
  const cases: Array<[string[], RegExp]> = [
    [[], /--allow-host/],
    [['--allow-any-host', '--listen', '1.2.3:4420'], /--listen/],
    [['--allow-any-host', '--listen', '127.0.0.1:70000'], /--listen/],
    [['--allow-any-host', '--subnqn', 'not-an-nqn'], /--subnqn/],
    [['--allow-host', 'host1'], /--allow-host/],
    [['--allow-any-host', '--allow-host', 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555'], /--allow-any-host/],
    [['--config', path.join(dir, 'missing.json')], /--config.*readable/],
    [['--config', badJson], /--config.*JSON/],
    [['--config', badField], /--config\.subsystems\[0\]\.namespace/],
    [['--config', badField, '-r', 'trtype:sim name:x'], /-r.*not together with --config/],
    [['--allow-any-host', '-r', 'trtype:tcp'], /trtype/],
    [['--allow-any-host', '-i', '-1'], /shm-id/],
    [['--allow-any-host', '-c', '0x0'], /core-mask.*names no CPU/],
    [['--allow-any-host', '-c', '[1000]'], /-c, --core-mask.*a mask naming a CPU this process can run on/],
  ];
  for (const [args, re] of cases) {
    const r = await cli('nvmf-tgt', ...args);
    assert.is(r.code, 1, `${args.join(' ')}: exit 1 (${r.err})`);
    assert.match(r.err, re, `${args.join(' ')}: ${r.err}`);
    assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the listening line, I/O through the process, SIGINT and SIGTERM: exit 0', async () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // -c on one of the two: the polling (main) thread bound, I/O served all the same.
    const mask = sig === 'SIGINT' ? ['-c', '[0]'] : [];
    const t = await startTgt(['--listen', '127.0.0.1:0', '--listen', '127.0.0.1:0', '--allow-any-host', '--sim-config', SIM, ...mask]);
    assert.is(t.ports.length, 2, 'both listeners on the line');
    const cpusOf = (pid: number | 'self') => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const allowed = cpusOf(t.child.pid!);
    if (mask.length > 0) {
      assert.is(allowed, '0', 'the main thread bound to CPU 0');
      assert.match(t.err(), /core mask 0x1: polling thread bound to CPU 0/);
    } else {
      assert.is(allowed, cpusOf('self'), 'without -c, the CPUs it was started with');
    }
    const { admin, cntlid } = await adminAssociation(t.ports[1]!, 'nqn.2026-12.io.nvme-wasm:sim');
    const q = await ioQueue(t.ports[1]!, 'nqn.2026-12.io.nvme-wasm:sim', cntlid, 1);
    const data = pattern(8, 8, 512, 3);
    assert.is((await q.rw(true, 1, 8, 8, data)).status, 0);
    assert.ok((await q.rw(false, 1, 8, 8)).data!.equals(data));
    t.child.kill(sig);
    await Promise.all([q.closed, admin.closed]);
    assert.equal(await t.exit, { code: 0, signal: null }, `${sig}: ${t.err()}`);
    assert.match(t.err(), /disconnecting 2 connection/);
  }
});

test('--config: two subsystems on two devices, both in the discovery log, each host on its own', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-cli-'));
  const file = path.join(dir, 'tgt.json');
  fs.writeFileSync(file, JSON.stringify({
    devices: [{ name: 'a', sim: { namespaces: [{ lbaSize: 512, blocks: 8192 }] }, regionSize: 32 << 20 }, { name: 'b', sim: { namespaces: [{ lbaSize: 4096, blocks: 2048 }] }, regionSize: 32 << 20 }],
    listen: ['127.0.0.1:0'],
    subsystems: [
      { nqn: 'nqn.2026-12.io.nvme-wasm:a', serialNumber: 'A1', allowAnyHost: true, namespaces: [{ device: 'a' }] },
      { nqn: 'nqn.2026-12.io.nvme-wasm:b', serialNumber: 'B1', allowAnyHost: true, namespaces: [{ device: 'b', nsid: 3 }] },
    ],
  }));
  const t = await startTgt(['--config', file]);
  try {
    const port = t.ports[0]!;
    const { admin: d } = await adminAssociation(port, DISCOVERY_NQN);
    const page = await d.getLogPage(0x70, 1024 * 4);
    assert.is(Number(page.data!.readBigUInt64LE(8)), 3, 'the discovery subsystem and two NVM subsystems');
    const nqns = [1, 2, 3].map((i) => page.data!.subarray(1024 * i + 256, 1024 * i + 512).toString().replace(/\0+$/, ''));
    assert.equal(nqns, [DISCOVERY_NQN, 'nqn.2026-12.io.nvme-wasm:a', 'nqn.2026-12.io.nvme-wasm:b']);
    await d.close();
    const b = await adminAssociation(port, 'nqn.2026-12.io.nvme-wasm:b');
    const id = await b.admin.identify(1);
    assert.is(id.data!.subarray(4, 24).toString().trim(), 'B1');
    const list = await b.admin.identify(2);
    assert.is(list.data!.readUInt32LE(0), 3, 'nsid 3 as configured');
    const q = await ioQueue(port, 'nqn.2026-12.io.nvme-wasm:b', b.cntlid, 1);
    const data = pattern(5, 2, 4096, 1);
    assert.is((await q.rw(true, 3, 5, 2, data, 4096)).status, 0);
    assert.ok((await q.rw(false, 3, 5, 2, undefined, 4096)).data!.equals(data));
    await q.close();
    await b.admin.close();
  } finally {
    t.child.kill('SIGTERM');
    assert.equal(await t.exit, { code: 0, signal: null }, t.err());
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const MANY = Number(process.env.NVMF_MANY_CONNECTIONS ?? 2000);

test(`${MANY} connections at once: memory bounded (RSS printed), another host still served, all closed`, async () => {
  const t = await startTgt(['--listen', '127.0.0.1:0', '--allow-any-host', '--sim-config', SIM, '--quiet']);
  const port = t.ports[0]!;
  try {
    const { admin, cntlid } = await adminAssociation(port, 'nqn.2026-12.io.nvme-wasm:sim');
    const q = await ioQueue(port, 'nqn.2026-12.io.nvme-wasm:sim', cntlid, 1);
    const before = rssKiB(t.child.pid!);
    const conns: RawNvmfClient[] = [];
    for (let i = 0; i < MANY; i += 200) {
      conns.push(...(await Promise.all(Array.from({ length: Math.min(200, MANY - i) }, () => RawNvmfClient.connect(port)))));
    }
    const during = rssKiB(t.child.pid!);
    const data = pattern(0, 32, 512, 11);
    assert.is((await q.rw(true, 1, 0, 32, data)).status, 0);
    assert.ok((await q.rw(false, 1, 0, 32)).data!.equals(data), 'served among the crowd');
    await Promise.all(conns.map((c) => c.close()));
    await new Promise((r) => setTimeout(r, 500));
    const after = rssKiB(t.child.pid!);
    const per = ((during - before) * 1024) / MANY;
    console.log(`  nvmf-tgt RSS: ${(before / 1024).toFixed(1)} MiB idle, ${(during / 1024).toFixed(1)} MiB with ${MANY} connections (${(per / 1024).toFixed(1)} KiB each), ${(after / 1024).toFixed(1)} MiB after they closed`);
    assert.ok(per < 64 * 1024, `under 64 KiB per connection (${per.toFixed(0)} bytes)`);
    assert.is((await q.rw(false, 1, 0, 32)).status, 0);
    await q.close();
    await admin.close();
  } finally {
    t.child.kill('SIGTERM');
    assert.equal(await t.exit, { code: 0, signal: null }, t.err());
  }
});

test.run();
