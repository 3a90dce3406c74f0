// `nvme-wasm perf`: SPDK perf's flags and output on nvme-wasm's callback
// path. Text by default; --json writes one JSON document to stdout. Progress
// goes to stderr (progress.ts): in place on a terminal, one line a second
// when piped, none with --json unless stderr is a terminal.
//
// Several -r run together, as in SPDK perf: every controller is opened,
// each namespace gets its own queue pair and its own row, all are polled by
// the one thread, and the Total row adds them up. 'ns:N' in a transport ID
// (or --nsid) runs on that namespace alone.
//
// The memory region is sized from the controller opened: perf opens it
// with the driver's default region, checks -q against CAP.MQES and -o
// against MDTS and the block size, then, if the queue pairs and buffers it
// needs do not fit, closes it and opens it again with a region that fits.
// An -o above MDTS is refused (SPDK's driver splits such I/O into child
// commands; the callback path sends one command per I/O, so the figures
// would not be those of the size asked for).
import { Command, Option } from 'commander';
import type { Controller } from '../../controller.js';
import type { Namespace } from '../../namespace.js';
import type { IoQueuePair } from '../../io-qpair.js';
import { InvalidArgumentError, ControllerError, ResourceError } from '../../errors.js';
import { parseTridEntry } from '../../trid.js';
import { addConnectOptions, openController, intArg, positiveNumberArg, toJson, type ConnectOptions } from '../options.js';
import { parseCoreMask, applyCoreMask, maskString } from '../core-mask.js';
import { PerfEngine, VERIFY_MAX_UNITS, type Workload } from './engine.js';
import { LatencyStats } from './stats.js';
import { formatSummary, formatPercentiles, formatHistogram, formatHistogramChart, resultJson, type NsResult } from './format.js';
import { ProgressReporter, progressMode } from './progress.js';
import { packageVersion } from '../version.js';

const WORKLOADS: Workload[] = ['read', 'write', 'randread', 'randwrite', 'rw', 'randrw'];

interface PerfOptions extends Omit<ConnectOptions, 'transport'> {
  /** Every -r given, in order. */
  transport?: string[];
  nsid?: number;
  ioDepth: number;
  ioSize: number;
  size?: number;
  ioPattern: Workload;
  rwmixread?: number;
  time: number;
  coreMask?: number[];
  enableSwLatencyTracking: number;
  json: boolean;
  verify: boolean;
  shadowDoorbells: boolean;
}

/** Exit status of a run Ctrl-C stopped (128 + SIGINT), as a shell reports it. */
export const EXIT_INTERRUPTED = 130;

export function perfCommand(): Command {
  const cmd = new Command('perf')
    .description('measure I/O performance like SPDK perf: queue depth, I/O size, workload, duration; per-namespace and total IOPS, MiB/s, latency')
    .option('-q, --io-depth <n>', 'commands in flight per namespace (1 .. the queue limit)', intArg(1, 65535), 32)
    .option('-o, --io-size <bytes>', 'I/O size in bytes: a multiple of the block size, at most the maximum transfer (MDTS)', intArg(512, 64 * 2 ** 20), 4096)
    .option('-s, --size <bytes>', 'same as -o', intArg(512, 64 * 2 ** 20))
    .addOption(new Option('-w, --io-pattern <pattern>', 'workload').choices(WORKLOADS).default('randread'))
    .option('-M, --rwmixread <percent>', 'percentage of reads in rw / randrw (default 50)', intArg(0, 100))
    .option('-t, --time <seconds>', 'run time in seconds (decimals allowed)', positiveNumberArg(0.1, 86400), 5)
    .option('-c, --core-mask <mask>', "CPUs for the polling thread: a hex mask like 0x1 or a list like '[0,2-3]'", parseCoreMask)
    .option('-n, --nsid <nsid>', "run on this namespace only, on every controller (as 'ns:N' in -r does for one; default: every active namespace)", intArg(1, 0xfffffffe))
    .option('-L, --enable-sw-latency-tracking', 'latency percentiles per namespace; -LL adds the histogram, listed and charted', (_v: string, prev: number) => prev + 1, 0)
    .option('-V, --verify', 'write a pattern carrying the LBA and a sequence number, check it on every read and read everything back at the end', false)
    .option('--json', 'print one JSON document on stdout (progress on stderr only when it is a terminal)', false)
    .option('--no-shadow-doorbells', 'write every doorbell to the device, even when it offers shadow doorbells (Doorbell Buffer Config)');
  // -L is a flag that counts: make commander hand it to the parser.
  cmd.options.find((o) => o.long === '--enable-sw-latency-tracking')!.preset('');
  addConnectOptions(cmd);
  // -r may be given several times (SPDK perf): keep them all, never only the last.
  const r = cmd.options.find((o) => o.long === '--transport')!;
  r.description += "; give -r once per controller to run on several at once; 'ns:N' at the end chooses one namespace";
  r.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  cmd.action(async (o: PerfOptions, self: Command) => {
    process.exitCode = await runPerf(o, self.getOptionValueSource('ioSize') === 'cli');
  });
  return cmd;
}

