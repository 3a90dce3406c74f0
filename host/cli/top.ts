// `nvme-wasm top -i N`: like top, a running group's live statistics every
// interval (default 1 s), read-only (host/monitor.ts: no member slot, no
// role, no lock). Each frame: the group's totals, then one line per process
// and per queue pair with what happened since the previous frame, Reads and
// Writes apart (IOPS, MiB/s, mean latency), the commands outstanding now and
// the errors. 80 columns. On a terminal each frame redraws the screen and q
// or Ctrl-C exits; otherwise frames follow one another. --json prints one
// JSON record per frame, one per line. top ends by itself when the group
// does (its last member leaves or dies).
import { Command } from 'commander';
import { intArg } from './options.js';
import { addMonitorOptions, openMonitor, type MonitorCliOptions } from './stats.js';
import { addCounters, diffCounters, emptyCounters, outstanding, type GroupStats, type LatencySummary, type QueuePairCounters } from '../stats.js';

interface TopOptions extends MonitorCliOptions {
  interval: number;
  iterations?: number;
  json?: boolean;
}

/** One direction's rates over a frame. */
export interface DirectionRates {
  iops: number;
  mibPerSec: number;
  /** Mean latency in microseconds of the commands completed in the frame (null: none). */
  meanUs: number | null;
  /** Upper bound in microseconds of the bucket holding the 99th percentile (null: none). */
  p99Us: number | null;
}

/** A process's or queue pair's frame. */
export interface FrameRow {
  read: DirectionRates;
  write: DirectionRates;
  /** Commands submitted and not completed at the end of the frame. */
  outstanding: number;
  errors: number;
  timeouts: number;
}

/** One frame as --json prints it. */
export interface TopRecord extends FrameRow {
  /** ISO 8601 time of the frame's end. */
  time: string;
  shmId: number;
  filePrefix: string;
  /** Length of the frame in seconds. */
  seconds: number;
  members: number;
  processes: Array<FrameRow & { slot: number; pid: number; role: 'primary' | 'secondary'; qpairs: Array<FrameRow & { qid: number }> }>;
}

function rates(lat: LatencySummary, ops: number, bytes: number, seconds: number): DirectionRates {
  return {
    iops: ops / seconds, mibPerSec: bytes / 2 ** 20 / seconds,
    meanUs: lat.count ? lat.meanUs : null, p99Us: lat.count ? lat.p99Us : null,
  };
}

/** What `d` (the difference over `seconds`) shows; `now` gives the commands outstanding. */
function frameRow(d: QueuePairCounters, now: QueuePairCounters, seconds: number): FrameRow {
  return {
    read: rates(d.readLatency, d.reads, d.bytesRead, seconds), write: rates(d.writeLatency, d.writes, d.bytesWritten, seconds),
    outstanding: outstanding(now), errors: d.errors, timeouts: d.timeouts,
  };
}

/** The frame between `prev` and `cur`. Processes and queue pairs new since `prev` count from zero. */
export function topRecord(prev: GroupStats, cur: GroupStats, shmId: number, filePrefix: string): TopRecord {
  const seconds = Math.max(1e-3, (cur.time - prev.time) / 1000);
  let dTotal = emptyCounters();
  let nowTotal = emptyCounters();
  const processes = cur.processes.map((p) => {
    const before = prev.processes.find((x) => x.slot === p.slot && x.pid === p.pid);
    const d = diffCounters(p.totals, before?.totals ?? emptyCounters());
    dTotal = addCounters(dTotal, d);
    nowTotal = addCounters(nowTotal, p.totals);
    const qpairs = p.qpairs.map((q) => {
      const qb = before?.qpairs.find((x) => x.qid === q.qid);
      return { qid: q.qid, ...frameRow(diffCounters(q, qb ?? emptyCounters()), q, seconds) };
    });
    return { slot: p.slot, pid: p.pid, role: p.role, ...frameRow(d, p.totals, seconds), qpairs };
  });
  return {
    time: new Date(cur.time).toISOString(), shmId, filePrefix, seconds, members: cur.processes.length,
    ...frameRow(dTotal, nowTotal, seconds), processes,
  };
}

