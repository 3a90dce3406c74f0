// Live statistics: reading the per-queue-pair stats blocks (abi/stats.ts)
// and descriptor counters of every member of a group, as a snapshot a tool
// prints (`nvme-wasm stats`) or compares with the previous one (`nvme-wasm
// top`). The writing side is the core's poll and LatencySampler (host/latency-sampler.ts): plain stores by
// the owning process, so what is read here may be one command behind.
import { HIST_BUCKETS as ST_HIST_BUCKETS, readStatsBlock, type CommandCounters } from './layout/stats-block.js';
export type { CommandCounters };
import type { ControllerBlock } from './layout/ctrl-block.js';

/**
 * What the statistics are read from: a member's mapped region (host/group.ts)
 * or a read-only monitor's copy of the pages it needs (host/monitor.ts).
 */
export interface StatsSource {
  /** The region's bytes (offsets are region offsets). */
  readonly dv: DataView;
  readonly ctrl: ControllerBlock;
  primarySlot(): number;
  liveSlots(): number[];
  procPid(slot: number): number;
}

export interface LatencySummary {
  /**
   * Commands the figures stand for: each timed command counts for the
   * commands since the previous timed one, so this follows the commands
   * completed, and the histogram and percentiles are those of every command.
   */
  count: number;
  /** Commands actually timed (counted in `latency` only: 0 in readLatency and writeLatency). */
  samples: number;
  meanUs: number;
  /** Upper bounds (us) of the histogram buckets holding the 50th / 99th percentile. */
  p50Us: number;
  p99Us: number;
  /** Counts per bucket: [0] below 1 us, [b] from 2^(b-1) to 2^b us. */
  buckets: number[];
}

export interface QueuePairCounters extends CommandCounters {
  /** Every command's latency (Reads, Writes and the rest). */
  latency: LatencySummary;
  /** Reads' latency alone. */
  readLatency: LatencySummary;
  /** Writes' latency alone. */
  writeLatency: LatencySummary;
}

export interface QueuePairSnapshot extends QueuePairCounters {
  qid: number;
}

export interface ProcessSnapshot {
  slot: number;
  pid: number;
  role: 'primary' | 'secondary';
  /** Sums over the process's queue pairs. */
  totals: QueuePairCounters;
  qpairs: QueuePairSnapshot[];
}

export interface GroupStats {
  /** Date.now() of the snapshot. */
  time: number;
  processes: ProcessSnapshot[];
}

/** Upper bound in microseconds of histogram bucket `b` (the last one is open-ended). */
export function bucketLimitUs(b: number): number {
  return b === 0 ? 1 : 2 ** b;
}

/** Histogram bucket of a latency of `us` microseconds: 0 below 1 us, else floor(log2(us)) + 1, capped. */
export function latencyBucket(us: number): number {
  const b = 32 - Math.clz32(us);
  return b < ST_HIST_BUCKETS ? b : ST_HIST_BUCKETS - 1;
}

export function summariseLatency(buckets: number[], sumUs: number, count: number, samples: number): LatencySummary {
  const pct = (p: number): number => {
    if (count === 0) return 0;
    const want = Math.ceil(count * p);
    let seen = 0;
    for (let b = 0; b < buckets.length; b++) {
      seen += buckets[b]!;
      if (seen >= want) return bucketLimitUs(b);
    }
    return bucketLimitUs(buckets.length - 1);
  };
  return { count, samples, meanUs: count ? sumUs / count : 0, p50Us: pct(0.5), p99Us: pct(0.99), buckets };
}

const emptyLatency = (): LatencySummary => summariseLatency(new Array<number>(ST_HIST_BUCKETS).fill(0), 0, 0, 0);

/** All zero: what a process or queue pair new since the previous snapshot counts from. */
export function emptyCounters(): QueuePairCounters {
  return {
    submitted: 0, completed: 0, errors: 0, timeouts: 0, reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0,
    latency: emptyLatency(), readLatency: emptyLatency(), writeLatency: emptyLatency(),
  };
}

/** a + b (from the merged histograms). */
function addLatency(a: LatencySummary, b: LatencySummary): LatencySummary {
  const buckets = a.buckets.map((x, i) => x + (b.buckets[i] ?? 0));
  return summariseLatency(buckets, a.meanUs * a.count + b.meanUs * b.count, a.count + b.count, a.samples + b.samples);
}

