// An admin method called while another process of the group holds the group
// lock waits for the lock without blocking the event loop (issue 16 E): a
// timer keeps ticking all along, and the command completes once the lock is
// let go, or once its holder dies (its lock is taken over).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { Controller } from '../host/index.js';
import { member, startSim, stop, type Proc } from './helpers/procs.js';

const tag = `lw${process.pid}`;
const trid = `trtype:sim name:${tag}`;
let sim: Proc;
let gid = 700;

test.before(async () => {
  sim = await startSim({ name: tag });
});
test.after(async () => {
  await stop(sim);
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

const base = (shmId: number) => ({ shmId, prefix: tag, trid });

/** Largest gap between the ticks of a 10 ms interval timer while `p` runs, and the tick count. */
async function ticking<T>(p: () => Promise<T>): Promise<{ value: T; maxGap: number; ticks: number; ms: number }> {
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const t = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 10);
  const t0 = performance.now();
  try {
    const value = await p();
    const end = performance.now();
    maxGap = Math.max(maxGap, end - last);
    return { value, maxGap, ticks, ms: end - t0 };
  } finally {
    clearInterval(t);
  }
}

test('getFeature while another member holds the group lock for 2 s: the event loop keeps ticking, the command completes after the release', async () => {
  const g = gid++;
  const obs = await Controller.open({ shmId: g, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  const holder = member({ ...base(g), role: 'hold-lock', holdMs: 2000 });
  try {
    await holder.waitLine('locked');
    const r = await ticking(() => obs.getFeature(7));
    assert.ok(holder.lines.includes('unlocking'), 'completed only after the holder let go');
    assert.ok(r.ms > 1000, `waited for the lock (${r.ms.toFixed(0)} ms)`);
    assert.ok(r.maxGap < 200, `largest gap between timer ticks ${r.maxGap.toFixed(0)} ms while the lock was held ${r.ms.toFixed(0)} ms`);
    assert.ok(r.ticks >= 20, `the timer ticked (${r.ticks} times)`);
    assert.is(typeof r.value, 'number');
    // And the admin queue goes on as usual.
    await obs.identifyController();
  } finally {
    holder.child.kill('SIGTERM');
    await holder.exited;
    await obs.close();
  }
});

test('admin commands waiting for a lock whose holder is killed: the lock is recovered, they complete, the loop never stalls', async () => {
  const g = gid++;
  const obs = await Controller.open({ shmId: g, filePrefix: tag, transport: trid, regionSize: 32 << 20 });
  const victim = member({ ...base(g), role: 'die-in-lock' });
  try {
    await victim.waitLine('locked');
    const r = await ticking(async () => {
      const pending = Promise.all([obs.getFeature(7), obs.identifyController(), obs.getFeature(7)]);
      await new Promise((res) => setTimeout(res, 300));
      victim.child.kill('SIGKILL');
      return pending;
    });
    assert.is(r.value.length, 3);
    assert.ok(r.maxGap < 200, `largest gap between timer ticks ${r.maxGap.toFixed(0)} ms`);
    assert.ok(r.ms < 5000, `recovered promptly (${r.ms.toFixed(0)} ms)`);
    const lock = obs.region.hdr.adminLockWord;
    assert.ok(lock === 0 || lock === obs.group.self + 1, `lock free or ours (${lock})`);
  } finally {
    await victim.exited;
    await obs.close();
  }
});

test.run();
