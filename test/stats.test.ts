// Live statistics in the shared region, with real processes on a simulated
// controller that runs as its own process: each member's counters match the
// I/O it actually did; errors, timeouts and latency come from injected
// faults; statistics can be switched off; `nvme-wasm stats` and `top`
// attach to a running group and print them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { Controller, InvalidArgumentError, NvmeStatusError, NvmeTimeoutError, NvmOpc, Sct, GenericSc, type GroupStats } from '../host/index.js';
import { latencyBucket, bucketLimitUs } from '../host/stats.js';
import { ST_HIST_BUCKETS } from '../assembly/abi/stats.js';
import { runDir } from '../host/mp/index.js';
import { member, startSim, stop, type Proc } from './helpers/procs.js';
import { cli } from './helpers/cli.js';
import type { TopRecord } from '../host/cli/top.js';

const tag = `st${process.pid}`;
const trid = `trtype:sim name:${tag}`;
let sim: Proc;
let gid = 400;
const BS = 512;

test.before(async () => {
  // These tests count latency samples against the I/O done: sample every
  // command (this process and the members it spawns, which inherit it).
  process.env.NVME_WASM_STATS_SAMPLING = '1';
  sim = await startSim({ name: tag, maxIoQueuePairs: 16, namespaces: [{ lbaSize: BS, blocks: 65536 }] });
});
test.after(async () => {
  delete process.env.NVME_WASM_STATS_SAMPLING;
  await stop(sim);
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

const base = (shmId: number) => ({ shmId, prefix: tag, trid });
const open = (g: number, extra: Record<string, unknown> = {}) =>
  Controller.open({ shmId: g, filePrefix: tag, transport: trid, procType: 'primary', regionSize: 32 << 20, ...extra });
/** The error a promise rejects with (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
const slotOf = async (p: Proc) => Number((await p.waitLine('ready ')).split(' ')[1]);

/** Two secondaries that do I/O when asked (over the messaging layer), this process the primary. */
async function group(): Promise<{ g: number; ctrl: Controller; peers: Proc[]; slots: number[] }> {
  const g = gid++;
  const ctrl = await open(g);
  const peers = [member({ ...base(g), role: 'mp-peer' }), member({ ...base(g), role: 'mp-peer' })];
  const slots = await Promise.all(peers.map(slotOf));
  await Promise.all(peers.map((p) => p.waitLine('listening')));
  return { g, ctrl, peers, slots };
}

const plan = (slots: number[]) => ({
  [slots[0]!]: { writes: 30, reads: 50, blocks: 8 },
  [slots[1]!]: { writes: 7, reads: 3, blocks: 2 },
});

test('latency buckets: 0 below 1 us, then powers of two, the last open-ended', () => {
  assert.is(latencyBucket(0), 0);
  assert.is(latencyBucket(1), 1);
  assert.is(latencyBucket(3), 2);
  assert.is(latencyBucket(4), 3);
  assert.is(latencyBucket(1000), 10); // 512 .. 1023
  assert.ok(bucketLimitUs(10) === 1024 && 1000 < bucketLimitUs(10) && 1000 >= bucketLimitUs(9));
  assert.is(latencyBucket(0xffffffff), ST_HIST_BUCKETS - 1);
});

test('each process\'s counters match the I/O it did: commands, reads, writes, bytes, latency count', async () => {
  const { ctrl, peers, slots } = await group();
  try {
    const want = plan(slots);
    const r = await ctrl.mp.request('io', want, { timeoutMs: 60_000 });
    assert.is(r.nbReceived, 2);
    // This process too, through the Promise path on a queue pair of its own.
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 8 });
    for (let i = 0; i < 5; i++) await ns.write(40000 + i, Buffer.alloc(4 * BS, i), { qpair: qp });
    await ns.readBlocks(40000, 4, { qpair: qp });
    const s = ctrl.groupStats();
    assert.equal(s.processes.map((p) => p.slot).sort(), [ctrl.group.self, ...slots].sort());
    for (const slot of slots) {
      const p = s.processes.find((x) => x.slot === slot)!;
      const w = want[slot]!;
      const n = w.writes + w.reads;
      assert.is(p.role, 'secondary');
      assert.is(p.pid, peers[slots.indexOf(slot)]!.child.pid);
      assert.is(p.qpairs.length, 1);
      const t = p.totals;
      assert.equal(
        [t.submitted, t.completed, t.writes, t.reads, t.bytesWritten, t.bytesRead, t.errors, t.timeouts, t.latency.count],
        [n, n, w.writes, w.reads, w.writes * w.blocks * BS, w.reads * w.blocks * BS, 0, 0, n],
      );
      assert.is(t.latency.buckets.reduce((a, b) => a + b, 0), n, 'every command in the histogram once');
      // Reads and Writes apart: each direction's histogram holds exactly its commands.
      assert.equal([t.readLatency.count, t.writeLatency.count], [w.reads, w.writes]);
      assert.is(t.readLatency.buckets.reduce((a, b) => a + b, 0), w.reads);
      assert.is(t.writeLatency.buckets.reduce((a, b) => a + b, 0), w.writes);
      assert.ok(t.readLatency.meanUs > 0 && t.writeLatency.meanUs > 0);
      assert.ok(Math.abs(t.readLatency.meanUs * w.reads + t.writeLatency.meanUs * w.writes - t.latency.meanUs * n) < 1e-6 * t.latency.meanUs * n + 1e-6);
      assert.is(t.submitted - t.completed, 0, 'nothing outstanding');
      assert.equal(p.qpairs[0]!.qid, (r.replies.find((a) => a.slot === slot)!.payload as { qid: number }).qid);
    }
    const me = s.processes.find((x) => x.slot === ctrl.group.self)!;
    assert.is(me.role, 'primary');
    assert.equal([me.totals.writes, me.totals.reads, me.totals.bytesWritten, me.totals.bytesRead, me.totals.completed], [5, 1, 5 * 4 * BS, 4 * BS, 6]);
    await qp.delete();
    // A deleted queue pair leaves the directory.
    assert.is(ctrl.groupStats().processes.find((x) => x.slot === ctrl.group.self)!.qpairs.length, 0);
    assert.is(ctrl.region.ctrl.statsBlock(qp.qid), 0);
  } finally {
    for (const p of peers) await stop(p);
    await ctrl.close();
  }
});

