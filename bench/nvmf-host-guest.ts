// Guest side of `npm run bench:nvmf-host` (bench/nvmf-host.ts boots the guest
// and runs this): two initiators against one nvmet-tcp subsystem (a file
// on the guest's tmpfs, buffered), on the guest's loopback, 4 KiB random
// read at QD1 and QD32, repetitions interleaved (the first initiator
// alternates):
//   project: node dist/bench/nvmf-host-worker.js (this driver over NVMe/TCP,
//            the callback path, every I/O timed)
//   kernel:  nvme connect (nvme-tcp), fio io_uring O_DIRECT on the block device
//   polledRps, kernelRps: poll:1 bound to CPU 1 (--core-mask 0x2), and the
//            kernel, both with the loopback's receive work steered to CPU 0
//            (bench/loopback-rps.ts); off for the other rows
// Usage: node dist/bench/nvmf-host-guest.js --seconds 5 --reps 3 --out FILE
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { setLoopbackRps, RPS_MASK, POLLER_CORE_MASK } from './loopback-rps.js';
import { NvmetTarget, backingFile, connect, disconnect, perfArgs, perfFigures, run, type PerfJob } from '../test/vm/nvmf.js';

const o = new Command('nvmf-host-guest')
  .option('--seconds <s>', 'run time per point', '5')
  .option('--reps <n>', 'repetitions', '3')
  .requiredOption('--out <file>', 'results JSON')
  .parse()
  .opts<{ seconds: string; reps: string; out: string }>();
const seconds = Number(o.seconds);
const reps = Number(o.reps);
const NQN = 'nqn.2026-12.io.nvme-wasm:bench-host';
const PORT = 4420;
const TRID = `trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${PORT} subnqn:${NQN}`;

export interface HostBenchRun {
  rep: number;
  qd: number;
  initiator: 'project' | 'polled' | 'polledYield' | 'kernel' | 'polledRps' | 'kernelRps';
  iops?: number;
  meanUs?: number;
  p99Us?: number;
  error?: string;
}
const runs: HostBenchRun[] = [];
function record(r: HostBenchRun): void {
  runs.push(r);
  console.log(`rep ${r.rep}  QD${String(r.qd).padEnd(3)} ${r.initiator.padEnd(8)} ${r.error ? `not run: ${r.error}` : `${r.iops!.toFixed(0).padStart(8)} IOPS  mean ${r.meanUs!.toFixed(1).padStart(8)} us  p99 ${r.p99Us!.toFixed(1).padStart(8)} us`}`);
  fs.writeFileSync(o.out, JSON.stringify({ seconds, reps, runs }, null, 2));
}

const file = backingFile('/tmp/nvmf-bench/ns1.img', 512);
// Fill it so reads hit data the page cache holds (buffered_io), for both alike.
run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=512', 'conv=notrunc'], { timeoutMs: 120_000 });
const target = NvmetTarget.create({ port: { id: 1, trsvcid: PORT }, subsystems: [{ nqn: NQN, namespaces: [{ nsid: 1, devicePath: file }] }] });
try {
  for (let rep = 1; rep <= reps; rep++) {
    const all: Array<HostBenchRun['initiator']> = ['project', 'polled', 'polledYield', 'kernel', 'polledRps', 'kernelRps'];
    const order = rep % 2 === 1 ? all : [...all].reverse();
    for (const qd of [1, 32]) {
      for (const who of order) {
        setLoopbackRps(who === 'polledRps' || who === 'kernelRps' ? RPS_MASK : '0');
        if (who !== 'kernel' && who !== 'kernelRps') {
          const trid = who !== 'project' ? `${TRID} poll:1` : TRID;
          const env = who === 'polledYield' ? { ...process.env, NVME_WASM_FABRICS_YIELD: '1' } : process.env;
          const bind = who === 'polledRps' ? ['--core-mask', POLLER_CORE_MASK] : [];
          const r = spawnSync(process.execPath, ['dist/bench/nvmf-host-worker.js', '--trid', trid, '--qd', String(qd), '--seconds', String(seconds), ...bind], { encoding: 'utf8', env, timeout: (seconds + 60) * 1000 });
          const line = r.stdout.trim().split('\n').pop() ?? '';
          try {
            const f = JSON.parse(line) as { iops: number; meanUs: number; p99Us: number; errors: number };
            record({ rep, qd, initiator: who, iops: f.iops, meanUs: f.meanUs, p99Us: f.p99Us, ...(f.errors ? { error: `${f.errors} errors` } : {}) });
          } catch {
            record({ rep, qd, initiator: who, error: `worker exited ${r.status}: ${r.stderr.slice(-500)}` });
          }
        } else {
          const c = await connect({ nqn: NQN, port: PORT, nrIoQueues: 1 });
          try {
            const job: PerfJob = { filename: `/dev/${c.blockDevice}`, rw: 'randread', bs: '4k', iodepth: qd, seconds };
            const f = perfFigures(job, run('fio', [...perfArgs(job), '--ramp_time=1'], { allowFail: true, timeoutMs: (seconds + 60) * 1000 }));
            record({ rep, qd, initiator: who, iops: f.iops, meanUs: f.meanUs, p99Us: f.p99Us });
          } catch (e) {
            record({ rep, qd, initiator: who, error: (e as Error).message.slice(0, 300) });
          } finally {
            await disconnect(c.ctrl);
          }
        }
      }
    }
  }
} finally {
  setLoopbackRps('0');
  target.teardown();
}
