// The target's socket paths (host/nvmf/target/socket-io.ts): an I/O queue
// whose socket Node read is read by the poll group while it spins (recv
// through the HAL) and answered straight to the socket (send); when the
// spin ends, Node reads it again; a host that stops reading gets every
// answer whole and in order once it reads again (what the kernel did not
// take went to Node's queue, and everything after it too); with
// pollSockets false, Node does all of it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTarget, type RunningTarget, type TcpConnection } from '../host/nvmf/target/index.js';
import { checkConfig } from '../host/nvmf/target/config.js';
import { InvalidArgumentError } from '../host/index.js';
import { adminAssociation, ioQueue, type RawNvmfClient } from './helpers/nvmf-client.js';
import { pattern } from './helpers/rand.js';
import { until } from './helpers/wait.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:sockets';
const BLOCKS = 32768; // 16 MiB of 512-byte blocks

function target(pollSockets?: boolean): Promise<RunningTarget> {
  return startTarget({
    listen: ['127.0.0.1:0'],
    ...(pollSockets === undefined ? {} : { pollSockets }),
    devices: [{ name: 'sim', regionSize: 96 * 1024 * 1024, sim: { namespaces: [{ lbaSize: 512, blocks: BLOCKS }] } }],
    subsystems: [{ nqn: NQN, allowAnyHost: true }],
  });
}

async function hostOf(rt: RunningTarget, sqsize = 31): Promise<{ admin: RawNvmfClient; q: RawNvmfClient; conn: TcpConnection }> {
  const port = rt.listeners[0]!.port;
  const { admin, cntlid } = await adminAssociation(port, NQN);
  const q = await ioQueue(port, NQN, cntlid, 1, { sqsize });
  const conn = [...rt.target.connections].find((c) => c.qid === 1)!;
  assert.ok(conn, "the target's I/O queue connection");
  return { admin, q, conn };
}

/** Write then read back `rounds` times at QD1, each verified. */
async function qd1(q: RawNvmfClient, rounds: number, salt: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    const lba = (r * 16) % BLOCKS;
    const data = pattern(lba, 16, 512, salt + r);
    assert.is((await q.rw(true, 1, lba, 16, data)).status, 0, 'write');
    const back = await q.rw(false, 1, lba, 16);
    assert.is(back.status, 0, 'read');
    assert.ok(back.data!.equals(data), `read ${r} returns what was written`);
  }
}

test('an I/O queue is read by the poll group while it spins and answered straight; Node reads it again once the spin ends', async () => {
  const rt = await target();
  const { admin, q, conn } = await hostOf(rt);
  try {
    await qd1(q, 50, 1);
    const c = conn.io.counts;
    assert.ok(c.polledReads > 0, `the poll group read the socket: ${JSON.stringify(c)}`);
    assert.ok(rt.pollGroup.socketReads >= c.polledReads, 'the group counts its reads');
    assert.ok(c.directWrites >= 100, `answers went straight to the socket: ${JSON.stringify(c)}`);
    assert.is(c.queuedWrites, 0, 'nothing had to wait in Node');
    // The spin ends after spinUs (1 ms) without a byte or a completion: the socket goes back to Node.
    await until(() => rt.pollGroup.hotSockets === 0, 2000, 'the socket back to Node once the group stopped spinning');
    assert.not.ok(conn.io.hot);
    const nodeReads = c.nodeReads;
    await qd1(q, 3, 100);
    assert.ok(conn.io.counts.nodeReads > nodeReads, "after the spin, the next command came through Node's reading");
  } finally {
    await q.close();
    await admin.close();
    await rt.stop();
  }
});

test('a host that stops reading: answers beyond what the kernel takes wait in Node, and arrive whole and in order', async () => {
  const rt = await target();
  const { admin, q, conn } = await hostOf(rt, 127);
  try {
    const per = 256; // 128 KiB per command: 16 MiB in all, more than the loopback's buffers hold unread
    const n = BLOCKS / per;
    const written: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      written.push(pattern(i * per, per, 512, 7));
      assert.is((await q.rw(true, 1, i * per, per, written[i])).status, 0, `write ${i}`);
    }
    q.socket.pause(); // the host reads nothing from here
    const reads = Array.from({ length: n }, (_, i) => q.rw(false, 1, i * per, per));
    const commands = conn.stats.commands;
    await until(() => conn.stats.commands - commands === n && conn.deviceOutstanding === 0, 20_000, `the target took and completed all ${n} reads`);
    await until(() => conn.io.counts.queuedWrites > 0, 5000, 'some answers waited in Node');
    q.socket.resume();
    const done = await Promise.all(reads);
    done.forEach((d, i) => {
      assert.is(d.status, 0, `read ${i}`);
      assert.ok(d.data!.equals(written[i]!), `read ${i}: its data, whole, in its place`);
    });
    // Straight writes again once Node's queue emptied.
    const direct = conn.io.counts.directWrites;
    await qd1(q, 2, 200);
    assert.ok(conn.io.counts.directWrites > direct, 'answers go straight again');
  } finally {
    await q.close();
    await admin.close();
    await rt.stop();
  }
});

test('pollSockets false: Node reads and writes every socket', async () => {
  const rt = await target(false);
  const { admin, q, conn } = await hostOf(rt);
  try {
    await qd1(q, 20, 300);
    const c = conn.io.counts;
    assert.is(c.polledReads, 0);
    assert.is(c.directWrites, 0);
    assert.ok(c.nodeReads >= 40 && c.queuedWrites >= 40, JSON.stringify(c));
    assert.is(rt.pollGroup.hotSockets, 0);
  } finally {
    await q.close();
    await admin.close();
    await rt.stop();
  }
});

test('pollSockets must be a boolean', () => {
  assert.throws(() => checkConfig({ subsystems: [{ nqn: NQN }], pollSockets: 'yes' }), (e: unknown) => e instanceof InvalidArgumentError && /pollSockets/.test((e as Error).message));
});

test.run();