/** One controller to open: its transport ID and the namespaces chosen on it ('all': every active one). */
interface Target {
  trid: string;
  nsids: number[] | 'all';
}

/** The -r list (default: the embedded simulated controller) as controllers, each once, with their namespaces. */
function targets(o: PerfOptions): Target[] {
  const out: Target[] = [];
  for (const text of o.transport ?? ['']) {
    const e = parseTridEntry(text);
    if (e.nsid !== undefined && o.nsid !== undefined && e.nsid !== o.nsid) {
      throw new InvalidArgumentError('-n, --nsid', `the namespace the transport ID names (ns:${e.nsid}), or no --nsid`, o.nsid);
    }
    const nsid = e.nsid ?? o.nsid;
    const embedded = e.trid === '' || e.trid === 'embedded';
    // The same controller named twice (two namespaces of it): open it once. Each embedded one is its own.
    const same = embedded ? undefined : out.find((t) => t.trid === e.trid);
    if (!same) out.push({ trid: e.trid, nsids: nsid === undefined ? 'all' : [nsid] });
    else if (same.nsids !== 'all') same.nsids = nsid === undefined ? 'all' : [...new Set([...same.nsids, nsid])];
  }
  return out;
}

const PAGE = 4096;
const MIB = 2 ** 20;
const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;
/** The driver's default region (ControllerOptions.regionSize). */
const DEFAULT_REGION = 64 * MIB;
/** The largest region the core addresses (REGION_MAX_SIZE). */
const MAX_REGION = 0x7fe00000;

/** DMA memory perf allocates for `nsCount` namespaces: the I/O buffers, then each queue pair's rings. */
function dmaNeeded(nsCount: number, qd: number, ioSize: number, entries: number): number {
  return nsCount * (qd * roundUp(ioSize, PAGE) + roundUp(entries * 64, PAGE) + roundUp(entries * 16, PAGE) + PAGE);
}

interface Opened {
  ctrl: Controller;
  namespaces: Namespace[];
}

/**
 * Open the controller `t` names, check the run fits it (-q, -o, the
 * namespaces), and make sure its region holds what perf allocates: if not,
 * open it again with a region that does.
 */
