// One process of the admin benchmark: join group `shmId`, then issue Get
// Features (Number of Queues) with `depth` in flight for `seconds`; print
// 'done <commands>'.
import { Controller } from '../host/index.js';

const [shmId, prefix, seconds, depth] = [Number(process.argv[2]), process.argv[3]!, Number(process.argv[4]), Number(process.argv[5])];
const ctrl = await Controller.open({ shmId, filePrefix: prefix, regionSize: 16 << 20 });
process.stdout.write('ready\n');
// Start together: wait for the go line on stdin.
await new Promise<void>((r) => process.stdin.once('data', () => r()));
const end = performance.now() + seconds * 1000;
let done = 0;
const worker = async () => {
  while (performance.now() < end) {
    await ctrl.getFeature(7);
    done++;
  }
};
await Promise.all(Array.from({ length: depth }, worker));
process.stdout.write(`done ${done}\n`);
await ctrl.close();
