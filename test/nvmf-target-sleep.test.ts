// With deviceCompletionMode 'adaptive' the target waits for a slow device
// asleep on the device's interrupt, not spinning (host/nvmf/target/
// poll-group.ts): a simulated controller whose every completion takes 2 ms
// (its interrupt vectors are futex words, host/sim/irq.ts), a host reading
// one block at a time through a raw NVMe/TCP client. The same target with
// 'poll' (the default) spins for each completion instead: several times the polls
// per read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTarget, type RunningTarget } from '../host/nvmf/target/index.js';
import type { CompletionMode } from '../host/interrupts.js';
import { adminAssociation, ioQueue, HOSTNQN } from './helpers/nvmf-client.js';
import { pattern } from './helpers/rand.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:sleep';
const READS = 20;

async function run(mode: CompletionMode | undefined): Promise<{ polls: number; sleeps: number; wakeups: number; rt: RunningTarget }> {
  const rt = await startTarget({
    listen: ['127.0.0.1:0'],
    devices: [{ name: 'sim', regionSize: 64 * 1024 * 1024, sim: { namespaces: [{ lbaSize: 512, blocks: 4096 }], latency: { mode: 'fixed', us: 2000 } } }],
    subsystems: [{ nqn: NQN, hosts: [HOSTNQN] }],
    ...(mode ? { deviceCompletionMode: mode } : {}),
    pollWait: false, // the host is in this process: a wait in poll(2) would hold it back
  });
  try {
    const port = rt.listeners[0]!.port;
    const { admin, cntlid } = await adminAssociation(port, NQN);
    const q = await ioQueue(port, NQN, cntlid, 1, { sqsize: 31 });
    const data = pattern(0, 1, 512, 3);
    assert.is((await q.rw(true, 1, 0, 1, data)).status, 0);
    const p0 = rt.pollGroup.polls;
    const s0 = rt.pollGroup.sleeps;
    const w0 = rt.pollGroup.wakeups;
    for (let i = 0; i < READS; i++) {
      const r = await q.rw(false, 1, 0, 1);
      assert.is(r.status, 0);
      assert.ok(r.data!.equals(data), `read ${i} intact`);
    }
    const out = { polls: rt.pollGroup.polls - p0, sleeps: rt.pollGroup.sleeps - s0, wakeups: rt.pollGroup.wakeups - w0, rt };
    await q.disconnect();
    await admin.disconnect();
    return out;
  } finally {
    await rt.stop();
  }
}

// Timing bounds are loose (a loaded machine polls slower, and a completion
// may land within the 50 us spin): most reads sleep and are woken, and a
// spinning read polls several times as often as a sleeping one.
const MOST = Math.ceil(READS * 0.8);
let adaptivePolls = 0;

test(`adaptive: the reads of a 2 ms device sleep on its interrupt and are woken by it`, async () => {
  const r = await run('adaptive');
  adaptivePolls = r.polls / READS;
  console.log(`  adaptive: ${r.sleeps} sleeps, ${r.wakeups} wake-ups, ${(r.polls / READS).toFixed(1)} polls per read`);
  assert.is(r.rt.target.settings.deviceCompletionMode, 'adaptive');
  assert.ok(r.sleeps >= MOST, `${r.sleeps} sleeps for ${READS} reads`);
  assert.ok(r.wakeups >= MOST, `${r.wakeups} interrupt wake-ups for ${READS} reads`);
});

test(`poll (the default): the same reads spin for their completions, never sleeping on the interrupt`, async () => {
  const r = await run(undefined);
  assert.is(r.rt.target.settings.deviceCompletionMode, 'poll');
  console.log(`  poll: ${r.sleeps} sleeps, ${(r.polls / READS).toFixed(0)} polls per read`);
  assert.is(r.sleeps, 0);
  // A 50 us spin, the poll after arming, the poll after the wake-up, against a 2 ms spin.
  assert.ok(r.polls / READS > 3 * adaptivePolls, `${(r.polls / READS).toFixed(0)} polls per read, against ${adaptivePolls.toFixed(0)} asleep`);
});

test('a bad deviceCompletionMode is refused by name', async () => {
  const e = await startTarget({ subsystems: [{ nqn: NQN, allowAnyHost: true }], listen: ['127.0.0.1:0'], deviceCompletionMode: 'sometimes' as CompletionMode }).then(
    async (rt) => {
      await rt.stop();
      return undefined;
    },
    (x: unknown) => x as Error,
  );
  assert.ok(e, 'refused');
  assert.is(e!.name, 'InvalidArgumentError');
  assert.match(e!.message, /deviceCompletionMode/);
});

test.run();
