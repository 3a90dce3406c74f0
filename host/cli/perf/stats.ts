// Latency statistics of one perf job: exact count, sum, min and max, plus a
// log-linear histogram (64 buckets per power of two of nanoseconds, so a
// bucket is at most 1/64 = 1.6% wide) for percentiles (-L) and the
// histogram listing (-LL). Nothing is allocated per I/O.

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // buckets per octave
const MAX_NS = 2 ** 32 - 1; // 4.29 s: anything slower lands in the last bucket
const BUCKETS = (32 - SUB_BITS) * SUB + SUB;

/** Bucket of `ns` (an integer >= 0). Values below 2 * SUB have their own bucket. */
function bucketOf(ns: number): number {
  const v = ns > MAX_NS ? MAX_NS : ns >>> 0;
  if (v < SUB) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS; // >= 0
  return shift * SUB + (v >>> shift);
}

/** [lowest, highest] nanoseconds that fall in bucket `i`. */
export function bucketRange(i: number): [number, number] {
  if (i < 2 * SUB) return [i, i];
  const shift = Math.floor(i / SUB) - 1;
  const m = i - shift * SUB;
  return [m * 2 ** shift, (m + 1) * 2 ** shift - 1];
}

/** SPDK perf's cutoffs (g_latency_cutoffs), in percent. */
export const SUMMARY_PERCENTILES = [1, 10, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9, 99.99, 99.999, 99.9999, 99.99999];

/** fio's key for percentile `p` in its JSON ("99.000000"). */
export const fioKey = (p: number): string => p.toFixed(6);

export class LatencyStats {
  count = 0;
  sumNs = 0;
  /** Sum of squares, for the standard deviation. */
  sumSqNs = 0;
  minNs = Infinity;
  maxNs = 0;
  readonly buckets = new Float64Array(BUCKETS);

  record(ns: number): void {
    this.count++;
    this.sumNs += ns;
    this.sumSqNs += ns * ns;
    if (ns < this.minNs) this.minNs = ns;
    if (ns > this.maxNs) this.maxNs = ns;
    this.buckets[bucketOf(ns)]!++;
  }

  merge(o: LatencyStats): void {
    this.count += o.count;
    this.sumNs += o.sumNs;
    this.sumSqNs += o.sumSqNs;
    this.minNs = Math.min(this.minNs, o.minNs);
    this.maxNs = Math.max(this.maxNs, o.maxNs);
    for (let i = 0; i < BUCKETS; i++) this.buckets[i]! += o.buckets[i]!;
  }

  get avgNs(): number {
    return this.count ? this.sumNs / this.count : 0;
  }

  /** Sample standard deviation (n - 1, as fio's stddev). */
  get stddevNs(): number {
    if (this.count < 2) return 0;
    const m = this.sumNs / this.count;
    return Math.sqrt(Math.max(0, (this.sumSqNs - this.count * m * m) / (this.count - 1)));
  }

  /**
   * The latency at or below which `p` percent of I/Os completed: the upper
   * end of the bucket holding that rank (as SPDK reports), capped by max.
   */
  percentileNs(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min(bucketRange(i)[1], this.maxNs);
    }
    return this.maxNs;
  }

  /** Non-empty buckets with cumulative percentages (for -LL). */
  histogram(): Array<{ fromNs: number; toNs: number; count: number; cumulativePct: number }> {
    const out = [];
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.buckets[i]!;
      if (n === 0) continue;
      seen += n;
      const [a, b] = bucketRange(i);
      out.push({ fromNs: a, toNs: b, count: n, cumulativePct: (100 * seen) / this.count });
    }
    return out;
  }
}
