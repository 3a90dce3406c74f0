// perf's text output, in the shape of SPDK perf's: a device table with IOPS,
// MiB/s and average/min/max latency in microseconds per namespace and in
// total, then (-L) percentiles and (-LL) the histogram per namespace.
import { LatencyStats, SUMMARY_PERCENTILES } from './stats.js';

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
}

const us = (ns: number): string => (ns / 1000).toFixed(2);
const SEP = '========================================================';

export function formatProgress(p: { elapsedS: number; iops: number; mibps: number; avgLatencyUs: number }): string {
  return `${p.elapsedS.toFixed(0).padStart(4)} s: ${p.iops.toFixed(2).padStart(12)} IOPS ${p.mibps.toFixed(2).padStart(10)} MiB/s   avg latency ${p.avgLatencyUs.toFixed(2).padStart(9)} us`;
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

export function formatPercentiles(r: NsResult): string {
  const lines = ['', `Summary latency data for ${r.label}:`, '================================================================================='];
  for (const p of SUMMARY_PERCENTILES) {
    lines.push(`${p.toFixed(5).padStart(10)}% : ${us(r.latency.percentileNs(p)).padStart(12)}us`);
  }
  return lines.join('\n');
}

export function formatHistogram(r: NsResult): string {
  const lines = ['', `Latency histogram for ${r.label}:`, '==============================================================================', '       Range in us     Cumulative    IO count'];
  for (const b of r.latency.histogram()) {
    lines.push(`${(b.fromNs / 1000).toFixed(3).padStart(10)} - ${(b.toNs / 1000).toFixed(3).padStart(10)}: ${b.cumulativePct.toFixed(4).padStart(9)}%  (${String(b.count).padStart(9)})`);
  }
  return lines.join('\n');
}

/** The machine-readable form of one row. */
export function resultJson(r: NsResult, level: number): Record<string, unknown> {
  const l = r.latency;
  const o: Record<string, unknown> = {
    device: r.label, nsid: r.nsid, ios: r.ios, reads: r.reads, writes: r.writes, errors: r.errors,
    iops: round(r.iops), mibps: round(r.mibps),
    latencyUs: { average: round(l.avgNs / 1000), min: round((l.count ? l.minNs : 0) / 1000), max: round(l.maxNs / 1000) },
  };
  if (level >= 1) o.percentilesUs = Object.fromEntries(SUMMARY_PERCENTILES.map((p) => [String(p), round(l.percentileNs(p) / 1000)]));
  if (level >= 2) o.histogram = l.histogram().map((b) => ({ fromUs: b.fromNs / 1000, toUs: b.toNs / 1000, count: b.count, cumulativePct: round(b.cumulativePct) }));
  return o;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
