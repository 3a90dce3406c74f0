// `nvme-wasm perf`: SPDK perf's flags and output on nvme-wasm's callback
// path. Text by default; --json writes one JSON document to stdout (the
// progress lines then go to stderr).
import { Command, Option } from 'commander';
import type { IoQueuePair } from '../../io-qpair.js';
import { InvalidArgumentError, ControllerError } from '../../errors.js';
import { addConnectOptions, openController, intArg, positiveNumberArg, toJson, type ConnectOptions } from '../options.js';
import { parseCoreMask, applyCoreMask, maskString } from '../core-mask.js';
import { PerfEngine, VERIFY_MAX_UNITS, type Workload } from './engine.js';
import { LatencyStats } from './stats.js';
import { formatProgress, formatSummary, formatPercentiles, formatHistogram, resultJson, type NsResult } from './format.js';

const WORKLOADS: Workload[] = ['read', 'write', 'randread', 'randwrite', 'rw', 'randrw'];

interface PerfOptions extends ConnectOptions {
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
    .option('-L, --enable-sw-latency-tracking', 'latency percentiles per namespace; -LL adds the histogram', (_v: string, prev: number) => prev + 1, 0)
    .option('-V, --verify', 'write a pattern carrying the LBA and a sequence number, check it on every read and read everything back at the end', false)
    .option('--json', 'print one JSON document (progress lines go to stderr)', false)
    .option('--no-shadow-doorbells', 'write every doorbell to the device, even when it offers shadow doorbells (Doorbell Buffer Config)');
  // -L is a flag that counts: make commander hand it to the parser.
  cmd.options.find((o) => o.long === '--enable-sw-latency-tracking')!.preset('');
  addConnectOptions(cmd);
  cmd.action(async (o: PerfOptions, self: Command) => {
    process.exitCode = await runPerf(o, self.getOptionValueSource('ioSize') === 'cli');
  });
  return cmd;
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

  const out = o.json ? process.stderr : process.stdout;
  const say = (s: string) => out.write(`${s}\n`);
  const simNs = (o.simConfig?.namespaces as unknown[] | undefined)?.length ?? 1;
  const nsGuess = !o.transport ? simNs : 8;
  const regionSize = Math.min(2 ** 30, Math.ceil((o.ioDepth * o.ioSize * nsGuess * 1.25 + 32 * 2 ** 20) / 2 ** 21) * 2 ** 21);

