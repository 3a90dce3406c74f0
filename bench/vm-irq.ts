// `npm run bench:vm-irq`: interrupts against polling on QEMU's NVMe
// controller through VFIO, in one guest boot (TCG, intel-iommu, 2 vCPUs):
// CPU per I/O at QD1 with a think time and IOPS at QD32, for poll,
// interrupt and adaptive interleaved over the repetitions
// (bench/vm-irq-guest.ts, bench/irq-common.ts). Medians and ratios against
// 'poll' from the same boot: TCG varies by tens of percent between boots.
//
//   npm run bench:vm-irq [-- --seconds 3 --reps 3 --think-ms 1]
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { runInGuest, PROJECT_DIR, bdfOf } from '../test/vm/guest.js';
import { provision } from '../test/vm/provision.js';
import { median, positive, nonNegative } from './common.js';
import { summary, type IrqRun } from './irq-common.js';

const o = new Command('bench:vm-irq')
  .option('--seconds <s>', 'run time of each point', positive, 3)
  .option('--reps <n>', 'repetitions (interleaved)', positive, 3)
  .option('--think-ms <ms>', 'think time between QD1 reads', nonNegative, 1)
  .option('--smp <n>', 'guest vCPUs', positive, 2)
  .parse()
  .opts<{ seconds: number; reps: number; thinkMs: number; smp: number }>();

const bdf = bdfOf(0);
console.log(`bench:vm-irq: 4 KiB random read, QEMU NVMe at ${bdf} via VFIO (TCG, ${o.smp} vCPUs), ${o.reps} x ${o.seconds} s per point, think time ${o.thinkMs} ms`);
const result = await runInGuest({
  name: 'bench-irq',
  provisioned: provision(),
  nvme: [{ namespaces: [{ lbaSize: 4096, sizeMiB: 1024 }] }],
  iommu: true,
  smp: o.smp,
  memMiB: 2048,
  hugepages: 128,
  script: `exec node dist/bench/vm-irq-guest.js --bdf ${bdf} --seconds ${o.seconds} --reps ${o.reps} --think-ms ${o.thinkMs} --out "$NVME_WASM_VM_SHARED/irq.json"`,
  timeoutMs: (180 + o.reps * 6 * (o.seconds + 10)) * 1000,
  onStdout: (s) => process.stdout.write(s),
  onStderr: (s) => process.stderr.write(s),
});
const file = result.files.get('irq.json');
if (!file) throw new Error(`the guest wrote no results (exit ${result.exitCode}); console: ${result.consoleLog}`);
const runs = (JSON.parse(file.toString('utf8')) as { runs: IrqRun[] }).runs;
const outFile = path.join(PROJECT_DIR, 'bench/build/vm-irq-results.json');
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify({ opts: o, bootSeconds: result.bootSeconds, runs }, null, 2));
console.log(`\nmedians over ${o.reps} repetitions (boot ${result.bootSeconds}s, guest run ${result.seconds.toFixed(0)} s):`);
for (const l of summary(runs, median)) console.log(l);
console.log(`\nall runs: ${path.relative(process.cwd(), outFile)}; guest console: ${result.consoleLog}`);
