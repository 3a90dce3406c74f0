// One process of the admin benchmark (SIGUSR2 dumps its view of the group lock and its mailbox): join group `shmId`, then issue Get
// Features (Number of Queues) with `depth` in flight for `seconds`; print
// 'done <commands>'. With `depth` 0: the group's holder, a primary that
// issues nothing and stays until SIGINT.
import { Controller } from '../host/index.js';
import {
  CTRL_MBOX, MBOX_STRIDE, MBOX_HEAD, MBOX_TAIL, MBOX_DROPPED, HDR_ADMIN_LOCK, HDR_LOCK_WANT, HDR_LOCK_WAIT_LO,
} from '../assembly/abi/region.js';

const [shmId, prefix, seconds, depth] = [Number(process.argv[2]), process.argv[3]!, Number(process.argv[4]), Number(process.argv[5])];
let done = 0;
// argv[6], the holder's: the device (a member joining an existing group needs none).
const ctrl = await Controller.open({ shmId, filePrefix: prefix, regionSize: 16 << 20, transport: process.argv[6] });
process.stdout.write('ready\n');
process.on('SIGUSR2', () => {
  const dv = ctrl.region.dv;
  const mbox = dv.getUint32(CTRL_MBOX, true) + ctrl.group.self * MBOX_STRIDE;
  process.stderr.write(`self ${ctrl.group.self} done ${done} lock ${dv.getUint32(HDR_ADMIN_LOCK, true)} want ${dv.getUint32(HDR_LOCK_WANT, true)} waiting ${dv.getUint32(HDR_LOCK_WAIT_LO, true).toString(2)} ` +
    `adminOutstanding ${ctrl.core.qpOutstanding(ctrl.admin.desc)} mbox head ${dv.getUint32(mbox + MBOX_HEAD, true)} tail ${dv.getUint32(mbox + MBOX_TAIL, true)} dropped ${dv.getUint32(mbox + MBOX_DROPPED, true)} ` +
    `foreign ${ctrl.admin.foreignCompletions} bogus ${ctrl.admin.stats.bogusCompletions} live ${ctrl.group.liveSlots()}\n`);
});
if (depth === 0) {
  // The group's holder: a primary that issues nothing and stays until SIGINT.
  const keepAlive = setInterval(() => {}, 1 << 30); // the driver's own timers do not keep a process alive
  await new Promise<void>((r) => process.once('SIGINT', () => r()));
  clearInterval(keepAlive);
  await ctrl.close();
  process.exit(0);
}
// Start together: wait for the go line on stdin.
await new Promise<void>((r) => process.stdin.once('data', () => r()));
process.stdin.destroy(); // or the open pipe keeps this process alive
const end = performance.now() + seconds * 1000;
const worker = async () => {
  while (performance.now() < end) {
    await ctrl.getFeature(7);
    done++;
  }
};
await Promise.all(Array.from({ length: depth }, worker));
process.stdout.write(`done ${done}\n`);
await ctrl.close();
