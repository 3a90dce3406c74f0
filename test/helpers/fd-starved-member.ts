// A group member that runs out of file descriptors (issue 16 A): joins group
// `shmId` as a secondary, opens /dev/null until EMFILE, then lets its group
// duties run (reapDead, and the 100 ms watchdog) for `ms`, and prints
// 'liveness <json>' (what it made of the primary while starved) and
// 'slots <n>' (live members it still counts). Run under a low RLIMIT_NOFILE.
//   node fd-starved-member.js '{"shmId":N,"prefix":"P","primaryPid":PID,"primaryStart":T,"ms":600}'
import fs from 'node:fs';
import { Controller } from '../../host/index.js';
import { processLiveness } from '../../hal/index.js';

const a = JSON.parse(process.argv[2]!) as { shmId: number; prefix: string; primaryPid: number; primaryStart: number; ms: number };
const ctrl = await Controller.open({ shmId: a.shmId, filePrefix: a.prefix, procType: 'secondary', regionSize: 32 << 20 });
const fds: number[] = [];
try {
  for (;;) fds.push(fs.openSync('/dev/null', 'r'));
} catch (e) {
  if ((e as NodeJS.ErrnoException).code !== 'EMFILE') throw e;
}
const seen = processLiveness(a.primaryPid, a.primaryStart);
await ctrl.reapDead();
await new Promise((r) => setTimeout(r, a.ms));
await ctrl.reapDead();
const slots = ctrl.group.liveSlots().length;
for (const fd of fds) fs.closeSync(fd);
process.stdout.write(`liveness ${JSON.stringify({ primary: seen, fds: fds.length })}\nslots ${slots}\n`);
await ctrl.close();