async function openTarget(o: PerfOptions, t: Target, say: (s: string) => void): Promise<Opened> {
  const connect: ConnectOptions = { ...o, transport: t.trid };
  const extra = { shadowDoorbells: o.shadowDoorbells };
  // The embedded simulator moves no data unless --verify needs it to.
  const sim = { nullIo: !o.verify };
  let ctrl = await openController(connect, sim, { ...extra, regionSize: DEFAULT_REGION });
  try {
    const d = ctrl.data;
    say(`Attached to NVMe Controller at ${ctrl.transport.description} [${d.vendorId.toString(16).padStart(4, '0')}:${d.subsystemVendorId.toString(16).padStart(4, '0')}]`);
    for (let attempt = 0; ; attempt++) {
      const namespaces = check(o, ctrl, t);
      const need = dmaNeeded(namespaces.length, o.ioDepth, o.ioSize, queueEntries(o, ctrl));
      const margin = 2 * MIB + need / 16;
      const free = ctrl.region.freeBytes();
      if (need + margin <= free) return { ctrl, namespaces };
      const what = `${namespaces.length} namespace${namespaces.length > 1 ? 's' : ''} x -q ${o.ioDepth} x -o ${o.ioSize}`;
      const size = roundUp(ctrl.region.size + need + margin - free, 2 * MIB);
      if (size > MAX_REGION) {
        throw new ResourceError(`perf needs ${(need / MIB).toFixed(1)} MiB of DMA memory for ${what} on ${ctrl.transport.description}, more than a region holds (${MAX_REGION / MIB} MiB): lower -q or -o, or choose fewer namespaces (ns:N)`, 'dma');
      }
      // A group's region is its first process's: perf may size it again only while it is alone in it.
      const alone = o.shmId === undefined || (ctrl.isPrimary && ctrl.groupStats().processes.length === 1);
      if (!alone || attempt > 0) {
        throw new ResourceError(`perf needs ${(need / MIB).toFixed(1)} MiB of DMA memory for ${what}, and ${o.shmId !== undefined ? `group ${o.shmId}'s region` : 'the region'} has ${(free / MIB).toFixed(1)} MiB free${o.shmId !== undefined ? ' (sized by the process that created the group)' : ''}: lower -q or -o`, 'dma');
      }
      await ctrl.close();
      ctrl = await openController(connect, sim, { ...extra, regionSize: size });
    }
  } catch (e) {
    await ctrl.close().catch(() => {});
    throw e;
  }
}

/** Entries per ring: room for -q commands (one entry is kept empty). */
function queueEntries(o: PerfOptions, ctrl: Controller): number {
  return Math.min(ctrl.maxQueueEntries, Math.max(o.ioDepth + 1, 2));
}

/** The namespaces to run on, after checking -q, -o and the namespace choice against the controller. */
function check(o: PerfOptions, ctrl: Controller, t: Target): Namespace[] {
  const where = ctrl.transport.description;
  const maxQd = ctrl.maxQueueEntries - 1;
  if (o.ioDepth > maxQd) throw new InvalidArgumentError('-q, --io-depth', `at most ${maxQd} (CAP.MQES + 1 entries per queue, one kept empty)`, o.ioDepth);
  if (o.ioSize > ctrl.maxTransfer) throw new InvalidArgumentError('-o, --io-size', `at most ${ctrl.maxTransfer} bytes (the controller's maximum transfer, MDTS)`, o.ioSize);
  const active = [...ctrl.namespaces.values()];
  if (active.length === 0) throw new ControllerError(`${where} has no active namespace`, 'unsupported');
  let namespaces = active;
  if (t.nsids !== 'all') {
    const list = active.map((n) => n.id).join(', ');
    namespaces = t.nsids.map((id) => {
      const ns = ctrl.namespaces.get(id);
      if (!ns) throw new InvalidArgumentError('namespace (ns:N in -r, or --nsid)', `an active namespace of ${where} (${list})`, id);
      return ns;
    });
  }
  if (namespaces.length > ctrl.maxQueuePairs) {
    throw new ControllerError(`${namespaces.length} namespaces on ${where} but only ${ctrl.maxQueuePairs} I/O queue pairs: choose fewer (ns:N)`, 'unsupported');
  }
  for (const ns of namespaces) {
    if (o.ioSize % ns.blockSize !== 0) throw new InvalidArgumentError('-o, --io-size', `a multiple of namespace ${ns.id}'s ${ns.blockSize}-byte block size`, o.ioSize);
    if (o.ioSize > ns.capacityBytes) throw new InvalidArgumentError('-o, --io-size', `at most namespace ${ns.id}'s ${ns.capacityBytes} bytes`, o.ioSize);
  }
  return namespaces;
}


async function runPerf(o: PerfOptions, ioSizeGiven: boolean): Promise<number> {
  // Checks that need no device come first: they fail fast.
  if (o.size !== undefined) {
    if (ioSizeGiven && o.ioSize !== o.size) throw new InvalidArgumentError('-s, --size', `the same value as -o (${o.ioSize}) when both are given`, o.size);
    o.ioSize = o.size;
  }
  const mixed = o.ioPattern === 'rw' || o.ioPattern === 'randrw';
  if (o.rwmixread !== undefined && !mixed) throw new InvalidArgumentError('-M, --rwmixread', "a workload of 'rw' or 'randrw' (-w)", o.rwmixread);
  const readPct = mixed ? (o.rwmixread ?? 50) : o.ioPattern.endsWith('read') ? 100 : 0;
  if (o.verify && readPct === 100) throw new InvalidArgumentError('-V, --verify', "a workload that writes (-w write, randwrite, rw or randrw): reads are checked against what this run wrote", o.ioPattern);
  const list = targets(o);
  if (list.length > 1 && o.shmId !== undefined) {
    throw new InvalidArgumentError('-i, --shm-id', `one controller (-r given once): a group shares one controller, and ${list.length} were given`, o.shmId);
  }

  const out = o.json ? process.stderr : process.stdout;
  const say = (s: string) => out.write(`${s}\n`);
  say('Initializing NVMe Controllers');
  const opened: Opened[] = [];
  const qps: IoQueuePair[] = [];
  let engine: PerfEngine | undefined;
  const progress = new ProgressReporter(process.stderr, progressMode(process.stderr, o.json), o.time);
  const onSig = (): void => {
    if (engine && !engine.interrupted && !engine.done) return engine.stop();
    // A second Ctrl-C, or one after the run: the default action, as if perf had no handler
    // (the terminal's cursor given back first).
    progress.stop();
    process.off('SIGINT', onSig);
    process.kill(process.pid, 'SIGINT');
  };
  try {
    for (const t of list) opened.push(await openTarget(o, t, say));
    let cores: number[] | undefined;
    if (o.coreMask) cores = applyCoreMask(o.coreMask);
    const from = cores ? ` from core ${cores.join(',')}` : '';
    engine = new PerfEngine({
      workload: o.ioPattern, readPct, queueDepth: o.ioDepth, ioSize: o.ioSize, seconds: o.time, verify: o.verify,
      onProgress: (p) => progress.report(p),
      onTick: (s) => progress.tick(s),
    });
    for (const { ctrl, namespaces } of opened) {
      const d = ctrl.data;
      for (const ns of namespaces) {
        const qp = await ctrl.createQueuePair({ depth: queueEntries(o, ctrl) });
        qps.push(qp);
        engine.add(ctrl, ns, qp);
        say(`Associating ${d.modelNumber} (${d.serialNumber}) NSID ${ns.id} with queue pair ${qp.qid}${from}`);
      }
    }
    if (cores) say(`Core mask ${maskString(cores)}: polling thread bound to CPU ${cores.join(',')}`);
    say('Initialization complete. Launching workers.');
    // Ctrl-C: stop, then print the summary of the time run, marked interrupted (exit 130).
    process.on('SIGINT', onSig);
    progress.start();
    try {
      await engine.run();
    } finally {
      progress.stop();
    }
    let readBack = 0;
    if (o.verify && !engine.interrupted) readBack = await engine.readBackAll();
    engine.done = true;
    const interrupted = engine.interrupted;

    const secs = engine.elapsedS;
    const rows: NsResult[] = engine.jobs.map((j) => {
      const ios = j.reads + j.writes;
      return {
        label: `${j.ctrl.transport.description} NSID ${j.ns.id}${from}`, nsid: j.ns.id, ios, reads: j.reads, writes: j.writes, errors: j.errors,
        iops: ios / secs, mibps: (ios * o.ioSize) / MIB / secs, latency: j.latency, readLatency: j.readLatency, writeLatency: j.writeLatency,
        ioSize: o.ioSize, seconds: secs,
      };
    });
    const merged = (k: 'latency' | 'readLatency' | 'writeLatency') => {
      const l = new LatencyStats();
      for (const r of rows) l.merge(r[k]);
      return l;
    };
    const sum = (k: 'ios' | 'reads' | 'writes' | 'errors' | 'iops' | 'mibps') => rows.reduce((a, r) => a + r[k], 0);
    const total: NsResult = {
      label: 'Total', nsid: 0, ios: sum('ios'), reads: sum('reads'), writes: sum('writes'), errors: sum('errors'), iops: sum('iops'), mibps: sum('mibps'),
      latency: merged('latency'), readLatency: merged('readLatency'), writeLatency: merged('writeLatency'), ioSize: o.ioSize, seconds: secs,
    };
    const mismatches = engine.jobs.reduce((a, j) => a + j.mismatches, 0);
    const verify = o.verify
      ? {
          checkedReads: engine.jobs.reduce((a, j) => a + j.checked, 0),
          uncheckedReads: engine.jobs.reduce((a, j) => a + j.unchecked, 0),
          readBackUnits: readBack,
          readBackComplete: !interrupted,
          mismatches,
          samples: engine.jobs.flatMap((j) => j.mismatchSamples),
        }
      : undefined;
    const errors = engine.jobs.filter((j) => j.firstError).map((j) => `${j.ctrl.transport.description} NSID ${j.ns.id}: ${j.errors} I/O errors, first: ${j.firstError!.message}`);
    const ctrls = opened.map((x) => x.ctrl);
    const now = new Date();

    if (o.json) {
      process.stdout.write(`${toJson({
        version: packageVersion(),
        timestamp: Math.floor(now.getTime() / 1000),
        timestampMs: now.getTime(),
        time: now.toISOString(),
        interrupted,
        config: {
          transport: ctrls.map((c) => c.transport.description).join(', '), transports: ctrls.map((c) => c.transport.description),
          ioDepth: o.ioDepth, ioSize: o.ioSize, workload: o.ioPattern, readPercent: readPct, seconds: o.time, elapsedSeconds: secs,
          coreMask: cores ? maskString(cores) : null, shmId: o.shmId ?? null, verify: o.verify,
          shadowDoorbells: ctrls.some((c) => c.shadowDoorbells), doorbellWritesSkipped: ctrls.reduce((a, c) => a + c.doorbellWritesSkipped, 0),
        },
        namespaces: rows.map((r) => resultJson(r, o.enableSwLatencyTracking)),
        total: resultJson(total, 0),
        ...(verify ? { verify } : {}),
        errors,
      })}\n`);
    } else {
      if (interrupted) say(`perf interrupted (Ctrl-C) after ${secs.toFixed(2)} of ${o.time} s: the figures cover the time run${o.verify ? '; read-back skipped' : ''}`);
      say(formatSummary(rows, total));
      for (const c of ctrls) if (c.shadowDoorbells) say(`Shadow doorbells${ctrls.length > 1 ? ` (${c.transport.description})` : ''}: on, ${c.doorbellWritesSkipped} MMIO doorbell writes skipped`);
      if (o.enableSwLatencyTracking >= 1) for (const r of rows) say(formatPercentiles(r));
      if (o.enableSwLatencyTracking >= 2) {
        for (const r of rows) say(formatHistogram(r));
        // The chart last: what stays on the screen.
        for (const r of rows) say(formatHistogramChart(r));
      }
      if (verify) {
        say('');
        say(`Verify: ${verify.checkedReads} reads checked during the run (${verify.uncheckedReads} of never-written blocks not checked), ${verify.readBackUnits} written I/O units read back${interrupted ? ' (read-back skipped or cut short: interrupted)' : ''}: ${mismatches} mismatches`);
        for (const m of verify.samples) say(`  mismatch NSID ${m.nsid} LBA ${m.lba}: expected sequence ${m.expectedSeq}, found ${m.found}`);
        if (engine.jobs.some((j) => j.units === VERIFY_MAX_UNITS)) say(`  (verify covers the first ${VERIFY_MAX_UNITS} I/O units of each namespace)`);
      }
      for (const e of errors) say(`error: ${e}`);
    }
    if (interrupted) return EXIT_INTERRUPTED;
    return errors.length > 0 || mismatches > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSig);
    progress.stop();
    // Queue pairs first: a DMA buffer is freed only when no command can still write it.
    for (const qp of qps) await qp.delete().catch(() => {});
    engine?.free();
    for (const { ctrl } of opened) await ctrl.close();
  }
}
