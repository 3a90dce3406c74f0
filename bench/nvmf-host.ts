// `npm run bench:nvmf-host`: this project's NVMe/TCP initiator against the
// kernel's nvmet-tcp, and the kernel's nvme-tcp initiator (fio io_uring,
// O_DIRECT) against the same nvmet-tcp subsystem, on the guest's loopback,
// in one boot: 4 KiB random read at QD1 and QD32, repetitions interleaved
// (bench/nvmf-host-guest.ts runs inside). IOPS, mean and p99 latency per
// run; medians and project / kernel ratios. The namespace is a file on the
// guest's tmpfs (buffered): both initiators read the same page cache, so
// the figures are the initiators' and the TCP stack's. TCG varies by tens of
// percent between runs: compare within one invocation only.
//
//   npm run bench:nvmf-host [-- --seconds 5 --reps 3 --smp 2]
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { runInGuest, PROJECT_DIR } from '../test/vm/guest.js';
import { provision } from '../test/vm/provision.js';
import type { HostBenchRun } from './nvmf-host-guest.js';
import { guestRuns, medians } from './guest-results.js';
import { positive } from './common.js';

const opts = new Command('bench:nvmf-host')
  .option('--seconds <s>', 'run time of each point', positive, 5)
  .option('--reps <n>', 'repetitions (interleaved)', positive, 3)
  .option('--smp <n>', 'guest vCPUs', positive, 2)
  .parse()
  .opts<{ seconds: number; reps: number; smp: number }>();

const prov = provision();
console.log(`nvme-wasm NVMe/TCP initiator benchmark: this driver vs the kernel's nvme-tcp (fio io_uring), both against nvmet-tcp on the guest's loopback (TCG, ${opts.smp} vCPUs), ${opts.reps} x ${opts.seconds} s per point`);
const result = await runInGuest({
  name: 'bench-nvmf-host',
  provisioned: prov,
  nvme: [{ namespaces: [{ lbaSize: 4096, sizeMiB: 64 }] }],
  iommu: true,
  smp: opts.smp,
  memMiB: 2048,
  hugepages: 128,
  script: `exec node dist/bench/nvmf-host-guest.js --seconds ${opts.seconds} --reps ${opts.reps} --out "$NVME_WASM_VM_SHARED/bench.json"`,
  timeoutMs: (240 + opts.reps * 12 * (opts.seconds + 30)) * 1000,
  onStdout: (s) => process.stdout.write(s),
  onStderr: (s) => process.stderr.write(s),
});
const outFile = path.join(PROJECT_DIR, 'bench/build/nvmf-host-bench-results.json');
const runs = guestRuns<HostBenchRun>(result, outFile, { opts });

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const med = (who: HostBenchRun['initiator'], qd: number) => {
  const ok = runs.filter((r) => r.initiator === who && r.qd === qd && r.error === undefined);
  return medians(ok);
};
console.log(`\nmedians over ${opts.reps} repetitions (boot ${result.bootSeconds}s, guest run ${result.seconds.toFixed(0)} s), 4 KiB random read, nvmet-tcp file namespace:`);
console.log(`${'QD'.padEnd(4)} ${'initiator'.padEnd(36)} ${'IOPS'.padStart(8)} ${'mean us'.padStart(9)} ${'p99 us'.padStart(9)}  runs`);
const names = {
  project: 'nvme-wasm (this driver, callback path)', polled: 'nvme-wasm, poll:1 (socket polled)', polledYield: 'nvme-wasm, poll:1, sched_yield', kernel: 'kernel nvme-tcp + fio io_uring',
  polledRps: 'nvme-wasm, poll:1, CPU 1, lo RPS 0x1', kernelRps: 'kernel nvme-tcp + fio, lo RPS 0x1',
} as const;
for (const qd of [1, 32]) {
  for (const who of ['project', 'polled', 'polledYield', 'kernel', 'polledRps', 'kernelRps'] as const) {
    const m = med(who, qd);
    console.log(`${String(qd).padEnd(4)} ${names[who].padEnd(36)} ${f(m.iops, 0).padStart(8)} ${f(m.meanUs).padStart(9)} ${f(m.p99Us).padStart(9)}  ${m.n}`);
  }
}
console.log('\nratios, nvme-wasm / kernel (medians):');
for (const who of ['project', 'polled', 'polledYield'] as const) {
  for (const qd of [1, 32]) {
    const p = med(who, qd);
    const k = med('kernel', qd);
    console.log(`  ${who === 'polled' ? 'poll:1 ' : who === 'polledYield' ? 'poll:1 + yield ' : ''}QD${qd}: IOPS ${f(p.iops / k.iops, 2)}  mean latency ${f(p.meanUs / k.meanUs, 2)}  p99 ${f(p.p99Us / k.p99Us, 2)}`);
  }
}
console.log('\nratios with the loopback\'s receive work on CPU 0 (bench/loopback-rps.ts), poll:1 bound to CPU 1 / kernel (medians):');
for (const qd of [1, 32]) {
  const p = med('polledRps', qd);
  const k = med('kernelRps', qd);
  console.log(`  QD${qd}: IOPS ${f(p.iops / k.iops, 2)}  mean latency ${f(p.meanUs / k.meanUs, 2)}  p99 ${f(p.p99Us / k.p99Us, 2)}`);
}
const errs = runs.filter((r) => r.error);
if (errs.length) console.log(`\nruns not counted: ${errs.map((r) => `rep ${r.rep} QD${r.qd} ${r.initiator}: ${r.error}`).join('; ')}`);
console.log(`\nall runs: ${path.relative(process.cwd(), outFile)}; guest console: ${result.consoleLog}`);
