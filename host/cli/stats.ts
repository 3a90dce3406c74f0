// `nvme-wasm stats -i N`: attach to a running group as a secondary, read the
// live statistics every member keeps in the shared region (per process and
// per I/O queue pair: commands, errors, timeouts, bytes, latency histogram),
// print them (text, or one JSON document with --json) and detach. Reading
// takes no lock and sends nothing to the members: the group runs on
// undisturbed. The tool's own process is left out of what it prints.
import { Command } from 'commander';
import type { Controller } from '../controller.js';
import { InvalidArgumentError } from '../errors.js';
import { addConnectOptions, openController, toJson, type ConnectOptions } from './options.js';
import { bucketLimitUs, type GroupStats, type QueuePairCounters } from '../stats.js';

export interface StatsOptions extends ConnectOptions {
  json?: boolean;
}

/** The tool attaches to a group that exists; it never starts one. */
export async function attachToGroup(o: ConnectOptions, flagHint: string): Promise<Controller> {
  if (o.shmId === undefined) throw new InvalidArgumentError('-i, --shm-id', `the id of a running group (${flagHint} reads a group's shared statistics)`);
  return openController(o, {}, { procType: 'secondary' });
}

/** The group's statistics without this tool's own process. */
export function othersStats(ctrl: Controller): GroupStats {
  const s = ctrl.groupStats();
  return { ...s, processes: s.processes.filter((p) => p.slot !== ctrl.group.self) };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);
const us = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

export const STATS_HEADER = ['slot', 'pid', 'role', 'qid', 'submitted', 'completed', 'errors', 'timeouts', 'reads', 'writes', 'read MiB', 'written MiB', 'mean us', 'p50<=us', 'p99<=us'];

function counterCells(c: QueuePairCounters): string[] {
  return [
    String(c.submitted), String(c.completed), String(c.errors), String(c.timeouts), String(c.reads), String(c.writes),
    mib(c.bytesRead), mib(c.bytesWritten), us(c.latency.meanUs), String(c.latency.p50Us), String(c.latency.p99Us),
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
    .description('attach to a running group (-i) and print each process\'s and queue pair\'s live statistics: commands, errors, bytes, latency')
    .option('--json', 'print one JSON document', false);
  addConnectOptions(cmd);
  cmd.action(async (o: StatsOptions) => {
    const ctrl = await attachToGroup(o, 'stats');
    try {
      const s = othersStats(ctrl);
      if (o.json) process.stdout.write(`${toJson({ shmId: o.shmId, filePrefix: o.filePrefix ?? 'nvme-wasm', ...s })}\n`);
      else process.stdout.write(`${formatStats(s, `group ${o.shmId} (file prefix ${o.filePrefix ?? 'nvme-wasm'})`)}\n`);
    } finally {
      await ctrl.close();
    }
  });
  return cmd;
}
