// Several hosts and a local user on one device through the target: each
// remote I/O queue is a device queue pair of its own; when the device's pool
// is exhausted Connect fails clearly (Connect Controller Busy) and nobody
// else is disturbed; a host whose connections are reset has its device
// queues given back, and the pool serves the next Connect.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTarget, type RunningTarget } from '../host/nvmf/target/index.js';
import { adminAssociation, ioQueue, RawNvmfClient, HOSTNQN } from './helpers/nvmf-client.js';
import { FabricsSc } from '../assembly/nvme/fabrics.js';
import { pattern } from './helpers/rand.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:shared';
const HOST_B = 'nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-2222-3333-4444-555555555555';
const HOST_B_ID = Buffer.from('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'hex');
let rt: RunningTarget;
let port = 0;
const logs: string[] = [];

test.before(async () => {
  rt = await startTarget({
    listen: ['127.0.0.1:0'],
    devices: [{ name: 'sim', regionSize: 64 * 1024 * 1024, sim: { maxIoQueuePairs: 4, namespaces: [{ lbaSize: 512, blocks: 32768 }] } }],
    subsystems: [{ nqn: NQN, hosts: [HOSTNQN, HOST_B] }],
    log: (m) => logs.push(m),
  });
  port = rt.listeners[0]!.port;
});

test.after(async () => {
  await rt.stop();
});

const waitFor = async (what: string, f: () => boolean) => {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), what);
};

async function verifiedIo(q: RawNvmfClient, lba: number, tag: number): Promise<void> {
  const data = pattern(lba, 16, 512, tag);
  assert.is((await q.rw(true, 1, lba, 16, data)).status, 0);
  assert.ok((await q.rw(false, 1, lba, 16)).data!.equals(data), `data at ${lba}`);
}

test('two hosts and a local user share the device; pool exhausted: Connect Controller Busy; a reset host gives its queues back', async () => {
  const dev = rt.devices.get('sim')!;
  const ns = dev.namespace(1);
  const local = pattern(30000, 8, 512, 1);
  await ns.write(30000, local); // the local user's default queue pair: 1 of the device's 4
  assert.is(dev.ioQueuePairs.length, 1);

  const a = await adminAssociation(port, NQN);
  const a1 = await ioQueue(port, NQN, a.cntlid, 1);
  const a2 = await ioQueue(port, NQN, a.cntlid, 2);
  const b = await RawNvmfClient.connect(port);
  const bc = await b.connectCmd({ qid: 0, sqsize: 31, subnqn: NQN, hostnqn: HOST_B, hostid: HOST_B_ID });
  assert.is(bc.status, 0);
  const bCntlid = bc.dw0 & 0xffff;
  assert.is.not(bCntlid, a.cntlid, 'a controller ID per host');
  assert.is((await b.propSet(0x14, 0x460001)).status, 0);
  const b1 = await ioQueue(port, NQN, bCntlid, 1, { hostnqn: HOST_B, hostid: HOST_B_ID });
  assert.is(dev.ioQueuePairs.length, 4, 'one device queue pair per remote I/O queue');

  // The pool is exhausted: a clear refusal, nobody disturbed.
  const b2 = await RawNvmfClient.connect(port);
  const r = await b2.connectCmd({ qid: 2, sqsize: 31, cntlid: bCntlid, subnqn: NQN, hostnqn: HOST_B, hostid: HOST_B_ID });
  assert.is(r.sct, 1);
  assert.is(r.sc, FabricsSc.ConnectControllerBusy);
  assert.ok(logs.some((l) => l.includes('no free queue pair')), 'the log says why');
  await Promise.all([verifiedIo(a1, 0, 1), verifiedIo(a2, 100, 2), verifiedIo(b1, 200, 3)]);
  assert.ok((await ns.readBlocks(30000, 8)).equals(local), 'the local user is served');

  // Host A vanishes (connections reset): its two device queues come back; B goes on.
  a1.socket.resetAndDestroy();
  a2.socket.resetAndDestroy();
  a.admin.socket.resetAndDestroy();
  await waitFor('host A\'s device queue pairs given back', () => dev.ioQueuePairs.length === 2);
  await verifiedIo(b1, 300, 4);
  const r2 = await b2.connectCmd({ qid: 2, sqsize: 31, cntlid: bCntlid, subnqn: NQN, hostnqn: HOST_B, hostid: HOST_B_ID });
  assert.is(r2.status, 0, 'the freed queue serves the next Connect');
  await verifiedIo(b2, 400, 5);
  assert.is(dev.ioQueuePairs.length, 3);
  await b2.close();
  await b1.close();
  await b.close();
  await waitFor('host B\'s too', () => dev.ioQueuePairs.length === 1);
  assert.ok((await ns.readBlocks(0, 16)).equals(pattern(0, 16, 512, 1)), 'what host A wrote is on the device');
});

test('an I/O queue that goes away alone (socket reset mid-write) is given back; its association lives on', async () => {
  const dev = rt.devices.get('sim')!;
  const base = dev.ioQueuePairs.length;
  const a = await adminAssociation(port, NQN);
  const q = await ioQueue(port, NQN, a.cntlid, 1);
  assert.is(dev.ioQueuePairs.length, base + 1);
  const pending = Array.from({ length: 16 }, (_, i) => q.rw(true, 1, i * 64, 64, pattern(i * 64, 64, 512, 9)).catch(() => 'gone'));
  q.socket.resetAndDestroy();
  await Promise.all(pending);
  await waitFor('the device queue pair given back', () => dev.ioQueuePairs.length === base);
  const q2 = await ioQueue(port, NQN, a.cntlid, 1);
  await verifiedIo(q2, 5000, 6);
  assert.is((await a.admin.admin(0x18)).status, 0, 'the admin queue still answers');
  await q2.close();
  await a.admin.close();
  await waitFor('all given back', () => dev.ioQueuePairs.length === base);
});

test.run();