test('errors, timeouts and latency from injected faults; a killed member drops out of the statistics', async () => {
  const { ctrl, peers, slots } = await group();
  const { SimClient } = await import('../host/sim/index.js');
  const client = SimClient.open(tag);
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 8 });
    client.injectFault({ kind: 'status', qid: qp.qid, opcode: NvmOpc.Read, count: 2, status: { sct: Sct.Generic, sc: GenericSc.InternalError, dnr: true } });
    for (let i = 0; i < 2; i++) assert.instance(await rejection(ns.readBlocks(0, 1, { qpair: qp })), NvmeStatusError);
    client.injectFault({ kind: 'drop', qid: qp.qid, opcode: NvmOpc.Write, count: 1 });
    assert.instance(await rejection(ns.write(0, Buffer.alloc(BS), { qpair: qp, timeoutMs: 200 })), NvmeTimeoutError);
    client.injectFault({ kind: 'delay', qid: qp.qid, opcode: NvmOpc.Write, count: 1, delayUs: 50_000 });
    await ns.write(8, Buffer.alloc(BS), { qpair: qp });
    const mine = ctrl.groupStats().processes.find((x) => x.slot === ctrl.group.self)!.qpairs[0]!;
    // The dropped write timed out and the driver's Abort took it back: it completed with
    // Command Abort Requested, so it counts as a timeout, a write and an error.
    assert.is(mine.errors, 3);
    assert.is(mine.reads, 2);
    assert.is(mine.bytesRead, 0, 'failed reads move no bytes');
    assert.is(mine.timeouts, 1);
    assert.is(mine.writes, 2);
    assert.is(mine.bytesWritten, BS, 'the aborted write moved no bytes');
    // The delayed write waited at least 50 ms in the controller: its bucket is at or above the one of 50,000 us.
    let slowest = mine.latency.buckets.length - 1;
    while (slowest > 0 && mine.latency.buckets[slowest] === 0) slowest--;
    assert.ok(slowest >= latencyBucket(50_000), `slowest bucket ${slowest}`);
    // A member killed with SIGKILL is gone from the next snapshot (its slot is no longer live).
    await ctrl.mp.request('io', plan(slots), { timeoutMs: 60_000 });
    peers[0]!.child.kill('SIGKILL');
    await peers[0]!.exited;
    await ctrl.reapDead();
    const after = ctrl.groupStats();
    assert.not.ok(after.processes.some((p) => p.slot === slots[0] && p.pid === peers[0]!.child.pid));
    assert.ok(after.processes.some((p) => p.slot === slots[1]));
  } finally {
    client.clearFaults();
    client.close();
    for (const p of peers) await stop(p);
    await ctrl.close();
  }
});

