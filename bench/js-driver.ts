// One measured run of nvme-wasm against a simulated controller running in
// another process (so this process's CPU time is the driver's alone):
// random 4 KiB reads at queue depth QD on one queue pair, for SECONDS after
// a warm-up, through either path:
//   callback: submitRead + processCompletions() in a tight loop (what perf uses)
//   promise:  QD concurrent `await ns.read(lba, dmaBuf, { qpair })` loops
//   batch:    `await qp.readMany(ns, lbas, bufs)` loops, two of QD/2 reads
//             each (QD 1: one of 1), so at most QD are in flight
// Prints one JSON line with the same fields as bench/native/nvme-native.c.
// DEVICE `loopback:PID`: the simulator (process PID) creates the queue
// pair, then is stopped while bench/loopback.ts completes the I/O in this
// process (the in-process null device; see there).
//
//   node dist/bench/js-driver.js 'trtype:sim name:NAME' callback|promise QD SECONDS [WARMUP_S [DEVICE]]
import { Controller } from '../host/index.js';
import { Loopback } from './loopback.js';

const [trid, path, qdArg, secArg, warmArg, deviceArg] = process.argv.slice(2);
const qd = Number(qdArg);
const seconds = Number(secArg);
const warmup = Number(warmArg ?? 0.5);
const loopbackPid = deviceArg?.startsWith('loopback:') ? Number(deviceArg.slice('loopback:'.length)) : undefined;
if (!trid || (path !== 'callback' && path !== 'promise' && path !== 'batch') || !(qd >= 1) || !(seconds > 0) || (deviceArg !== undefined && !(loopbackPid! > 0))) {
  process.stderr.write('usage: js-driver TRID callback|promise|batch QD SECONDS [WARMUP_S [loopback:SIMPID]]\n');
  process.exit(2);
}

const cpuNs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

const ctrl = await Controller.open({ transport: trid });
const ns = ctrl.namespace(1);
const qp = await ctrl.createQueuePair({ depth: Math.min(ctrl.maxQueueEntries, qd + 1) });
const bufs = Array.from({ length: qd }, () => ctrl.allocDma(4096, { align: 4096 }));
const blocksPerIo = 4096 / ns.blockSize;
const units = Math.floor(ns.blocks / blocksPerIo);
let seed = 0x2545f491;
const randomLba = (): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return ((seed >>> 0) % units) * blocksPerIo;
};

let ios = 0;
let polls = 0;
let emptyPolls = 0;
let errors = 0;
let stopping = false;

// The in-process device: the simulator stops before the first I/O command.
let dev: Loopback | undefined;
if (loopbackPid !== undefined) {
  process.kill(loopbackPid, 'SIGSTOP');
  process.on('exit', () => process.kill(loopbackPid, 'SIGCONT'));
  // Stopped for real (state T) before the first doorbell: a simulator still
  // polling would take commands the loopback device takes too.
  const fs = await import('node:fs');
  while (!/^\S+ \(.*\) T/.test(fs.readFileSync(`/proc/${loopbackPid}/stat`, 'utf8'))) await new Promise((r) => setTimeout(r, 1));
  // The Promise path's poll rings first thing: the device takes what is posted, as it would at that doorbell.
  dev = new Loopback(ctrl.region.u8, qp.desc, path !== 'callback');
}

// Count polls (and the empty ones) on both paths: the Promise path's poller calls this method too.
const processCompletions = qp.processCompletions.bind(qp);
qp.processCompletions = dev !== undefined && path !== 'callback'
  ? (max?: number): number => {
    dev!.step();
    const n = processCompletions(max);
    polls++;
    if (n === 0) emptyPolls++;
    return n;
  }
  : (max?: number): number => {
    const n = processCompletions(max);
    polls++;
    if (n === 0) emptyPolls++;
    return n;
  };

