// perf's text output, in the shape of SPDK perf's: a device table with IOPS,
// MiB/s and average/min/max latency in microseconds per namespace and in
// total, then (-L) percentiles and (-LL) the histogram per namespace, with
// SPDK's printf formats, so scripts that read SPDK's output read this one.
// The table stays hand-formatted: a table library (cli-table3 and the
// like) draws borders and pads its own way, and the point of this table is
// to be SPDK's, column for column. -LL adds a bar chart of the histogram
// (formatHistogramChart), the part a user looks at rather than reads.
import { LatencyStats, SUMMARY_PERCENTILES, fioKey } from './stats.js';

export interface NsResult {
  label: string;
  nsid: number;
  ios: number;
  reads: number;
  writes: number;
  errors: number;
  iops: number;
  mibps: number;
  latency: LatencyStats;
  readLatency: LatencyStats;
  writeLatency: LatencyStats;
  /** Bytes per I/O (-o). */
  ioSize: number;
  /** Measured run time in seconds. */
  seconds: number;
}

const us = (ns: number): string => (ns / 1000).toFixed(2);
const SEP = '========================================================';

export interface ProgressFigures {
  elapsedS: number;
  totalS: number;
  iops: number;
  mibps: number;
  avgLatencyUs: number;
}

/** Percentage of the run done and whole seconds left, for the progress line. */
export function runShare(elapsedS: number, totalS: number): { pct: number; leftS: number } {
  const pct = totalS > 0 ? Math.min(100, (100 * elapsedS) / totalS) : 100;
  return { pct, leftS: Math.max(0, Math.ceil(totalS - elapsedS - 1e-9)) };
}

/** One progress line (piped output: one a second): the last second's figures, the share done, the time left. */
export function formatProgress(p: ProgressFigures): string {
  const { pct, leftS } = runShare(p.elapsedS, p.totalS);
  return `${p.elapsedS.toFixed(0).padStart(4)} s: ${p.iops.toFixed(2).padStart(12)} IOPS ${p.mibps.toFixed(2).padStart(10)} MiB/s   avg latency ${p.avgLatencyUs.toFixed(2).padStart(9)} us   ${pct.toFixed(0).padStart(3)}% done, ${leftS} s left`;
}

export function formatSummary(rows: NsResult[], total: NsResult): string {
  const w = Math.max(24, ...rows.map((r) => r.label.length), 'Device Information'.length);
  const num = (r: NsResult) =>
    `${r.iops.toFixed(2).padStart(12)} ${r.mibps.toFixed(2).padStart(10)} ${us(r.latency.avgNs).padStart(10)} ${us(r.latency.count ? r.latency.minNs : 0).padStart(10)} ${us(r.latency.maxNs).padStart(10)}`;
  const lines = [
    SEP,
    `${''.padEnd(w)}   ${''.padStart(23)}${'Latency(us)'.padStart(22)}`,
    `${'Device Information'.padEnd(w)} : ${'IOPS'.padStart(12)} ${'MiB/s'.padStart(10)} ${'Average'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)}`,
    ...rows.map((r) => `${r.label.padEnd(w)} : ${num(r)}`),
    SEP,
    `${'Total'.padEnd(w)} : ${num(total)}`,
  ];
  return lines.join('\n');
}

/** -L: SPDK's cutoffs, printed as SPDK prints them ("%9.5f%% : %9.3fus"). */
export function formatPercentiles(r: NsResult): string {
  const lines = ['', `Summary latency data for ${r.label}:`, '================================================================================='];
  const l = r.latency;
  for (const p of SUMMARY_PERCENTILES) {
    lines.push(`${p.toFixed(5).padStart(9)}% : ${(l.percentileNs(p) / 1000).toFixed(3).padStart(9)}us`);
  }
  return lines.join('\n');
}

