// `npm run bench:irq`: the completion modes on the simulated controller,
// run as its own process (so this process's CPU is the driver's alone):
// CPU per I/O at QD1 with a think time, IOPS at QD32, poll / interrupt /
// adaptive interleaved (bench/irq-common.ts). Medians over the repetitions
// and ratios against 'poll' in the same invocation.
//
//   npm run bench:irq [-- --seconds 3 --reps 3 --think-ms 1]
import { Command } from 'commander';
import { startSim, median, positive, nonNegative } from './common.js';
import { runIrqBench, formatRun, summary } from './irq-common.js';

const o = new Command('bench:irq')
  .option('--seconds <s>', 'run time of each point', positive, 3)
  .option('--reps <n>', 'repetitions (interleaved)', positive, 3)
  .option('--think-ms <ms>', 'think time between QD1 reads', nonNegative, 1)
  .parse()
  .opts<{ seconds: number; reps: number; thinkMs: number }>();

const name = `irqbench-${process.pid}`;
const { stop } = await startSim({ name, namespaces: [{ lbaSize: 512, blocks: 2 * 1024 * 1024 }] });
try {
  console.log(`bench:irq: 4 KiB random reads, simulator as its own process, ${o.reps} x ${o.seconds} s per point, think time ${o.thinkMs} ms`);
  const { runs } = await runIrqBench({
    transport: `trtype:sim name:${name}`, seconds: o.seconds, reps: o.reps, thinkMs: o.thinkMs, modes: ['poll', 'interrupt', 'adaptive'],
    onRun: (r) => console.log(formatRun(r)),
  });
  console.log(`\nmedians over ${o.reps} repetitions:`);
  for (const l of summary(runs, median)) console.log(l);
} finally {
  await stop();
}