test('stats: false (or NVME_WASM_STATS=0) keeps no statistics block; the queue pair still works', async () => {
  const g = gid++;
  const ctrl = await open(g, { stats: false });
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 8 });
    await ns.write(0, Buffer.alloc(BS, 1), { qpair: qp });
    assert.is(ctrl.region.ctrl.statsBlock(qp.qid), 0);
    assert.equal(ctrl.groupStats().processes[0]!.qpairs, []);
    assert.is(qp.stats.completed, 1, 'the descriptor counters are the core\'s and stay');
    await qp.delete();
    // Per queue pair, overriding the controller's default; a bad value is a typed error.
    const on = await ctrl.createQueuePair({ depth: 4, stats: true });
    assert.ok(ctrl.region.ctrl.statsBlock(on.qid) !== 0);
    await on.delete();
    const bad = await ctrl.createQueuePair({ stats: 'yes' as unknown as boolean }).catch((e: unknown) => e);
    assert.ok(bad instanceof InvalidArgumentError && bad.argument === 'stats');
    assert.ok((await Controller.open({ stats: 1 as unknown as boolean }).catch((e: unknown) => e)) instanceof InvalidArgumentError);
  } finally {
    await ctrl.close();
  }
  process.env.NVME_WASM_STATS = '0';
  try {
    const c2 = await Controller.open({ sim: { namespaces: [{ lbaSize: 512, blocks: 1024 }] } });
    const qp = await c2.createQueuePair();
    assert.is(c2.region.ctrl.statsBlock(qp.qid), 0);
    await c2.close();
  } finally {
    delete process.env.NVME_WASM_STATS;
  }
});

test('latency sampling: a fixed share (statsLatencySampling: 32) times one command in 32 on average, each standing for those since the previous; counts and bytes stay exact; bad values are typed errors', async () => {
  const ctrl = await open(gid++, { statsLatencySampling: 32 });
  try {
    const ns = ctrl.namespace(1);
    const qp = await ctrl.createQueuePair({ depth: 16 });
    assert.is(qp.latencySamplingNow, 32);
    const N = 2048;
    for (let i = 0; i < N; i++) await ns.readBlocks(i, 1, { qpair: qp });
    const q = ctrl.groupStats().processes[0]!.qpairs[0]!;
    assert.is(q.reads, N);
    assert.is(q.bytesRead, N * BS);
    // Gaps between timed commands are random, 1 to 63 (32 on average): about
    // 64 of 2048 timed (standard deviation about 4.5: 36 to 100 is six of them).
    assert.ok(q.latency.samples >= 36 && q.latency.samples <= 100, `${q.latency.samples} of ${N} timed`);
    // Each timed command stands for the commands since the previous one:
    // all of them but those after the last timed one (fewer than 63).
    assert.ok(q.latency.count <= N && q.latency.count > N - 63, `the figures stand for ${q.latency.count} of ${N}`);
    assert.is(q.latency.buckets.reduce((x, y) => x + y, 0), q.latency.count);
    await qp.delete();
  } finally {
    await ctrl.close();
  }
  for (const v of [0, 3, 2048, 1.5, Number.NaN, 'fast', '']) {
    const e = await Controller.open({ statsLatencySampling: v as number }).catch((x: unknown) => x);
    assert.ok(e instanceof InvalidArgumentError && e.argument === 'statsLatencySampling', String(e));
  }
  process.env.NVME_WASM_STATS_SAMPLING = '33';
  try {
    const e = await Controller.open({}).catch((x: unknown) => x);
    assert.ok(e instanceof InvalidArgumentError && e.argument === 'statsLatencySampling' && e.value === '33', String(e));
  } finally {
    process.env.NVME_WASM_STATS_SAMPLING = '1';
  }
});

