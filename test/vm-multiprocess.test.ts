// Inside the VM (npm run test:vm): the multi-process model on QEMU's NVMe
// controller through this boot's route, with real OS processes
// (test/helpers/mp-child.ts): a primary and secondaries doing verified I/O,
// concurrent admin commands each process gets its own completions of, a
// secondary killed with SIGKILL and cleaned up after, and a management tool
// attaching to a group while perf runs. Skips itself outside a guest.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { member, summary, stop, type Proc } from './helpers/procs.js';
import { vmConfig, cli, tridOf, bindForRoute, resetToKernel, MAIN } from './helpers/pcie-vm.js';
import { hugetlbfsMount } from '../hal/index.js';

const vm = vmConfig();
const t = vm ? test : test.skip;
const main = vm?.devices[0];
const small = vm?.devices[1];
const PREFIX = `vmmp${process.pid}`;
let shm = 100;
const procs: Proc[] = [];

test.before(() => {
  if (!vm) return;
  bindForRoute(vm, vm.devices);
});

test.after(async () => {
  if (!vm) return;
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  // No group file may be left behind.
  const dir = hugetlbfsMount();
  if (dir) for (const f of fs.readdirSync(dir)) if (f.startsWith(PREFIX)) fs.rmSync(`${dir}/${f}`, { force: true });
  await resetToKernel(vm.devices);
});

function spawnMember(args: Record<string, unknown>): Proc {
  const p = member({ prefix: PREFIX, ...args });
  procs.push(p);
  return p;
}

function groupFiles(): string[] {
  const dir = hugetlbfsMount();
  return dir ? fs.readdirSync(dir).filter((f) => f.startsWith(PREFIX)) : [];
}

t('a primary and two secondaries doing verified I/O on their own ranges', async () => {
  const shmId = shm++;
  const trid = tridOf(main!);
  // The primary does I/O until told to stop, so the group outlives the secondaries' work.
  const primary = spawnMember({ shmId, trid, role: 'io', procType: 'primary', lba: 0, blocks: 2048, rounds: 0 });
  assert.match(await primary.waitLine('ready ', 120_000), / primary$/);
  const secs = [1, 2].map((i) => spawnMember({ shmId, trid, role: 'io', procType: 'secondary', lba: i * 4096, blocks: 2048, rounds: 150 }));
  for (const s of secs) assert.match(await s.waitLine('ready ', 120_000), / secondary$/);
  for (const s of secs) {
    const r = await summary(s);
    assert.is(r.rounds, 150);
    assert.is(r.mismatches, 0);
    assert.is(await s.exited, 0);
  }
  await stop(primary);
  const r = await summary(primary);
  assert.ok(r.rounds! > 0);
  assert.is(r.mismatches, 0);
  assert.is(await primary.exited, 0);
  assert.equal(groupFiles(), []);
});

t('concurrent admin commands from three processes: each gets exactly its own completions', async () => {
  const shmId = shm++;
  const trid = tridOf(main!);
  const first = spawnMember({ shmId, trid, role: 'hold' });
  await first.waitLine('holding', 120_000);
  const admins = [0, 1, 2].map(() => spawnMember({ shmId, trid, role: 'admin', rounds: 120, depth: 8, nsCount: 2 }));
  for (const a of admins) {
    const r = await summary(a);
    assert.is(r.sent, 120);
    assert.is(r.ok, 120, 'every Identify Namespace carried the data of the namespace this process asked for');
    assert.is(r.wrong, 0);
    assert.is(await a.exited, 0);
  }
  await stop(first);
  assert.is(await first.exited, 0);
});

t('kill -9 of a secondary: its queue pair is reclaimed (max_ioqpairs=2 leaves no spare), the group goes on', async () => {
  const shmId = shm++;
  const trid = tridOf(small!);
  const primary = spawnMember({ shmId, trid, role: 'hold' });
  await primary.waitLine('holding', 120_000);
  const victim = spawnMember({ shmId, trid, role: 'hold' });
  await victim.waitLine('holding', 120_000);
  victim.child.kill('SIGKILL');
  assert.is(await victim.exited, 'SIGKILL');
  // Both of the controller's queue pairs were taken; a newcomer gets one only
  // once the survivor has deleted the dead member's queues.
  let io: Record<string, number> | undefined;
  for (let attempt = 0; attempt < 60 && !io; attempt++) {
    const p = spawnMember({ shmId, trid, role: 'io', lba: 0, blocks: 256, rounds: 40 });
    const exit = await Promise.race([p.exited, p.waitLine('done ', 300_000).then(() => undefined, () => undefined)]);
    if (exit === undefined) io = await summary(p);
    await p.exited;
  }
  assert.ok(io, 'a new member never got the dead member\'s queue pair');
  assert.is(io!.rounds, 40);
  assert.is(io!.mismatches, 0);
  await stop(primary);
  assert.is(await primary.exited, 0);
  assert.equal(groupFiles(), []);
});

t('kill -9 of the primary: a secondary takes the role and its verified I/O goes on (DMA mappings outlive the primary)', async () => {
  const shmId = shm++;
  const trid = tridOf(main!);
  const primary = spawnMember({ shmId, trid, role: 'hold', procType: 'primary' });
  await primary.waitLine('holding', 120_000);
  const sec = spawnMember({ shmId, trid, role: 'io', procType: 'secondary', lba: 8192, blocks: 1024, rounds: 0 });
  await sec.waitLine('progress 50', 300_000);
  primary.child.kill('SIGKILL');
  assert.is(await primary.exited, 'SIGKILL');
  await sec.waitLine('primary', 120_000);
  const seen = sec.lines.filter((l) => l.startsWith('progress ')).length;
  // Progress after the takeover: I/O still completes into the region.
  for (let i = 0; i < 3000 && sec.lines.filter((l) => l.startsWith('progress ')).length < seen + 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(sec.lines.filter((l) => l.startsWith('progress ')).length >= seen + 2, 'no I/O progress after the primary died');
  await stop(sec);
  const r = await summary(sec);
  assert.is(r.mismatches, 0);
  assert.is(await sec.exited, 0);
  assert.equal(groupFiles(), []);
});

t('a management tool attaches to the group during perf, and perf carries on', async () => {
  const shmId = shm++;
  const perf = spawn(process.execPath, [MAIN, 'perf', '-r', tridOf(main!), '-i', String(shmId), '--file-prefix', PREFIX, '-q', '8', '-w', 'randrw', '-V', '-t', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  perf.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const perfExit = new Promise<number>((r) => perf.once('exit', (c) => r(c ?? -1)));
  try {
    for (let i = 0; i < 1200 && !out.includes('Launching workers'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, 'Launching workers');
    const id = await cli('identify', '-i', String(shmId), '--file-prefix', PREFIX, '--json');
    assert.is(id.code, 0, id.err);
    const doc = JSON.parse(id.out) as { controller: { serialNumber: string } };
    assert.is(doc.controller.serialNumber, main!.serial);
    const list = await cli('list', '-i', String(shmId), '--file-prefix', PREFIX);
    assert.is(list.code, 0, list.err);
    assert.is(await perfExit, 0);
    assert.match(out, ': 0 mismatches');
  } finally {
    if (perf.exitCode === null) perf.kill('SIGKILL');
    await perfExit;
  }
  assert.equal(groupFiles(), []);
});

test.run();
