// Accessors for a queue pair's live statistics block (assembly/abi/stats.ts,
// ST_*): the only module that reads or writes one. The owner's JavaScript
// adds to its fields through a Float64Array at the indexes below (one store
// each, in the poll); readers go through readStatsBlock. The layout diagram
// and the rules of who writes what are in assembly/abi/stats.ts.
import {
  ST_MAGIC, ST_MAGIC_VALUE, ST_QID, ST_OWNER, ST_DESC, ST_ERRORS, ST_TIMEOUTS, ST_READS, ST_WRITES, ST_BYTES_READ,
  ST_BYTES_WRITTEN, ST_LAT_SUM_US, ST_LAT_COUNT, ST_LAT_SAMPLES, ST_HIST, ST_HIST_BUCKETS, ST_SIZE,
  ST_RLAT_SUM_US, ST_RLAT_COUNT, ST_WLAT_SUM_US, ST_WLAT_COUNT, ST_RHIST, ST_WHIST,
} from '../../assembly/abi/stats.js';
import { QP_QID, QP_SUBMITTED, QP_COMPLETED } from '../../assembly/abi/qpair.js';
import type { ControllerBlock } from './ctrl-block.js';

/** Float64Array indexes of the JavaScript-written fields (byte offset / 8). */
export const S_TIMEOUTS = ST_TIMEOUTS >>> 3;
export const S_LAT_SUM_US = ST_LAT_SUM_US >>> 3;
export const S_LAT_COUNT = ST_LAT_COUNT >>> 3;
export const S_LAT_SAMPLES = ST_LAT_SAMPLES >>> 3;
export const S_HIST = ST_HIST >>> 3;
/** Per direction: [Reads, Writes] of the sum, the count and the histogram's first index. */
export const S_DIR_LAT_SUM_US = [ST_RLAT_SUM_US >>> 3, ST_WLAT_SUM_US >>> 3] as const;
export const S_DIR_LAT_COUNT = [ST_RLAT_COUNT >>> 3, ST_WLAT_COUNT >>> 3] as const;
export const S_DIR_HIST = [ST_RHIST >>> 3, ST_WHIST >>> 3] as const;
export const STATS_BLOCK_SIZE = ST_SIZE;
export const HIST_BUCKETS = ST_HIST_BUCKETS;

/** The block at region offset `off` as f64 words, for its owner's writes. */
export function statsWords(region: Uint8Array, off: number): Float64Array {
  return new Float64Array(region.buffer, region.byteOffset + off, ST_SIZE >>> 3);
}

/** A queue pair's command counts: the descriptor's and the stats block's. */
export interface CommandCounters {
  submitted: number;
  completed: number;
  /** Completions with a non-zero status. */
  errors: number;
  timeouts: number;
  /** Reads and Writes completed (any status). */
  reads: number;
  writes: number;
  /** Data bytes of successful Reads and Writes. */
  bytesRead: number;
  bytesWritten: number;
}

/** What a stats block holds, with the descriptor counters it points at. */
export interface StatsBlockData extends CommandCounters {
  latSumUs: number;
  latCount: number;
  latSamples: number;
  buckets: number[];
  /** The Reads' and the Writes' shares of latSumUs, latCount and buckets. */
  read: DirectionLatency;
  write: DirectionLatency;
}

/** One direction's latency figures in a stats block. */
export interface DirectionLatency {
  latSumUs: number;
  latCount: number;
  buckets: number[];
}

/**
 * The stats block of I/O queue pair `qid`, owned by slot `owner`, if its
 * directory entry is trustworthy now: the block lies inside the region and
 * says it is that QID's and that owner's. Torn reads are tolerated (see
 * abi/stats.ts).
 */
export function readStatsBlock(dv: DataView, ctrl: ControllerBlock, qid: number, owner: number): StatsBlockData | undefined {
  const off = ctrl.statsBlock(qid);
  if (off === 0 || off % 8 !== 0 || off + ST_SIZE > dv.byteLength) return undefined;
  if (dv.getUint32(off + ST_MAGIC, true) !== ST_MAGIC_VALUE || dv.getUint32(off + ST_QID, true) !== qid || dv.getUint32(off + ST_OWNER, true) !== owner) return undefined;
  const desc = dv.getUint32(off + ST_DESC, true);
  const descOk = desc !== 0 && desc + QP_COMPLETED + 4 <= dv.byteLength && dv.getUint32(desc + QP_QID, true) === qid;
  const f = (o: number) => dv.getFloat64(off + o, true);
  const hist = (at: number): number[] => {
    const out: number[] = [];
    for (let b = 0; b < ST_HIST_BUCKETS; b++) out.push(f(at + b * 8));
    return out;
  };
  const buckets = hist(ST_HIST);
  return {
    submitted: descOk ? dv.getUint32(desc + QP_SUBMITTED, true) : 0,
    completed: descOk ? dv.getUint32(desc + QP_COMPLETED, true) : 0,
    errors: f(ST_ERRORS), timeouts: f(ST_TIMEOUTS), reads: f(ST_READS), writes: f(ST_WRITES),
    bytesRead: f(ST_BYTES_READ), bytesWritten: f(ST_BYTES_WRITTEN),
    latSumUs: f(ST_LAT_SUM_US), latCount: f(ST_LAT_COUNT), latSamples: f(ST_LAT_SAMPLES), buckets,
    read: { latSumUs: f(ST_RLAT_SUM_US), latCount: f(ST_RLAT_COUNT), buckets: hist(ST_RHIST) },
    write: { latSumUs: f(ST_WLAT_SUM_US), latCount: f(ST_WLAT_COUNT), buckets: hist(ST_WHIST) },
  };
}

/**
 * Lay out a fresh (zeroed) stats block for I/O queue pair `qid` owned by
 * process slot `owner`, then publish it in the directory. The directory
 * entry is stored last: a reader that finds it finds the header filled in.
 */
export function publishStatsBlock(dv: DataView, ctrl: ControllerBlock, off: number, qid: number, owner: number, desc: number): void {
  dv.setUint32(off + ST_QID, qid, true);
  dv.setUint32(off + ST_OWNER, owner, true);
  dv.setUint32(off + ST_DESC, desc, true);
  dv.setUint32(off + ST_MAGIC, ST_MAGIC_VALUE, true);
  ctrl.setStatsBlock(qid, off);
}
