// One process of the admin benchmark: join group `shmId`, then issue Get
// Features (Number of Queues) with `depth` in flight for `seconds`; print
// 'done <commands>'.
import { Controller } from '../host/index.js';

const [shmId, prefix, seconds, depth] = [Number(process.argv[2]), process.argv[3]!, Number(process.argv[4]), Number(process.argv[5])];
let done = 0;
const ctrl = await Controller.open({ shmId, filePrefix: prefix, regionSize: 16 << 20 });
process.stdout.write('ready\n');
process.on('SIGUSR2', () => {
  const dv = ctrl.region.dv;
  const mbox = dv.getUint32(0x2000 + 32, true) + ctrl.group.self * 4096;
  process.stderr.write(`self ${ctrl.group.self} done ${done} lock ${dv.getUint32(44, true)} want ${dv.getUint32(72, true)} waiters ${dv.getUint32(64, true)} ` +
    `adminOutstanding ${ctrl.core.qpOutstanding(ctrl.admin.desc)} mbox head ${dv.getUint32(mbox, true)} tail ${dv.getUint32(mbox + 4, true)} dropped ${dv.getUint32(mbox + 8, true)} ` +
    `foreign ${ctrl.admin.foreignCompletions} bogus ${ctrl.admin.stats.bogusCompletions} live ${ctrl.group.liveSlots()}\n`);
});
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