// Column widths (one space between): 76 columns in all.
const COLS: Array<[string, number]> = [
  ['slot', 5], ['pid', 7], ['qid', 4], ['out', 4],
  ['rd IOPS', 7], ['rd MiB/s', 8], ['rd us', 6], ['wr IOPS', 7], ['wr MiB/s', 8], ['wr us', 6], ['err', 4],
];

const num = (x: number, digits: number) => x.toFixed(digits);
const usCell = (x: number | null) => (x === null ? '-' : x >= 1000 ? x.toFixed(0) : x.toFixed(1));

function line(cells: string[]): string {
  return cells.map((c, i) => (i <= 1 ? c.padEnd(COLS[i]![1]) : c.padStart(COLS[i]![1]))).join(' ').trimEnd();
}

function rowCells(head: [string, string, string], r: FrameRow): string[] {
  return [
    ...head, String(r.outstanding),
    num(r.read.iops, 0), num(r.read.mibPerSec, 2), usCell(r.read.meanUs), num(r.write.iops, 0), num(r.write.mibPerSec, 2), usCell(r.write.meanUs),
    String(r.errors + r.timeouts),
  ];
}

/** One text frame, at most 80 columns wide. */
export function formatTop(r: TopRecord): string {
  const head = `group ${r.shmId} (file prefix ${r.filePrefix}): ${r.members} process${r.members === 1 ? '' : 'es'}, ${r.time.slice(11, 19)} (every ${r.seconds.toFixed(1)} s)`;
  const rows = [line(COLS.map(([h]) => h)), line(rowCells(['total', '', ''], r))];
  for (const p of r.processes) {
    rows.push(line(rowCells([`${p.slot}${p.role === 'primary' ? '*' : ''}`, String(p.pid), 'all'], p)));
    for (const q of p.qpairs) rows.push(line(rowCells(['', '', String(q.qid)], q)));
  }
  return `${head}\n\n${rows.join('\n')}\n\n* primary; out: commands outstanding; us: mean latency; err: errors + timeouts`;
}

export function topCommand(): Command {
  const cmd = new Command('top')
    .description("watch a running group (-i) like top: its totals and one line per process and queue pair every second, Reads and Writes apart; read-only: it does not join the group (q or Ctrl-C quits; it ends with the group)")
    .option('--interval <ms>', 'refresh interval in ms', intArg(100, 3_600_000), 1000)
    .option('--iterations <n>', 'stop after n frames (default: until q, Ctrl-C or the group ends)', intArg(1, 1_000_000))
    .option('--json', 'one JSON record per frame, one per line', false);
  addMonitorOptions(cmd);
  cmd.action(async (o: TopOptions) => {
    const mon = openMonitor(o, 'top');
    const prefix = o.filePrefix ?? 'nvme-wasm';
    const tty = process.stdout.isTTY === true && !o.json;
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
    const keys = tty && process.stdin.isTTY === true;
    if (keys) {
      process.stdin.setRawMode(true);
      process.stdin.on('data', onKey);
    }
    try {
      let prev = mon.snapshot();
      for (let frame = 0; o.iterations === undefined || frame < o.iterations; frame++) {
        let timer: NodeJS.Timeout | undefined;
        const stop = await Promise.race([quitting.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), o.interval)))]);
        clearTimeout(timer);
        if (stop) break;
        const cur = mon.snapshot();
        const rec = topRecord(prev, cur, o.shmId!, prefix);
        if (o.json) process.stdout.write(`${JSON.stringify(rec)}\n`);
        else process.stdout.write(tty ? `\x1b[H\x1b[2J${formatTop(rec)}\n` : `${formatTop(rec)}\n\n`);
        prev = cur;
        const end = mon.ended();
        if (end !== undefined) {
          process.stderr.write(`nvme-wasm top: group ${o.shmId} (file prefix ${prefix}) ended (${end === 'no-members' ? 'no member is alive' : end === 'closed' ? 'its last member left' : 'its region was removed'})\n`);
          break;
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (keys) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
      mon.close();
    }
  });
  return cmd;
}