/** -LL: SPDK's histogram listing ("%9.3f - %9.3f: %9.4f%%  (%9ju)"), every non-empty bucket. */
export function formatHistogram(r: NsResult): string {
  const lines = ['', `Latency histogram for ${r.label}:`, '==============================================================================', '       Range in us     Cumulative    IO count'];
  for (const b of r.latency.histogram()) {
    lines.push(`${(b.fromNs / 1000).toFixed(3).padStart(9)} - ${(b.toNs / 1000).toFixed(3).padStart(9)}: ${b.cumulativePct.toFixed(4).padStart(9)}%  (${String(b.count).padStart(9)})`);
  }
  return lines.join('\n');
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of `frac` (0..1) of `width` cells, in eighths of a cell. */
function bar(frac: number, width: number): string {
  let e = Math.round(Math.max(0, Math.min(1, frac)) * width * 8);
  if (e === 0 && frac > 0) e = 1; // a range that has I/Os never looks empty
  return '█'.repeat(Math.floor(e / 8)) + EIGHTHS[e % 8]!;
}

/**
 * -LL: the histogram as a horizontal bar chart, one row per range of
 * latency (1, 2, 4 or 8 rows per power of two, so that the whole spread
 * fits in about 24 rows), empty ranges between the first and the last kept
 * so gaps show. Each bar is the share of I/Os in its range, scaled to the
 * tallest; the percentage and the count follow it.
 *
 * Drawn here rather than with a chart library: asciichart draws line
 * charts with no labels on the x axis, bar-horizontal brings meow, lodash
 * and window-size along for a dozen lines of output, and none of them bins
 * a log-linear histogram, which is the work.
 */
export function formatHistogramChart(r: NsResult, width = 40): string {
  const l = r.latency;
  const lines = ['', `Latency chart for ${r.label} (share of I/Os per latency range):`, '=============================================================================='];
  if (l.count === 0) return [...lines, '  (no I/O completed)'].join('\n');
  const buckets = l.histogram();
  const octave = (ns: number) => (ns < 1 ? 0 : Math.floor(Math.log2(ns)));
  const first = octave(buckets[0]!.fromNs);
  const last = octave(buckets[buckets.length - 1]!.fromNs);
  const spread = last - first + 1;
  const perOctave = spread * 8 <= 24 ? 8 : spread * 4 <= 24 ? 4 : spread * 2 <= 24 ? 2 : 1;
  const bins = new Map<number, number>(); // bin index (octave * perOctave + sub) -> count
  for (const b of buckets) {
    const k = octave(b.fromNs);
    const sub = b.fromNs < 1 ? 0 : Math.min(perOctave - 1, Math.floor((b.fromNs / 2 ** k - 1) * perOctave));
    const i = k * perOctave + sub;
    bins.set(i, (bins.get(i) ?? 0) + b.count);
  }
  const lo = first * perOctave;
  const hi = Math.max(...bins.keys());
  const most = Math.max(...bins.values());
  const edge = (i: number) => {
    const k = Math.floor(i / perOctave);
    return 2 ** k * (1 + (i - k * perOctave) / perOctave);
  };
  lines.push(`${'Range in us'.padStart(21)}   ${'share of I/Os'.padEnd(width + 1)}      %    IO count`);
  for (let i = lo; i <= hi; i++) {
    const n = bins.get(i) ?? 0;
    const from = i === lo && buckets[0]!.fromNs < 1 ? 0 : edge(i);
    const to = edge(i + 1);
    lines.push(`${(from / 1000).toFixed(3).padStart(9)} - ${(to / 1000).toFixed(3).padStart(9)} │${bar(n / most, width).padEnd(width + 1)}│ ${((100 * n) / l.count).toFixed(2).padStart(6)}%  ${String(n).padStart(9)}`);
  }
  return lines.join('\n');
}

/** Percentiles keyed like fio's ("99.000000"), in nanoseconds. */
function percentilesNs(l: LatencyStats): Record<string, number> {
  return Object.fromEntries(SUMMARY_PERCENTILES.map((p) => [fioKey(p), Math.round(l.percentileNs(p))]));
}

/** One direction in fio's shape: io_bytes, bw (KiB/s), bw_bytes, iops, lat_ns {min, max, mean, stddev, N, percentile}. */
function directionJson(ios: number, l: LatencyStats, ioSize: number, seconds: number): Record<string, unknown> {
  const bytes = ios * ioSize;
  const s = seconds > 0 ? seconds : 1;
  return {
    total_ios: ios, io_bytes: bytes, io_kbytes: Math.floor(bytes / 1024),
    bw_bytes: Math.round(bytes / s), bw: Math.round(bytes / 1024 / s), iops: round(ios / s), runtime: Math.round(seconds * 1000),
    lat_ns: {
      min: l.count ? Math.round(l.minNs) : 0, max: Math.round(l.maxNs), mean: round(l.avgNs), stddev: round(l.stddevNs), N: l.count,
      percentile: percentilesNs(l),
    },
  };
}

/**
 * The machine-readable form of one row: SPDK's figures (iops, mibps,
 * latencyUs; percentilesUs with -L and histogram with -LL, microseconds,
 * keyed like fio) and, as fio's JSON has them, `read` and `write` apart
 * with bytes, bandwidth and latencies in nanoseconds.
 */
export function resultJson(r: NsResult, level: number): Record<string, unknown> {
  const l = r.latency;
  const o: Record<string, unknown> = {
    device: r.label, nsid: r.nsid, ios: r.ios, reads: r.reads, writes: r.writes, errors: r.errors,
    iops: round(r.iops), mibps: round(r.mibps),
    latencyUs: { average: round(l.avgNs / 1000), min: round((l.count ? l.minNs : 0) / 1000), max: round(l.maxNs / 1000) },
    read: directionJson(r.reads, r.readLatency, r.ioSize, r.seconds),
    write: directionJson(r.writes, r.writeLatency, r.ioSize, r.seconds),
  };
  if (level >= 1) o.percentilesUs = Object.fromEntries(SUMMARY_PERCENTILES.map((p) => [fioKey(p), round(l.percentileNs(p) / 1000)]));
  if (level >= 2) o.histogram = l.histogram().map((b) => ({ fromUs: b.fromNs / 1000, toUs: b.toNs / 1000, count: b.count, cumulativePct: round(b.cumulativePct) }));
  return o;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