  say('Initializing NVMe Controllers');
  // The embedded simulator moves no data unless --verify needs it to.
  const ctrl = await openController(o, { nullIo: !o.verify }, { regionSize: Math.max(regionSize, 64 * 2 ** 20), shadowDoorbells: o.shadowDoorbells });
  const qps: IoQueuePair[] = [];
  let engine: PerfEngine | undefined;
  try {
    const d = ctrl.data;
    say(`Attached to NVMe Controller at ${ctrl.transport.description} [${d.vendorId.toString(16).padStart(4, '0')}:${d.subsystemVendorId.toString(16).padStart(4, '0')}]`);
    const maxQd = ctrl.maxQueueEntries - 1;
    if (o.ioDepth > maxQd) throw new InvalidArgumentError('-q, --io-depth', `at most ${maxQd} (CAP.MQES + 1 entries per queue, one kept empty)`, o.ioDepth);
    const namespaces = [...ctrl.namespaces.values()];
    if (namespaces.length === 0) throw new ControllerError('the controller has no active namespace', 'unsupported');
    if (namespaces.length > ctrl.maxQueuePairs) throw new ControllerError(`${namespaces.length} namespaces but only ${ctrl.maxQueuePairs} I/O queue pairs`, 'unsupported');
    for (const ns of namespaces) {
      if (o.ioSize % ns.blockSize !== 0) throw new InvalidArgumentError('-o, --io-size', `a multiple of namespace ${ns.id}'s ${ns.blockSize}-byte block size`, o.ioSize);
      if (o.ioSize > ctrl.maxTransfer) throw new InvalidArgumentError('-o, --io-size', `at most ${ctrl.maxTransfer} bytes (the controller's maximum transfer, MDTS)`, o.ioSize);
      if (o.ioSize > ns.capacityBytes) throw new InvalidArgumentError('-o, --io-size', `at most namespace ${ns.id}'s ${ns.capacityBytes} bytes`, o.ioSize);
    }
    let cores: number[] | undefined;
    if (o.coreMask) cores = applyCoreMask(o.coreMask);
    const from = cores ? ` from core ${cores.join(',')}` : '';
    engine = new PerfEngine(ctrl, {
      workload: o.ioPattern, readPct, queueDepth: o.ioDepth, ioSize: o.ioSize, seconds: o.time, verify: o.verify,
      onProgress: (p) => say(formatProgress(p)),
    });
    for (const ns of namespaces) {
      const qp = await ctrl.createQueuePair({ depth: Math.min(ctrl.maxQueueEntries, Math.max(o.ioDepth + 1, 2)) });
      qps.push(qp);
      engine.add(ns, qp);
      say(`Associating ${d.modelNumber} (${d.serialNumber}) NSID ${ns.id} with queue pair ${qp.qid}${from}`);
    }
    if (cores) say(`Core mask ${maskString(cores)}: polling thread bound to CPU ${cores.join(',')}`);
    say('Initialization complete. Launching workers.');
    const onSig = () => engine!.stop();
    process.once('SIGINT', onSig);
    try {
      await engine.run();
    } finally {
      process.off('SIGINT', onSig);
    }
    let readBack = 0;
    if (o.verify) readBack = await engine.readBackAll();

    const secs = engine.elapsedS;
    const rows: NsResult[] = engine.jobs.map((j) => {
      const ios = j.reads + j.writes;
      return {
        label: `${ctrl.transport.description} NSID ${j.ns.id}${from}`, nsid: j.ns.id, ios, reads: j.reads, writes: j.writes, errors: j.errors,
        iops: ios / secs, mibps: (ios * o.ioSize) / 2 ** 20 / secs, latency: j.latency,
      };
    });
    const totalLat = new LatencyStats();
    for (const r of rows) totalLat.merge(r.latency);
    const sum = (k: 'ios' | 'reads' | 'writes' | 'errors' | 'iops' | 'mibps') => rows.reduce((a, r) => a + r[k], 0);
    const total: NsResult = { label: 'Total', nsid: 0, ios: sum('ios'), reads: sum('reads'), writes: sum('writes'), errors: sum('errors'), iops: sum('iops'), mibps: sum('mibps'), latency: totalLat };
    const mismatches = engine.jobs.reduce((a, j) => a + j.mismatches, 0);
    const verify = o.verify
      ? {
          checkedReads: engine.jobs.reduce((a, j) => a + j.checked, 0),
          uncheckedReads: engine.jobs.reduce((a, j) => a + j.unchecked, 0),
          readBackUnits: readBack,
          mismatches,
          samples: engine.jobs.flatMap((j) => j.mismatchSamples),
        }
      : undefined;
    const errors = engine.jobs.filter((j) => j.firstError).map((j) => `NSID ${j.ns.id}: ${j.errors} I/O errors, first: ${j.firstError!.message}`);

    if (o.json) {
      process.stdout.write(`${toJson({
        config: { transport: ctrl.transport.description, ioDepth: o.ioDepth, ioSize: o.ioSize, workload: o.ioPattern, readPercent: readPct, seconds: o.time, elapsedSeconds: secs, coreMask: cores ? maskString(cores) : null, shmId: o.shmId ?? null, verify: o.verify, shadowDoorbells: ctrl.shadowDoorbells, doorbellWritesSkipped: ctrl.doorbellWritesSkipped },
        namespaces: rows.map((r) => resultJson(r, o.enableSwLatencyTracking)),
        total: resultJson(total, 0),
        ...(verify ? { verify } : {}),
        errors,
      })}\n`);
    } else {
      say(formatSummary(rows, total));
      if (ctrl.shadowDoorbells) say(`Shadow doorbells: on, ${ctrl.doorbellWritesSkipped} MMIO doorbell writes skipped`);
      if (o.enableSwLatencyTracking >= 1) for (const r of rows) say(formatPercentiles(r));
      if (o.enableSwLatencyTracking >= 2) for (const r of rows) say(formatHistogram(r));
      if (verify) {
        say('');
        say(`Verify: ${verify.checkedReads} reads checked during the run (${verify.uncheckedReads} of never-written blocks not checked), ${verify.readBackUnits} written I/O units read back: ${mismatches} mismatches`);
        for (const m of verify.samples) say(`  mismatch NSID ${m.nsid} LBA ${m.lba}: expected sequence ${m.expectedSeq}, found ${m.found}`);
        if (engine.jobs.some((j) => j.units === VERIFY_MAX_UNITS)) say(`  (verify covers the first ${VERIFY_MAX_UNITS} I/O units of each namespace)`);
      }
      for (const e of errors) say(`error: ${e}`);
    }
    return errors.length > 0 || mismatches > 0 ? 1 : 0;
  } finally {
    // Queue pairs first: a DMA buffer is freed only when no command can still write it.
    for (const qp of qps) await qp.delete().catch(() => {});
    engine?.free();
    await ctrl.close();
  }
}
