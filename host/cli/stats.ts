// `nvme-wasm stats -i N`: read the live statistics every member of a running
// group keeps in the shared region (per process and per I/O queue pair:
// commands, errors, timeouts, bytes, outstanding commands, latency
// histograms, Reads and Writes apart) and print them (text, or one JSON
// document with --json). Read-only (host/monitor.ts): it takes no member
// slot, no role, no lock and sends nothing, so the group runs on undisturbed
// and never counts it as a member.
import { Command } from 'commander';
import { GroupMonitor } from '../monitor.js';
import { InvalidArgumentError } from '../errors.js';
import { intArg, toJson } from './options.js';
import { bucketLimitUs, outstanding, type GroupStats, type QueuePairCounters } from '../stats.js';

/** How a monitor names its group: -i and --file-prefix, nothing else (it never opens a controller). */
export interface MonitorCliOptions {
  shmId?: number;
  filePrefix?: string;
  transport?: string;
}

/** -i, --file-prefix (and -r, refused with a reason). */
export function addMonitorOptions(cmd: Command): Command {
  return cmd
    .option('-i, --shm-id <id>', 'shared-memory id of the running group to watch (like SPDK -i)', intArg(0, 65535))
    .option('--file-prefix <prefix>', "the group's file prefix (like DPDK --file-prefix; default 'nvme-wasm')")
    .option('-r, --transport <trid>', 'not taken: a monitor reads the group, never the device (give -i)');
}

/**
 * Open a read-only monitor of the group the options name: no member slot,
 * no role, no simulator; a group that is not running is an error.
 */
export function openMonitor(o: MonitorCliOptions, tool: string): GroupMonitor {
  if (o.transport !== undefined) throw new InvalidArgumentError('-r, --transport', `not a ${tool} option: ${tool} reads a running group's shared memory; give its -i (and --file-prefix)`, o.transport);
  if (o.shmId === undefined) throw new InvalidArgumentError('-i, --shm-id', `the id of a running group (${tool} reads a group's shared statistics)`);
  return GroupMonitor.open({ shmId: o.shmId, ...(o.filePrefix !== undefined ? { filePrefix: o.filePrefix } : {}) });
}

export interface StatsOptions extends MonitorCliOptions {
  json?: boolean;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);
const us = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

export const STATS_HEADER = [
  'slot', 'pid', 'role', 'qid', 'submitted', 'completed', 'errors', 'timeouts', 'reads', 'writes', 'read MiB', 'written MiB', 'mean us', 'p50<=us', 'p99<=us',
  'outstanding', 'read mean us', 'write mean us',
];

function counterCells(c: QueuePairCounters): string[] {
  return [
    String(c.submitted), String(c.completed), String(c.errors), String(c.timeouts), String(c.reads), String(c.writes),
    mib(c.bytesRead), mib(c.bytesWritten), us(c.latency.meanUs), String(c.latency.p50Us), String(c.latency.p99Us),
    String(outstanding(c)), c.readLatency.count ? us(c.readLatency.meanUs) : '-', c.writeLatency.count ? us(c.writeLatency.meanUs) : '-',
  ];
}

/** Columns padded to their widest cell, numbers right-aligned. */
export function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i <= 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd()).join('\n');
}

/** Non-empty histogram buckets as 'range:count'. */
export function histogramLine(buckets: number[]): string {
  const parts: string[] = [];
  buckets.forEach((n, b) => {
    if (n === 0) return;
    const lo = b === 0 ? 0 : bucketLimitUs(b - 1);
    const hi = b === buckets.length - 1 ? '' : String(bucketLimitUs(b));
    parts.push(`${lo}-${hi}:${n}`);
  });
  return parts.length ? parts.join(' ') : '(empty)';
}

export function formatStats(s: GroupStats, title: string): string {
  const rows: string[][] = [STATS_HEADER];
  const hist: string[] = [];
  for (const p of s.processes) {
    rows.push([String(p.slot), String(p.pid), p.role, 'all', ...counterCells(p.totals)]);
    for (const q of p.qpairs) {
      rows.push(['', '', '', String(q.qid), ...counterCells(q)]);
      hist.push(`  slot ${p.slot} qid ${q.qid} (${q.latency.samples} timed): ${histogramLine(q.latency.buckets)}`);
    }
  }
  const out = [`${title}: ${s.processes.length} process${s.processes.length === 1 ? '' : 'es'}`, '', table(rows)];
  // Sampled commands count for the share they were sampled at: the histogram estimates every command.
  if (hist.length) out.push('', 'Latency histogram (us range:commands, estimated from the commands timed)', ...hist);
  return out.join('\n');
}

export function statsCommand(): Command {
  const cmd = new Command('stats')
    .description("read a running group's live statistics (-i) and print each process's and queue pair's commands, errors, bytes and latency; read-only: it does not join the group")
    .option('--json', 'print one JSON document', false);
  addMonitorOptions(cmd);
  cmd.action((o: StatsOptions) => {
    const mon = openMonitor(o, 'stats');
    try {
      const s = mon.snapshot();
      if (o.json) process.stdout.write(`${toJson({ shmId: o.shmId, filePrefix: o.filePrefix ?? 'nvme-wasm', ...s })}\n`);
      else process.stdout.write(`${formatStats(s, `group ${o.shmId} (file prefix ${o.filePrefix ?? 'nvme-wasm'})`)}\n`);
    } finally {
      mon.close();
    }
  });
  return cmd;
}
