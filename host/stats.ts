// Live statistics: reading the per-queue-pair stats blocks (abi/stats.ts)
// and descriptor counters of every member of a group, as a snapshot a tool
// prints (`nvme-wasm stats`) or compares with the previous one (`nvme-wasm
// top`). The writing side is in QueuePair (host/qpair.ts): plain stores by
// the owning process, so what is read here may be one command behind.
import {
  ST_MAGIC, ST_MAGIC_VALUE, ST_QID, ST_OWNER, ST_DESC, ST_ERRORS, ST_TIMEOUTS, ST_READS, ST_WRITES, ST_BYTES_READ,
  ST_BYTES_WRITTEN, ST_LAT_SUM_US, ST_LAT_COUNT, ST_LAT_SAMPLES, ST_HIST, ST_HIST_BUCKETS, ST_SIZE,
} from '../assembly/abi/stats.js';
import { CTRL_STATS_DIR, CTRL_QID_OWNER, CTRL_MAX_QUEUE_PAIRS, CTRL_MAX_QID } from '../assembly/abi/region.js';
import { QP_SUBMITTED, QP_COMPLETED, QP_QID } from '../assembly/abi/qpair.js';
import type { Group } from './group.js';

export interface LatencySummary {
  /**
   * Commands the figures stand for: each timed command counts for the
   * commands since the previous timed one, so this follows the commands
   * completed, and the histogram and percentiles are those of every command.
   */
  count: number;
  /** Commands actually timed. */
  samples: number;
  meanUs: number;
  /** Upper bounds (us) of the histogram buckets holding the 50th / 99th percentile. */
  p50Us: number;
  p99Us: number;
  /** Counts per bucket: [0] below 1 us, [b] from 2^(b-1) to 2^b us. */
  buckets: number[];
}

export interface QueuePairCounters {
  submitted: number;
  completed: number;
  errors: number;
  timeouts: number;
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  latency: LatencySummary;
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

function emptyCounters(): QueuePairCounters {
  return {
    submitted: 0, completed: 0, errors: 0, timeouts: 0, reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0,
    latency: summariseLatency(new Array<number>(ST_HIST_BUCKETS).fill(0), 0, 0, 0),
  };
}

/** a + b, field by field (latency from the merged histograms). */
export function addCounters(a: QueuePairCounters, b: QueuePairCounters): QueuePairCounters {
  const buckets = a.latency.buckets.map((x, i) => x + (b.latency.buckets[i] ?? 0));
  const sum = a.latency.meanUs * a.latency.count + b.latency.meanUs * b.latency.count;
  return {
    submitted: a.submitted + b.submitted, completed: a.completed + b.completed, errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts, reads: a.reads + b.reads, writes: a.writes + b.writes,
    bytesRead: a.bytesRead + b.bytesRead, bytesWritten: a.bytesWritten + b.bytesWritten,
    latency: summariseLatency(buckets, sum, a.latency.count + b.latency.count, a.latency.samples + b.latency.samples),
  };
}

/** b - a, field by field (what happened between two snapshots; u32 descriptor counters wrap). */
export function diffCounters(b: QueuePairCounters, a: QueuePairCounters): QueuePairCounters {
  const buckets = b.latency.buckets.map((x, i) => Math.max(0, x - (a.latency.buckets[i] ?? 0)));
  const sum = b.latency.meanUs * b.latency.count - a.latency.meanUs * a.latency.count;
  const u32 = (x: number, y: number) => (x - y) >>> 0;
  return {
    submitted: u32(b.submitted, a.submitted), completed: u32(b.completed, a.completed), errors: b.errors - a.errors,
    timeouts: b.timeouts - a.timeouts, reads: b.reads - a.reads, writes: b.writes - a.writes,
    bytesRead: b.bytesRead - a.bytesRead, bytesWritten: b.bytesWritten - a.bytesWritten,
    latency: summariseLatency(buckets, Math.max(0, sum), Math.max(0, b.latency.count - a.latency.count), Math.max(0, b.latency.samples - a.latency.samples)),
  };
}

/**
 * The stats block of I/O queue pair `qid` if its directory entry is
 * trustworthy now: the QID is owned, the block says it is that QID's and
 * that owner's, and it lies inside the region.
 */
function readQueuePair(dv: DataView, qid: number, owner: number): QueuePairSnapshot | undefined {
  const off = dv.getUint32(CTRL_STATS_DIR + qid * 4, true);
  if (off === 0 || off % 8 !== 0 || off + ST_SIZE > dv.byteLength) return undefined;
  if (dv.getUint32(off + ST_MAGIC, true) !== ST_MAGIC_VALUE || dv.getUint32(off + ST_QID, true) !== qid || dv.getUint32(off + ST_OWNER, true) !== owner) return undefined;
  const desc = dv.getUint32(off + ST_DESC, true);
  const descOk = desc !== 0 && desc + QP_COMPLETED + 4 <= dv.byteLength && dv.getUint32(desc + QP_QID, true) === qid;
  const f = (o: number) => dv.getFloat64(off + o, true);
  const buckets: number[] = [];
  for (let b = 0; b < ST_HIST_BUCKETS; b++) buckets.push(f(ST_HIST + b * 8));
  return {
    qid,
    submitted: descOk ? dv.getUint32(desc + QP_SUBMITTED, true) : 0,
    completed: descOk ? dv.getUint32(desc + QP_COMPLETED, true) : 0,
    errors: f(ST_ERRORS), timeouts: f(ST_TIMEOUTS), reads: f(ST_READS), writes: f(ST_WRITES),
    bytesRead: f(ST_BYTES_READ), bytesWritten: f(ST_BYTES_WRITTEN),
    latency: summariseLatency(buckets, f(ST_LAT_SUM_US), f(ST_LAT_COUNT), f(ST_LAT_SAMPLES)),
  };
}

/** Every live member of the group with its queue pairs' statistics (no lock taken: readers never disturb the I/O). */
export function readGroupStats(group: Group): GroupStats {
  const dv = group.region.dv;
  const primary = group.primarySlot();
  const max = Math.min(dv.getUint32(CTRL_MAX_QUEUE_PAIRS, true), CTRL_MAX_QID);
  const byOwner = new Map<number, QueuePairSnapshot[]>();
  for (let qid = 1; qid <= max; qid++) {
    const owner = dv.getUint8(CTRL_QID_OWNER + qid) - 1;
    if (owner < 0) continue;
    const q = readQueuePair(dv, qid, owner);
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

/**
 * Lay out a fresh (zeroed) stats block for I/O queue pair `qid` owned by
 * process slot `owner`, then publish it in the directory. The directory
 * entry is stored last: a reader that finds it finds the header filled in.
 */
export function publishStatsBlock(dv: DataView, off: number, qid: number, owner: number, desc: number): void {
  dv.setUint32(off + ST_QID, qid, true);
  dv.setUint32(off + ST_OWNER, owner, true);
  dv.setUint32(off + ST_DESC, desc, true);
  dv.setUint32(off + ST_MAGIC, ST_MAGIC_VALUE, true);
  dv.setUint32(CTRL_STATS_DIR + qid * 4, off, true);
}
