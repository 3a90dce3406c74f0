// Reproduction of docs/fuzzing.md bug 1 (back-to-back resets; fixed, the
// test is in test/reset-race.test.ts): I/O members and one member resetting
// the controller in a loop, no kills. Prints each member's progress every
// second; an I/O member whose 'ok' count stops moving while resets go on hangs.
//   node dist/test/helpers/reset-io-repro.js [seconds] [ioMembers] [gapMs between resets]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSim, stop } from './procs.js';

const secs = Number(process.argv[2] ?? 30);
const nio = Number(process.argv[3] ?? 1);
const gapMs = Number(process.argv[4] ?? 20);
const tag = `rr${process.pid}`;
const trid = `trtype:sim name:${tag}`;
const MEMBER = fileURLToPath(new URL('./stress-member.js', import.meta.url));
const sim = await startSim({ name: tag, mdts: 5, maxIoQueuePairs: 16, namespaces: [{ lbaSize: 512, blocks: 65536 }] });
const procs: Array<{ role: string; last: string; child: ReturnType<typeof spawn> }> = [];
const start = (role: string, lba: number) => {
  const child = spawn(process.execPath, [MEMBER, JSON.stringify({ shmId: 4100 + (process.pid % 100), prefix: tag, trid, role, lba, blocks: 8192, gapMs })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const p = { role, last: '', child };
  child.stdout!.on('data', (d: Buffer) => (p.last = d.toString().trim().split('\n').at(-1)!));
  procs.push(p);
};
for (let i = 0; i < nio; i++) start('io', i * 8192);
await new Promise((r) => setTimeout(r, 3000));
start('reset', 0);
for (let s = 0; s < secs; s++) {
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`${s + 1}s ${procs.map((p) => `${p.role}[${p.last}]`).join(' ')}`);
}
for (const p of procs) p.child.kill('SIGKILL');
await stop(sim);