test("latency sampling 'auto' (the default): every command of a slow queue pair is timed, a small share of a fast one", async () => {
  const ctrl = await open(gid++, { statsLatencySampling: 'auto' });
  try {
    const ns = ctrl.namespace(1);
    // Slow: one read at a time, 2 ms apart (500 IOPS): every one timed.
    const slow = await ctrl.createQueuePair({ depth: 16 });
    for (let i = 0; i < 20; i++) {
      await ns.readBlocks(i, 1, { qpair: slow });
      await new Promise((r) => setTimeout(r, 2));
    }
    const qs = ctrl.groupStats().processes[0]!.qpairs.find((q) => q.qid === slow.qid)!;
    assert.is(qs.reads, 20);
    assert.is(qs.latency.samples, 20, 'every command of a slow queue pair timed');
    assert.is(qs.latency.count, 20);
    assert.is(slow.latencySamplingNow, 1);
    // Fast: the callback path at QD 32 for 100,000 reads.
    const fast = await ctrl.createQueuePair({ depth: 64 });
    const bufs = Array.from({ length: 32 }, () => ctrl.allocDma(BS));
    const N = 100_000;
    let submitted = 0;
    let done = 0;
    let failed: Error | null = null;
    const t0 = performance.now();
    const go = (buf: (typeof bufs)[number]): void => {
      const cb = (err: Error | null): void => {
        failed ??= err;
        done++;
        if (submitted < N) go(buf);
      };
      submitted++;
      assert.ok(fast.submitRead(ns, submitted % 60000, buf, cb));
    };
    for (const b of bufs) go(b);
    while (done < N) fast.processCompletions();
    const ms = performance.now() - t0;
    assert.is(failed, null);
    const qf = ctrl.groupStats().processes[0]!.qpairs.find((q) => q.qid === fast.qid)!;
    assert.is(qf.reads, N, 'counts stay exact');
    assert.is(qf.bytesRead, N * BS);
    // Samples are polls 50 us or more apart once adapted (SAMPLE_GAP_MIN_MS in
    // host/latency-sampler.ts), each with the sampled commands of its batch (up to
    // QD / share); the ramp from timing every command takes a few polls.
    const share = fast.latencySamplingNow;
    const iops = (N / ms) * 1000;
    const timed = qf.latency.samples;
    // How far the share adapts depends on the rate this machine reaches (a
    // loaded one polls less often, and rightly times more): at a rate where
    // polls come faster than SAMPLE_GAP_MIN_MS it must have adapted.
    assert.ok(timed > 0 && timed <= N, `timed: ${timed} of ${N} at ${iops.toFixed(0)} IOPS, share 1/${share}`);
    // How the share follows the poll rate is shown deterministically in test/latency-sampler.test.ts (a clock of its own).
    // The timed commands stand for all of them but those after the last one
    // (fewer than two shares, and the share is at most 1024 whatever it was then).
    assert.ok(qf.latency.count <= N && qf.latency.count > N - 2 * 1024, `the histogram stands for ${qf.latency.count} commands, ${N} done`);
    assert.is(qf.latency.buckets.reduce((x, y) => x + y, 0), qf.latency.count);
    assert.ok(qf.latency.meanUs > 0 && qf.latency.p99Us >= qf.latency.p50Us);
    for (const b of bufs) b.free();
    await fast.delete();
    await slow.delete();
  } finally {
    await ctrl.close();
  }
});