let result: Record<string, unknown>;
if (path === 'callback') {
  let inflight = 0;
  const cbs = bufs.map((buf) => {
    const cb = (err: Error | null): void => {
      if (err) errors++;
      ios++;
      if (!stopping && qp.submitRead(ns, randomLba(), buf, cb)) return;
      inflight--;
    };
    return cb;
  });
  for (let i = 0; i < qd; i++) if (qp.submitRead(ns, randomLba(), bufs[i]!, cbs[i]!)) inflight++;
  // Same loop shape as the native driver: 256 polls between two clock reads.
  // Busy time as in the native driver: one clock read per poll; a poll
  // that reaps adds the time since the previous read to busyMs.
  // With the loopback device, it completes what the last poll rang before
  // the clock read that starts the next poll: its work is not busy time.
  let busyMs = 0;
  const spinLoopback = (untilMs: number): number => {
    const d = dev!;
    let t = 0;
    for (;;) {
      for (let k = 0; k < 256; k++) {
        d.step();
        t = performance.now();
        const n = qp.processCompletions();
        const t2 = performance.now();
        if (n > 0 && t2 - t < 0.1) busyMs += t2 - t;
        t = t2;
      }
      if (t >= untilMs) return t;
    }
  };
  const spinSim = (untilMs: number): number => {
    let t = performance.now();
    for (;;) {
      for (let k = 0; k < 256; k++) {
        const n = qp.processCompletions();
        const t2 = performance.now();
        if (n > 0 && t2 - t < 0.1) busyMs += t2 - t; // longer than 100 us: preempted, not driver work
        t = t2;
      }
      if (t >= untilMs) return t;
    }
  };
  const spin = dev !== undefined ? spinLoopback : spinSim;
  spin(performance.now() + warmup * 1000);
  ios = polls = emptyPolls = 0;
  busyMs = 0;
  const w0 = performance.now();
  const c0 = cpuNs();
  const w1 = spin(w0 + seconds * 1000);
  const c1 = cpuNs();
  const measured = { ios, polls, emptyPolls, busyNs: Math.round(busyMs * 1e6) };
  // One clock read: the least over 20 batches of 50,000 (as the native driver).
  let sink = 0;
  let clockNs = Infinity;
  for (let b = 0; b < 20; b++) {
    const k0 = performance.now();
    for (let k = 0; k < 50_000; k++) sink += performance.now();
    clockNs = Math.min(clockNs, ((performance.now() - k0) * 1e6) / 50_000 + (sink < 0 ? 1 : 0));
  }
  stopping = true;
  while (inflight > 0) {
    dev?.step();
    qp.processCompletions();
  }
  // The CPU cost of a poll that finds nothing (nothing in flight).
  const cal = 2_000_000;
  const e0 = cpuNs();
  for (let k = 0; k < cal; k++) processCompletions();
  const emptyPollNs = (cpuNs() - e0) / cal;
  result = { ...measured, wallNs: Math.round((w1 - w0) * 1e6), cpuNs: c1 - c0, emptyPollNs, clockNs };
} else {
  const batch = async (mine: typeof bufs): Promise<void> => {
    const lbas = new Array<number>(mine.length).fill(0);
    while (!stopping) {
      for (let i = 0; i < lbas.length; i++) lbas[i] = randomLba();
      try {
        await qp.readMany(ns, lbas, mine);
      } catch {
        errors++;
      }
      ios += mine.length;
    }
  };
  const worker = async (buf: (typeof bufs)[number]): Promise<void> => {
    while (!stopping) {
      try {
        await ns.read(randomLba(), buf, { qpair: qp });
      } catch {
        errors++;
      }
      ios++;
    }
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const half = qd >> 1;
  const all = path === 'promise' ? bufs.map((b) => worker(b)) : qd === 1 ? [batch(bufs)] : [batch(bufs.slice(0, half)), batch(bufs.slice(half))];
  await sleep(warmup * 1000);
  ios = polls = emptyPolls = 0;
  const w0 = performance.now();
  const c0 = cpuNs();
  await sleep(seconds * 1000);
  const c1 = cpuNs();
  const w1 = performance.now();
  const measured = { ios, polls, emptyPolls };
  stopping = true;
  await Promise.all(all);
  result = { ...measured, wallNs: Math.round((w1 - w0) * 1e6), cpuNs: c1 - c0, emptyPollNs: null, busyNs: null, clockNs: null };
}
const line = `${JSON.stringify({ driver: `nvme-wasm ${path}`, qd, queues: 1, ...result, errors })}\n`;
if (loopbackPid !== undefined) {
  // The simulator resumes to a queue it no longer knows the state of (the
  // device was this process meanwhile): the figures are out first, cleaning
  // up is best effort, and the next driver resets the controller anyway.
  process.kill(loopbackPid, 'SIGCONT');
  process.stdout.write(line, () => {
    setTimeout(() => process.exit(0), 5000).unref();
    void (async () => {
      try {
        await qp.delete();
      } catch {
        /* best effort */
      }
      for (const b of bufs) b.free();
      await ctrl.close().catch(() => {});
      process.exit(0);
    })();
  });
} else {
  await qp.delete();
  for (const b of bufs) b.free();
  await ctrl.close();
  process.stdout.write(line);
}
