// A process is dead only when the kernel says so (issue 16 A): no /proc
// entry and no pid, or another start time. A process that cannot read
// /proc (no file descriptor left) learns "unknown", and unknown is never
// cleaned up: a starved secondary leaves the live primary alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processLiveness, processStartTime, processAlive, pidRunning } from '../hal/index.js';
import { Controller } from '../host/index.js';

const prlimit = '/usr/bin/prlimit';

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('alive, dead by pid, dead by start time', () => {
  const me = processStartTime(process.pid)!;
  assert.type(me, 'number');
  assert.is(processLiveness(process.pid, me), 'alive');
  assert.is(processLiveness(process.pid, me + 1), 'dead', 'a recycled pid (another start time) is not the process');
  const gone = deadPid();
  assert.is(processLiveness(gone, 1), 'dead');
  assert.is(processStartTime(gone), undefined);
  assert.is(pidRunning(gone), false);
  assert.is(processAlive(process.pid, me), true);
});

test('a zombie (exited, not reaped by its parent) is dead', async () => {
  // sh starts 'sleep 0' in the background, prints its pid, then becomes 'sleep 2', which never reaps it.
  const { spawn } = await import('node:child_process');
  const p = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 2'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zpid = Number(await new Promise<string>((r) => p.stdout.once('data', (d: Buffer) => r(d.toString()))));
  await new Promise((r) => setTimeout(r, 300));
  const fs = await import('node:fs');
  const state = fs.readFileSync(`/proc/${zpid}/stat`, 'latin1').split(') ')[1]!.split(' ')[0];
  assert.is(state, 'Z', 'it is a zombie now');
  assert.is(processLiveness(zpid, 0), 'dead');
  assert.is(pidRunning(zpid), false);
  assert.is(processStartTime(zpid), undefined);
  p.kill();
});

test('with no file descriptor left, a live process is unknown (not dead), a vanished one still dead', () => {
  const gone = deadPid();
  const me = processStartTime(process.pid)!;
  const script = `
    import fs from 'node:fs';
    import { processLiveness, processAlive, pidRunning } from ${JSON.stringify(new URL('../hal/index.js', import.meta.url).href)};
    const fds = [];
    try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
    const r = { parent: processLiveness(${process.pid}, ${me}), alive: processAlive(${process.pid}, ${me}), gone: processLiveness(${gone}, 1), running: pidRunning(${process.pid}) };
    for (const fd of fds) fs.closeSync(fd);
    process.stdout.write(JSON.stringify(r));`;
  const r = spawnSync(prlimit, ['--nofile=64:64', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { parent: 'unknown', alive: true, gone: 'dead', running: true });
});

test('a secondary out of file descriptors does not take the live primary for dead', async () => {
  const prefix = `fdstarve${process.pid}`;
  const shmId = 7;
  const primary = await Controller.open({ shmId, filePrefix: prefix, regionSize: 32 << 20 });
  try {
    const qp = await primary.createQueuePair({ depth: 8 });
    const child = spawn(prlimit, ['--nofile=128:128', process.execPath, fileURLToPath(new URL('./helpers/fd-starved-member.js', import.meta.url)),
      JSON.stringify({ shmId, prefix, primaryPid: process.pid, primaryStart: processStartTime(process.pid), ms: 600 })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.is(code, 0, out);
    const seen = JSON.parse(/liveness (.*)/.exec(out)![1]!) as { primary: string; fds: number };
    assert.ok(seen.fds > 0, 'the child did exhaust its descriptors');
    assert.is(seen.primary, 'unknown');
    assert.is(/slots (\d+)/.exec(out)![1], '2', 'it still counted both members');
    // The primary's slot, queue and memory are untouched: I/O goes on.
    assert.is(primary.group.slotAlive(primary.group.self), true);
    const ns = primary.namespace(1);
    const data = Buffer.alloc(ns.blockSize, 0x5a);
    await ns.write(0, data, { qpair: qp });
    assert.equal(await ns.readBlocks(0, 1, { qpair: qp }), data);
    await qp.delete();
  } finally {
    await primary.close();
  }
});

test.run();
