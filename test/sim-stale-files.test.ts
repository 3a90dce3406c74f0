// A simulator's files left by a process that is gone name its pid, and that
// pid can be a later process's: this one's, for the embedded simulator
// (named emb-<pid>-<n>). In 300 perf runs on the embedded simulator one
// failed with "a simulated controller named emb-9182-0 already runs (pid
// 9182)": its own pid, on a page a dead process with that pid had left. The
// ctl page now records the simulator's start time too, and a page whose
// (pid, start time) is not a running process is stale.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { startSimWorker } from '../host/sim/embedded.js';
import { runningSimPid } from '../host/sim/device-files.js';
import { CTL_SIZE, CTL_MAGIC, CTL_MAGIC_VALUE, CTL_SIM_PID, CTL_SIM_START_LO, CTL_STATE, SimState, simCtlPath, simBarPath } from '../host/sim/ctl.js';
import { processStartTime } from '../hal/proc.js';

const name = `stale${process.pid}`;
const ctlPath = simCtlPath('/dev/shm', name);

test.after(() => {
  fs.rmSync(ctlPath, { force: true });
  fs.rmSync(simBarPath('/dev/shm', name), { force: true });
});

/** A Running ctl page naming `pid` with start time `start`, as a dead simulator leaves it. */
function plant(pid: number, start: number): void {
  const page = Buffer.alloc(CTL_SIZE);
  page.writeUInt32LE(CTL_MAGIC_VALUE, CTL_MAGIC);
  page.writeUInt32LE(pid, CTL_SIM_PID);
  page.writeUInt32LE(SimState.Running, CTL_STATE);
  page.writeUInt32LE(start, CTL_SIM_START_LO);
  fs.writeFileSync(ctlPath, page, { mode: 0o600 });
}

test('a page naming this very process with another start time is stale: the simulator starts', async () => {
  const mine = processStartTime(process.pid)!;
  plant(process.pid, mine + 1);
  assert.is(runningSimPid(ctlPath), undefined, 'not taken for a running simulator');
  const sim = await startSimWorker({ name });
  try {
    assert.is(sim.client.pid, process.pid);
    assert.is(sim.client.startTime, mine, 'the new page records this process');
    assert.ok(sim.client.isAlive());
    assert.is(runningSimPid(ctlPath), process.pid, 'and is a running simulator now');
  } finally {
    await sim.stop();
  }
});

test('a page naming a live process with its own start time still refuses a second simulator', async () => {
  const sim = await startSimWorker({ name });
  try {
    const e = await startSimWorker({ name }).then(() => undefined, (x: unknown) => x);
    assert.instance(e, Error);
    assert.match((e as Error).message, /already runs/);
  } finally {
    await sim.stop();
  }
});

test.run();
