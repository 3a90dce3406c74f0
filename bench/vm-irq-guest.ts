// Guest side of `npm run bench:vm-irq` (bench/vm-irq.ts boots the guest):
// the controller moved to vfio-pci, then bench/irq-common.ts through
// trtype:PCIe (poll, interrupt, adaptive interleaved), then back to nvme.
// Usage: node dist/bench/vm-irq-guest.js --bdf 0000:00:04.0 --seconds 3 --reps 3 --think-ms 1 --out FILE
import fs from 'node:fs';
import { Command } from 'commander';
import { bindDriver, rebindDefault } from '../hal/pci-bind.js';
import { runIrqBench, formatRun } from './irq-common.js';
import { positive, nonNegative } from './common.js';

const o = new Command('vm-irq-guest')
  .requiredOption('--bdf <addr>', 'controller')
  .option('--seconds <s>', 'run time per point', positive, 3)
  .option('--reps <n>', 'repetitions', positive, 3)
  .option('--think-ms <ms>', 'think time between QD1 reads', nonNegative, 1)
  .requiredOption('--out <file>', 'results JSON')
  .parse()
  .opts<{ bdf: string; seconds: number; reps: number; thinkMs: number; out: string }>();

bindDriver(o.bdf, 'vfio-pci');
try {
  const r = await runIrqBench({
    transport: `trtype:PCIe traddr:${o.bdf}`, seconds: o.seconds, reps: o.reps, thinkMs: o.thinkMs, modes: ['poll', 'interrupt', 'adaptive'],
    onRun: (x) => console.log(formatRun(x)),
  });
  fs.writeFileSync(o.out, JSON.stringify({ ...o, runs: r.runs }, null, 2));
} finally {
  rebindDefault(o.bdf);
}