test('nvme-wasm stats -i N (text and --json) and top -i N print every member and queue pair of a running group', async () => {
  const { g, ctrl, peers, slots } = await group();
  try {
    const want = plan(slots);
    await ctrl.mp.request('io', want, { timeoutMs: 60_000 });
    const conn = ['-i', String(g), '--file-prefix', tag];
    const members = () => ctrl.group.liveSlots().length;
    const j = await cli('stats', ...conn, '--json');
    assert.is(j.code, 0, j.err);
    const doc = JSON.parse(j.out) as GroupStats & { shmId: number };
    assert.is(doc.shmId, g);
    assert.equal(doc.processes.map((p) => p.slot).sort(), [ctrl.group.self, ...slots].sort(), 'the members, and no slot of the tool');
    for (const slot of slots) assert.is(doc.processes.find((x) => x.slot === slot)!.totals.readLatency.count, want[slot]!.reads);
    for (const slot of slots) {
      const p = doc.processes.find((x) => x.slot === slot)!;
      const w = want[slot]!;
      assert.equal([p.totals.writes, p.totals.reads, p.totals.bytesWritten, p.totals.completed], [w.writes, w.reads, w.writes * w.blocks * BS, w.writes + w.reads]);
    }
    const t = await cli('stats', ...conn);
    assert.is(t.code, 0, t.err);
    assert.match(t.out, `group ${g} (file prefix ${tag}): 3 processes`);
    const lines = t.out.split('\n');
    for (const slot of slots) {
      const p = doc.processes.find((x) => x.slot === slot)!;
      const w = want[slot]!;
      const row = lines.find((l) => l.startsWith(`${slot} `) && l.includes(` ${p.pid} `))!;
      assert.ok(row, `a row for slot ${slot}`);
      const cells = row.trim().split(/\s+/);
      assert.equal(cells.slice(2, 10), ['secondary', 'all', String(w.writes + w.reads), String(w.writes + w.reads), '0', '0', String(w.reads), String(w.writes)]);
      assert.ok(lines.some((l) => l.trim().startsWith(`${p.qpairs[0]!.qid} `)), 'a row per queue pair');
      const timed = p.qpairs[0]!.latency.samples;
      assert.ok(timed > 0);
      assert.ok(lines.some((l) => l.startsWith(`  slot ${slot} qid ${p.qpairs[0]!.qid} (${timed} timed): `)), 'a histogram line per queue pair, with how many commands were timed');
    }
    // top: two frames; the second shows the I/O done between them.
    // Writes go on in bursts until top is done, so its second frame's second
    // holds some whatever top's start-up takes on a loaded machine.
    let topDone = false;
    let most = 0; // members the group counted while top ran: a monitor is never one
    const topRun = cli('top', ...conn, '--iterations', '2', '--interval', '1000').finally(() => (topDone = true));
    const more = { [slots[1]!]: { writes: 20, reads: 0, blocks: 1 } };
    while (!topDone) {
      most = Math.max(most, members(), ctrl.groupStats().processes.length);
      await ctrl.mp.request('io', more, { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.is(most, 3, 'top took no member slot');
    const top = await topRun;
    assert.is(top.code, 0, top.err);
    const frames = top.out.trim().split(/\n\n(?=group )/);
    assert.is(frames.length, 2);
    for (const f of frames) {
      assert.match(f, /^group \d+ \(file prefix [^)]+\): 3 processes/);
      assert.match(f, /slot\s+pid\s+qid\s+out\s+rd IOPS\s+rd MiB\/s\s+rd us\s+wr IOPS/);
      assert.match(f, /\ntotal /, 'the group totals');
      for (const l of f.split('\n')) assert.ok(l.length <= 80, `80 columns: ${JSON.stringify(l)}`);
      for (const slot of slots) assert.ok(f.split('\n').some((l) => l.startsWith(`${slot} `)), `slot ${slot} in every frame`);
    }
    // Writes went on during both frames: one of them shows a write rate (wr IOPS, the 8th column).
    const writesOf = (f: string) => {
      const row = f.split('\n').find((l) => l.startsWith(`${slots[1]} `))!;
      return Number(row.trim().split(/\s+/)[7]);
    };
    assert.ok(frames.some((f) => writesOf(f) > 0), 'the writes show in a frame');
    // --json: one record per frame, Reads and Writes apart, totals the sum of the processes.
    const tj = await cli('top', ...conn, '--iterations', '2', '--interval', '200', '--json');
    assert.is(tj.code, 0, tj.err);
    const recs = tj.out.trim().split('\n').map((l) => JSON.parse(l) as TopRecord);
    assert.is(recs.length, 2);
    for (const r of recs) {
      assert.is(r.shmId, g);
      assert.is(r.members, 3);
      assert.ok(Number.isFinite(Date.parse(r.time)));
      assert.equal(r.processes.map((p) => p.slot).sort(), [ctrl.group.self, ...slots].sort());
      assert.is(r.outstanding, r.processes.reduce((a, p) => a + p.outstanding, 0));
      for (const p of r.processes) for (const q of p.qpairs) assert.ok(typeof q.read.iops === 'number' && typeof q.write.mibPerSec === 'number' && q.outstanding >= 0);
    }
  } finally {
    for (const p of peers) await stop(p);
    await ctrl.close();
  }
});

test('stats and top need a running group: a typed error naming -i, exit code 1', async () => {
  const r = await cli('stats');
  assert.is(r.code, 1);
  assert.match(r.err, 'invalid -i, --shm-id');
  const t = await cli('top', '-i', '9999', '--file-prefix', `${tag}none`, '--iterations', '1');
  assert.is(t.code, 1);
  assert.match(t.err, `nvme-wasm: error: no group 9999 (file prefix ${tag}none) is running`);
  assert.not.ok(fs.readdirSync('/dev/shm').some((f) => f.startsWith(`${tag}none_`)), 'no group was started for it');
  const r2 = await cli('stats', '-i', '9999', '-r', 'trtype:sim name:x');
  assert.is(r2.code, 1);
  assert.match(r2.err, 'not a stats option');
  const bad = await cli('top', '-i', '1', '--interval', '5');
  assert.is(bad.code, 1);
  assert.match(bad.err, "--interval <ms>' argument '5' is invalid");
});

test('top ends by itself when the group ends, and never keeps the group alive', async () => {
  const { g, ctrl, peers } = await group();
  const conn = ['-i', String(g), '--file-prefix', tag];
  const t0 = Date.now();
  const run = cli('top', ...conn, '--interval', '200', '--json');
  await new Promise((r) => setTimeout(r, 1500));
  for (const p of peers) await stop(p);
  await ctrl.close();
  const r = await run;
  assert.is(r.code, 0, r.err);
  assert.match(r.err, `group ${g} (file prefix ${tag}) ended`);
  assert.ok(Date.now() - t0 < 30_000);
  assert.not.ok(fs.existsSync(`/dev/shm/${tag}_${g}.region`), 'the last member removed the region: the monitor held nothing');
});

test('no socket file or group directory is left behind by the groups above', () => {
  const dirs = fs.existsSync(runDir()) ? fs.readdirSync(runDir()).filter((d) => d.startsWith(`${tag}_`)) : [];
  assert.equal(dirs.map((d) => `${d}/[${fs.readdirSync(path.join(runDir(), d)).join(',')}]`), []);
});

test.run();