/** b - a: the commands between two snapshots. */
function diffLatency(b: LatencySummary, a: LatencySummary): LatencySummary {
  const buckets = b.buckets.map((x, i) => Math.max(0, x - (a.buckets[i] ?? 0)));
  const sum = b.meanUs * b.count - a.meanUs * a.count;
  return summariseLatency(buckets, Math.max(0, sum), Math.max(0, b.count - a.count), Math.max(0, b.samples - a.samples));
}

/** a + b, field by field (latency from the merged histograms). */
export function addCounters(a: QueuePairCounters, b: QueuePairCounters): QueuePairCounters {
  return {
    submitted: a.submitted + b.submitted, completed: a.completed + b.completed, errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts, reads: a.reads + b.reads, writes: a.writes + b.writes,
    bytesRead: a.bytesRead + b.bytesRead, bytesWritten: a.bytesWritten + b.bytesWritten,
    latency: addLatency(a.latency, b.latency), readLatency: addLatency(a.readLatency, b.readLatency), writeLatency: addLatency(a.writeLatency, b.writeLatency),
  };
}

/** b - a, field by field (what happened between two snapshots; u32 descriptor counters wrap). */
export function diffCounters(b: QueuePairCounters, a: QueuePairCounters): QueuePairCounters {
  const u32 = (x: number, y: number) => (x - y) >>> 0;
  return {
    submitted: u32(b.submitted, a.submitted), completed: u32(b.completed, a.completed), errors: b.errors - a.errors,
    timeouts: b.timeouts - a.timeouts, reads: b.reads - a.reads, writes: b.writes - a.writes,
    bytesRead: b.bytesRead - a.bytesRead, bytesWritten: b.bytesWritten - a.bytesWritten,
    latency: diffLatency(b.latency, a.latency), readLatency: diffLatency(b.readLatency, a.readLatency), writeLatency: diffLatency(b.writeLatency, a.writeLatency),
  };
}

/** Commands submitted and not yet completed (u32 descriptor counters wrap). */
export function outstanding(c: CommandCounters): number {
  return (c.submitted - c.completed) >>> 0;
}

/** The snapshot of I/O queue pair `qid` (owned by `owner`), if its stats block can be trusted now. */
function readQueuePair(src: StatsSource, qid: number, owner: number): QueuePairSnapshot | undefined {
  const b = readStatsBlock(src.dv, src.ctrl, qid, owner);
  if (!b) return undefined;
  return {
    qid, submitted: b.submitted, completed: b.completed, errors: b.errors, timeouts: b.timeouts, reads: b.reads, writes: b.writes,
    bytesRead: b.bytesRead, bytesWritten: b.bytesWritten, latency: summariseLatency(b.buckets, b.latSumUs, b.latCount, b.latSamples),
    // The timed commands are counted for all directions together only (samples 0 here).
    readLatency: summariseLatency(b.read.buckets, b.read.latSumUs, b.read.latCount, 0),
    writeLatency: summariseLatency(b.write.buckets, b.write.latSumUs, b.write.latCount, 0),
  };
}

/** Every live member of the group with its queue pairs' statistics (no lock taken: readers never disturb the I/O). */
export function readGroupStats(group: StatsSource): GroupStats {
  const ctrl = group.ctrl;
  const primary = group.primarySlot();
  const max = ctrl.maxQid;
  const byOwner = new Map<number, QueuePairSnapshot[]>();
  for (let qid = 1; qid <= max; qid++) {
    const owner = ctrl.qidOwner(qid);
    if (owner < 0) continue;
    const q = readQueuePair(group, qid, owner);
    if (!q) continue;
    const list = byOwner.get(owner) ?? [];
    list.push(q);
    byOwner.set(owner, list);
  }
  const processes = group.liveSlots().map((slot): ProcessSnapshot => {
    const qpairs = byOwner.get(slot) ?? [];
    return {
      slot, pid: group.procPid(slot), role: slot === primary ? 'primary' : 'secondary',
      totals: qpairs.reduce<QueuePairCounters>((t, q) => addCounters(t, q), emptyCounters()), qpairs,
    };
  });
  return { time: Date.now(), processes };
}
