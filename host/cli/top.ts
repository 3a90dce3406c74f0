// `nvme-wasm top -i N`: like top, the group's live statistics refreshed every
// interval (default 1 s): one line per process and per queue pair with the
// rates since the previous frame (IOPS, MiB/s, errors) and the latency of
// the commands completed in it. On a terminal each frame redraws the screen
// and q or Ctrl-C exits; otherwise frames are printed one after the other
// (--iterations bounds them, for scripts and tests).
import { Command } from 'commander';
import { addConnectOptions, intArg, type ConnectOptions } from './options.js';
import { attachToGroup, othersStats, table } from './stats.js';
import { diffCounters, type GroupStats, type QueuePairCounters } from '../stats.js';

interface TopOptions extends ConnectOptions {
  interval: number;
  iterations?: number;
}

export const TOP_HEADER = ['slot', 'pid', 'role', 'qid', 'IOPS', 'read/s', 'write/s', 'MiB/s', 'errors', 'timeouts', 'mean us', 'p99<=us'];

function rateCells(d: QueuePairCounters, seconds: number): string[] {
  const r = (x: number) => (x / seconds).toFixed(0);
  return [
    r(d.completed), r(d.reads), r(d.writes), ((d.bytesRead + d.bytesWritten) / 2 ** 20 / seconds).toFixed(2), String(d.errors), String(d.timeouts),
    d.latency.count ? d.latency.meanUs.toFixed(1) : '-', d.latency.count ? String(d.latency.p99Us) : '-',
  ];
}

/** One frame: what changed between `prev` and `cur`. Processes and queue pairs new since `prev` count from zero. */
export function formatTop(prev: GroupStats, cur: GroupStats, title: string): string {
  const seconds = Math.max(1e-3, (cur.time - prev.time) / 1000);
  const rows: string[][] = [TOP_HEADER];
  for (const p of cur.processes) {
    const before = prev.processes.find((x) => x.slot === p.slot && x.pid === p.pid);
    const zero = { ...p.totals, submitted: 0, completed: 0, errors: 0, timeouts: 0, reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, latency: { ...p.totals.latency, count: 0, samples: 0, meanUs: 0, buckets: p.totals.latency.buckets.map(() => 0) } };
    rows.push([String(p.slot), String(p.pid), p.role, 'all', ...rateCells(diffCounters(p.totals, before?.totals ?? zero), seconds)]);
    for (const q of p.qpairs) {
      const qb = before?.qpairs.find((x) => x.qid === q.qid);
      rows.push(['', '', '', String(q.qid), ...rateCells(diffCounters(q, qb ?? zero), seconds)]);
    }
  }
  const head = `${title}: ${cur.processes.length} process${cur.processes.length === 1 ? '' : 'es'}, ${new Date(cur.time).toISOString().slice(11, 19)} (every ${(seconds).toFixed(1)} s)`;
  return `${head}\n\n${table(rows)}`;
}

export function topCommand(): Command {
  const cmd = new Command('top')
    .description('attach to a running group (-i) and show its live statistics every second like top: one line per process and queue pair (q or Ctrl-C quits)')
    .option('--interval <ms>', 'refresh interval in ms', intArg(100, 3_600_000), 1000)
    .option('--iterations <n>', 'stop after n frames (default: until q or Ctrl-C)', intArg(1, 1_000_000));
  addConnectOptions(cmd);
  cmd.action(async (o: TopOptions) => {
    const ctrl = await attachToGroup(o, 'top');
    const tty = process.stdout.isTTY === true;
    const title = `group ${o.shmId} (file prefix ${o.filePrefix ?? 'nvme-wasm'})`;
    let quit: () => void = () => {};
    const quitting = new Promise<void>((r) => {
      quit = r;
    });
    const onKey = (d: Buffer) => {
      if (d.includes(0x71) || d.includes(0x03)) quit(); // 'q', Ctrl-C (raw mode delivers it as a byte)
    };
    const onSignal = () => quit();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      process.stdin.on('data', onKey);
    }
    try {
      let prev = othersStats(ctrl);
      for (let frame = 0; o.iterations === undefined || frame < o.iterations; frame++) {
        let timer: NodeJS.Timeout | undefined;
        const stop = await Promise.race([quitting.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), o.interval)))]);
        clearTimeout(timer);
        if (stop) break;
        const cur = othersStats(ctrl);
        const text = formatTop(prev, cur, title);
        process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
        prev = cur;
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (process.stdin.isTTY) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
      await ctrl.close();
    }
  });
  return cmd;
}
