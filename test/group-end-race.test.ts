// The end of a group and its restart, raced (found by bench:admin,
// 2026-12-02): two members closing at once, each seeing the other alive
// when it asked whether it was last, left the group file behind with nobody
// in it (and the controller not shut down); several processes joining a
// group whose only member had died found each other holding its file and
// failed with "its process table is damaged", or one of them restarted the
// group on a new embedded simulator instead of the group's own device.
// Members are real processes (test/helpers/mp-child.ts); the test process
// is a member too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Controller } from '../host/index.js';
import { member, startSim, stop, type Proc } from './helpers/procs.js';

const tag = `ger${process.pid}`;
const trid = `trtype:sim name:${tag}`;
let sim: Proc;
let gid = 1;

test.before(async () => {
  sim = await startSim({ name: tag, namespaces: [{ lbaSize: 512, blocks: 65536 }] });
});
test.after(async () => {
  await stop(sim);
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

const regionFile = (g: number) => `/dev/shm/${tag}_${g}.region`;
const open = (g: number, transport?: string) => Controller.open({ shmId: g, filePrefix: tag, regionSize: 32 << 20, ...(transport ? { transport } : {}) });

test('two members closing at once: the one that leaves last removes the group file', async () => {
  const g = gid++;
  const primary = await open(g, trid);
  const other = member({ shmId: g, prefix: tag, trid, role: 'hold' });
  await other.waitLine('holding');
  // Interleave the two closes: the primary asks whether it is last (no: the
  // other is alive), then the other closes completely (it sees the primary
  // alive, so it is not last either), then the primary leaves.
  let primaryWasLast: boolean | undefined;
  const closeIfLast = primary.group.closeIfLast.bind(primary.group);
  primary.group.closeIfLast = () => {
    primaryWasLast = closeIfLast();
    other.child.kill('SIGTERM');
    return primaryWasLast;
  };
  const leave = primary.group.leave.bind(primary.group);
  primary.group.leave = (desc: number) => {
    const until = Date.now() + 20_000;
    while (other.child.exitCode === null && Date.now() < until) {
      // The other process must be gone before we leave; its exit is seen on the event loop, so poll the pid.
      try {
        process.kill(other.child.pid!, 0);
      } catch {
        break;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    return leave(desc);
  };
  await primary.close();
  assert.is(await other.exited, 0, 'the other member closed cleanly');
  assert.is(primaryWasLast, false, 'the primary was not last when it asked');
  assert.not.ok(fs.existsSync(regionFile(g)), 'the group file is gone');
});

test('four processes joining a group whose only member died: all join one group, on its own device', async () => {
  for (let round = 0; round < 4; round++) {
    const g = gid++;
    // A primary on the test's simulator that dies without closing (killed).
    const dead = member({ shmId: g, prefix: tag, trid, role: 'hold' });
    await dead.waitLine('holding');
    dead.child.kill('SIGKILL');
    await dead.exited;
    assert.ok(fs.existsSync(regionFile(g)), 'the dead group left its file');
    // Four joiners at once, none naming a device, all staying until stopped (so the group does not end meanwhile).
    const joiners = Array.from({ length: 4 }, () => member({ shmId: g, prefix: tag, role: 'hold' }));
    try {
      const roles = await Promise.all(joiners.map(async (j) => {
        const ready = await j.waitLine('ready ', 60_000);
        await j.waitLine('holding', 60_000);
        return ready.split(' ')[2];
      }));
      assert.equal(roles.filter((r) => r === 'primary').length, 1, `one primary among ${roles.join(', ')} (round ${round})`);
      // The group came back on the simulator it ran on, not on an embedded one.
      const devices = joiners.map((j) => j.lines.find((l) => l.startsWith('device '))?.slice(7));
      assert.equal([...new Set(devices)], [trid], `the joiners' device (round ${round})`);
    } finally {
      for (const j of joiners) await stop(j);
    }
    for (const j of joiners) assert.is(await j.exited, 0, 'each joiner closed cleanly');
    assert.not.ok(fs.existsSync(regionFile(g)), 'the group file is gone after the last one');
  }
});

test.run();
