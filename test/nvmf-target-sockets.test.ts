// The target's socket paths (host/nvmf/target/socket-io.ts): an I/O queue
// whose socket Node read is read by the poll group while it spins (recv
// through the HAL) and answered straight to the socket (one sendmsg per
// answer, or per batch of answers: hal/sendmsg.ts); when the
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
import { cli } from './helpers/cli.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:sockets';
const BLOCKS = 32768; // 16 MiB of 512-byte blocks

function target(pollSockets?: boolean, pollWait?: boolean, spinYield?: boolean): Promise<RunningTarget> {
  return startTarget({
    listen: ['127.0.0.1:0'],
    ...(pollSockets === undefined ? {} : { pollSockets }),
    ...(pollWait === undefined ? {} : { pollWait }),
    ...(spinYield === undefined ? {} : { spinYield }),
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
    assert.ok(c.gathers >= 100, `answers went straight to the socket: ${JSON.stringify(c)}`);
    // A read's C2HData header, data and CapsuleResp: one sendmsg (two pieces more than sends, 50 times).
    assert.ok(c.gatheredPieces - c.gathers >= 100 - 5, `each read answered in one sendmsg: ${JSON.stringify(c)}`);
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
    const direct = conn.io.counts.gathers;
    await qd1(q, 2, 200);
    assert.ok(conn.io.counts.gathers > direct, 'answers go straight again');
  } finally {
    await q.close();
    await admin.close();
    await rt.stop();
  }
});

test('answers completed in one poll go out together: fewer sendmsg calls than answers', async () => {
  const rt = await target();
  const { admin, q, conn } = await hostOf(rt, 127);
  try {
    await qd1(q, 2, 400);
    const before = { ...conn.io.counts };
    const n = 96;
    const reads = await Promise.all(Array.from({ length: n }, (_, i) => q.rw(false, 1, i * 8, 8)));
    reads.forEach((r, i) => assert.is(r.status, 0, `read ${i}`));
    const c = conn.io.counts;
    const sends = c.gathers - before.gathers;
    const pieces = c.gatheredPieces - before.gatheredPieces;
    assert.is(pieces, 3 * n, `every answer gathered (header, data, response): ${JSON.stringify(c)}`);
    assert.ok(sends < n, `${n} answers in ${sends} sendmsg calls`);
  } finally {
    await q.close();
    await admin.close();
    await rt.stop();
  }
});

// The host in another process (perf, QD1, verified): a wait in poll(2) blocks this thread, so an in-process host could not wake it.
for (const pollWait of [true, false]) {
  test(`pollWait ${pollWait}: ${pollWait ? 'between commands the group waits in poll(2) on the hot socket and the next command wakes it' : 'the group only spins'}`, async () => {
    const rt = await target(undefined, pollWait);
    try {
      const port = rt.listeners[0]!.port;
      const r = await cli('perf', '-r', `trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${port} subnqn:${NQN} poll:1`, '-q', '1', '-o', '4096', '-w', 'randrw', '-t', '1.5', '-V');
      assert.is(r.code, 0, r.err);
      assert.match(r.out, /: 0 mismatches/, r.out);
      const g = rt.pollGroup;
      if (pollWait) {
        assert.ok(g.blockedWaits > 0, `waits: ${g.blockedWaits}`);
        assert.ok(g.blockedWakeups > 0, `woken by the socket: ${g.blockedWakeups} of ${g.blockedWaits}`);
      } else {
        assert.is(g.blockedWaits, 0);
      }
    } finally {
      await rt.stop();
    }
  });
}

// The host in another process, as above: the yields are what let it run on a shared CPU.
for (const spinYield of [true, undefined]) {
  test(`spinYield ${spinYield ?? 'by default'}: ${spinYield !== true ? 'the spin never yields' : 'the spin yields its CPU after each empty poll'}`, async () => {
    const rt = await target(undefined, undefined, spinYield);
    try {
      const port = rt.listeners[0]!.port;
      const r = await cli('perf', '-r', `trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${port} subnqn:${NQN}`, '-q', '1', '-o', '4096', '-w', 'randrw', '-t', '1', '-V');
      assert.is(r.code, 0, r.err);
      assert.match(r.out, /: 0 mismatches/, r.out);
      const g = rt.pollGroup;
      if (spinYield !== true) assert.is(g.yields, 0);
      else assert.ok(g.yields > 100 && g.yields < g.polls, `yields ${g.yields}, polls ${g.polls}`);
    } finally {
      await rt.stop();
    }
  });
}

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

test('pollSockets, pollWait and spinYield must be booleans', () => {
  assert.throws(() => checkConfig({ subsystems: [{ nqn: NQN }], pollSockets: 'yes' }), (e: unknown) => e instanceof InvalidArgumentError && /pollSockets/.test((e as Error).message));
  assert.throws(() => checkConfig({ subsystems: [{ nqn: NQN }], pollWait: 1 }), (e: unknown) => e instanceof InvalidArgumentError && /pollWait/.test((e as Error).message));
  assert.throws(() => checkConfig({ subsystems: [{ nqn: NQN }], spinYield: 'no' }), (e: unknown) => e instanceof InvalidArgumentError && /spinYield/.test((e as Error).message));
});

test.run();
