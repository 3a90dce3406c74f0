// A/B: this build's driver against another checkout's, in ONE process,
// interleaved slice by slice, so both see the same machine at the same
// moment (this machine is shared and noisy; two runs minutes apart are not
// comparable, two slices milliseconds apart are).
//
//   npm run bench:ab -- --base ../other-checkout [--slices 40 --slice-ms 250 --qd 1,32 --device sim|loopback]
//
// --device loopback: both simulators stay stopped once the queue pairs
// exist, and each driver's I/O is completed by this build's in-process
// null device (bench/loopback.ts) on its queue pair: the same device for
// both builds, and one a loaded machine cannot starve (a simulator on the
// other CPU can be, and then both builds mostly wait).
//
// Each driver gets its own simulated controller (null I/O, its own process,
// started from its own checkout) and one queue pair. For each workload
// (callback QD n, Promise QD n: 4 KiB random reads) the slices alternate A
// B B A A B ...; a slice runs the workload for --slice-ms and records
// completions and this process's CPU time (only the running driver polls:
// the other has nothing in flight, and its simulator is stopped, SIGSTOP,
// so it does not spin on the other CPU meanwhile). Reported: per workload, the median over
// slices of IOPS and CPU ns per I/O for each build, and the median of the
// per-pair ratios new/base with its spread (quartiles).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { median, firstLine, benchPath } from './common.js';
import { Loopback } from './loopback.js';

const arg = (name: string, dflt?: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
};
const base = arg('base');
const slices = Number(arg('slices', '40'));
const sliceMs = Number(arg('slice-ms', '250'));
const qds = (arg('qd', '1,32') ?? '').split(',').map(Number);
const device = arg('device', 'sim');
if (!base || !(slices >= 2) || !(sliceMs > 0) || qds.some((q) => !(q >= 1 && q <= 512)) || (device !== 'sim' && device !== 'loopback')) {
  process.stderr.write('usage: npm run bench:ab -- --base DIR [--slices N --slice-ms MS --qd 1,32 --device sim|loopback]\n');
  process.exit(2);
}

interface Driver {
  label: string;
  run(path: 'callback' | 'promise', qd: number, ms: number): Promise<{ ios: number; cpuNs: number }>;
  close(): Promise<void>;
}

const cpuNs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/** A driver from the checkout at `root` (its dist/ built), on a simulator of its own. */
async function driver(label: string, root: string): Promise<Driver> {
  const name = `ab-${label}-${process.pid}`;
  const sim = spawn(process.execPath, [path.join(root, 'dist/host/sim/main.js'), '--config', JSON.stringify({ name, nullIo: true, namespaces: [{ lbaSize: 4096, blocks: 1 << 20 }] })], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => sim.kill('SIGTERM'));
  await firstLine(sim, `ready ${name}`);
  const api = (await import(pathToFileURL(path.join(root, 'dist/host/index.js')).href)) as typeof import('../host/index.js');
  const ctrl = await api.Controller.open({ transport: `trtype:sim name:${name}` });
  process.on('exit', () => sim.kill('SIGCONT'));
  const ns = ctrl.namespace(1);
  const qp = await ctrl.createQueuePair({ depth: Math.min(ctrl.maxQueueEntries, Math.max(...qds) + 1) });
  const bufs = Array.from({ length: Math.max(...qds) }, () => ctrl.allocDma(4096, { align: 4096 }));
  let seed = 0x2545f491;
  const lba = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % ns.blocks;
  };
  sim.kill('SIGSTOP'); // until its driver's first slice
  // The loopback device: the simulator stays stopped; the Promise path's poll steps it first thing.
  let dev: Loopback | undefined;
  if (device === 'loopback') {
    // Stopped for real (state T) before the first doorbell.
    while (!/^\S+ \(.*\) T/.test(fs.readFileSync(`/proc/${sim.pid}/stat`, 'utf8'))) await new Promise((r) => setTimeout(r, 1));
    const region = (ctrl as unknown as { region: { u8: Uint8Array } }).region.u8;
    const lb = new Loopback(region, qp.desc, true);
    dev = lb;
    const pc = qp.processCompletions.bind(qp);
    qp.processCompletions = (max?: number): number => {
      lb.step();
      return pc(max);
    };
  }
  return {
    label,
    async run(p, qd, ms) {
      if (dev) return work(p, qd, ms);
      sim.kill('SIGCONT'); // only the running driver's simulator runs: an idle one would spin on the other CPU
      try {
        return await work(p, qd, ms);
      } finally {
        sim.kill('SIGSTOP');
      }
    },
    async close() {
      sim.kill('SIGCONT');
      if (!dev) {
        await qp.delete();
        for (const b of bufs) b.free();
        await ctrl.close();
      } // loopback: the simulator no longer knows its queue's state; it just goes
      sim.kill('SIGTERM');
    },
  };
  async function work(p: 'callback' | 'promise', qd: number, ms: number): Promise<{ ios: number; cpuNs: number }> {
    {
      let ios = 0;
      let stop = false;
      const c0 = cpuNs();
      const t0 = performance.now();
      if (p === 'callback') {
        let inflight = 0;
        const cbs = bufs.slice(0, qd).map((buf) => {
          const cb = (): void => {
            ios++;
            if (!stop && qp.submitRead(ns, lba(), buf, cb)) return;
            inflight--;
          };
          return cb;
        });
        for (let i = 0; i < qd; i++) if (qp.submitRead(ns, lba(), bufs[i]!, cbs[i]!)) inflight++;
        while (performance.now() - t0 < ms) for (let k = 0; k < 64; k++) qp.processCompletions();
        stop = true;
        const c1 = cpuNs();
        while (inflight > 0) qp.processCompletions();
        return { ios, cpuNs: c1 - c0 };
      }
      const worker = async (buf: (typeof bufs)[number]): Promise<void> => {
        while (!stop) {
          await ns.read(lba(), buf, { qpair: qp });
          ios++;
        }
      };
      const all = bufs.slice(0, qd).map(worker);
      await new Promise((r) => setTimeout(r, ms));
      stop = true;
      const c1 = cpuNs();
      const n = ios;
      await Promise.all(all);
      return { ios: n, cpuNs: c1 - c0 };
    }
  }
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

const root = path.resolve(benchPath('../..'));
const A = await driver('base', path.resolve(base));
const B = await driver('new', root);
process.stdout.write(`A/B in one process: base ${path.resolve(base)} vs new ${root}; ${slices} slices of ${sliceMs} ms per workload, alternating; 4 KiB random reads, ${device === 'loopback' ? 'in-process loopback null device' : 'null-I/O simulators'}\n`);
process.stdout.write(`${'workload'.padEnd(14)} ${'base IOPS'.padStart(10)} ${'new IOPS'.padStart(10)} ${'base ns/IO'.padStart(11)} ${'new ns/IO'.padStart(10)}   new/base CPU ns/IO: median [quartiles]\n`);
for (const p of ['callback', 'promise'] as const) {
  for (const qd of qds) {
    await A.run(p, qd, sliceMs); // warm-up
    await B.run(p, qd, sliceMs);
    const r: Record<string, { iops: number[]; ns: number[] }> = { base: { iops: [], ns: [] }, new: { iops: [], ns: [] } };
    const ratios: number[] = [];
    for (let s = 0; s < slices; s++) {
      const order = s % 2 === 0 ? [A, B] : [B, A];
      const got: Record<string, number> = {};
      for (const d of order) {
        const x = await d.run(p, qd, sliceMs);
        r[d.label]!.iops.push((x.ios / sliceMs) * 1000);
        r[d.label]!.ns.push(x.cpuNs / Math.max(1, x.ios));
        got[d.label] = x.cpuNs / Math.max(1, x.ios);
      }
      ratios.push(got.new! / got.base!);
    }
    const f = (x: number) => x.toFixed(0);
    process.stdout.write(`${`${p} QD ${qd}`.padEnd(14)} ${f(median(r.base!.iops)).padStart(10)} ${f(median(r.new!.iops)).padStart(10)} ${f(median(r.base!.ns)).padStart(11)} ${f(median(r.new!.ns)).padStart(10)}   ${median(ratios).toFixed(3)} [${q(ratios, 0.25).toFixed(3)} ${q(ratios, 0.75).toFixed(3)}]\n`);
  }
}
await A.close();
await B.close();
process.exit(0);
