// perf on the embedded simulated controller: progress (piped: a line a
// second on stderr; terminal: one line in place) and the SPDK-style
// summary, -L percentiles, -LL histogram and chart, --json (fio-shaped read
// and write), --verify, -c, Ctrl-C (summary marked interrupted, exit 130),
// namespace choice (ns:N, --nsid), several -r, the MDTS check.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { cli, CLI_MAIN, type CliResult } from './helpers/cli.js';
import { formatHistogramChart, formatPercentiles, formatProgress, runShare, type NsResult } from '../host/cli/perf/format.js';
import { LatencyStats } from '../host/cli/perf/stats.js';

const TWO_NS = JSON.stringify({ namespaces: [{ lbaSize: 512, blocks: 16384 }, { lbaSize: 4096, blocks: 4096 }] });

test('perf prints progress lines on stderr and a per-namespace and total summary on stdout', async () => {
  const r = await cli('perf', '-q', '8', '-o', '4096', '-w', 'randread', '-t', '1.2');
  assert.is(r.code, 0, r.err);
  // Piped: one line a second, with the share done and the time left.
  assert.match(r.err, /^\s+1 s:\s+[\d.]+ IOPS\s+[\d.]+ MiB\/s\s+avg latency\s+[\d.]+ us\s+\d+% done, \d+ s left$/m);
  assert.not.match(r.out, / s left/);
  assert.match(r.out, /Device Information\s+:\s+IOPS\s+MiB\/s\s+Average\s+min\s+max/);
  assert.match(r.out, /NSID 1\s+:\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
  assert.match(r.out, /^Total\s+:\s+[\d.]+/m);
});

test('perf -L prints percentiles with SPDK precision, -LL the histogram and its chart; two namespaces get a row each', async () => {
  const cfg = JSON.stringify({ namespaces: [{ lbaSize: 512, blocks: 65536 }, { lbaSize: 4096, blocks: 8192 }] });
  const [l, ll] = await Promise.all([cli('perf', '-L', '-t', '0.3', '-q', '4', '--sim-config', cfg), cli('perf', '-LL', '-t', '0.3', '-q', '4')]);
  assert.is(l.code, 0, l.err);
  assert.match(l.out, /Summary latency data for .*NSID 1/);
  assert.match(l.out, /Summary latency data for .*NSID 2/);
  // SPDK: "%9.5f%% : %9.3fus", its 15 cutoffs.
  assert.match(l.out, /^ 50\.00000% :\s+\d+\.\d{3}us$/m);
  assert.match(l.out, /^ 99\.99000% :\s+\d+\.\d{3}us$/m);
  assert.match(l.out, /^ 99\.99999% :\s+\d+\.\d{3}us$/m);
  assert.not.match(l.out, /Latency histogram|Latency chart/);
  assert.is(ll.code, 0, ll.err);
  assert.match(ll.out, /Latency histogram for/);
  assert.match(ll.out, /Range in us\s+Cumulative\s+IO count/);
  assert.match(ll.out, /100\.0000%/);
  assert.match(ll.out, /Latency chart for .*NSID 1/);
  assert.match(ll.out, /│█+[▏▎▍▌▋▊▉]?\s*│\s+[\d.]+%\s+\d+$/m);
  assert.ok(ll.out.indexOf('Latency chart') > ll.out.indexOf('Latency histogram'), 'the chart comes last');
});

test('the -LL chart bins a histogram per range of latency, bars scaled to the tallest; percentiles as SPDK prints them', () => {
  const l = new LatencyStats();
  for (let i = 0; i < 900; i++) l.record(3100 + (i % 100)); // 3.1 to 3.2 us: one range
  for (let i = 0; i < 100; i++) l.record(40_000); // 40 us
  const row: NsResult = { label: 'dev NSID 1', nsid: 1, ios: 1000, reads: 1000, writes: 0, errors: 0, iops: 1, mibps: 1, latency: l, readLatency: l, writeLatency: new LatencyStats(), ioSize: 4096, seconds: 1 };
  const chart = formatHistogramChart(row, 40).split('\n');
  const rows = chart.filter((s) => s.includes('│'));
  assert.ok(rows.length >= 5 && rows.length <= 40, `${rows.length} rows`);
  const tall = rows.find((s) => s.includes('90.00%'))!;
  assert.ok(tall, chart.join('\n'));
  assert.match(tall, /│█{40}\s*│/);
  const small = rows.find((s) => s.includes('10.00%'))!;
  assert.match(small, /│█{4}[▏▎▍▌▋▊▉]?\s*│/); // 100 / 900 of 40 cells
  assert.ok(rows.some((s) => /│\s+│\s+0\.00%\s+0$/.test(s)), 'empty ranges between the two are kept');
  // Ranges are contiguous and ascending.
  const ranges = rows.map((s) => s.trim().split(/\s+-\s+|\s+│/).slice(0, 2).map(Number));
  for (let i = 1; i < ranges.length; i++) assert.is(ranges[i]![0], ranges[i - 1]![1]);
  const pct = formatPercentiles(row);
  assert.match(pct, /^ 50\.00000% :\s+3\.\d{3}us$/m);
  assert.match(pct, /^ 99\.00000% :\s+40\.000us$/m);
  assert.equal(runShare(2, 5), { pct: 40, leftS: 3 });
  assert.match(formatProgress({ elapsedS: 2, totalS: 5, iops: 10, mibps: 1, avgLatencyUs: 3 }), / 40% done, 3 s left$/);
  assert.match(formatHistogramChart({ ...row, latency: new LatencyStats() }), /no I\/O completed/);
});

test('perf --json: one document on stdout with version, timestamp and fio-shaped read and write; no progress on a piped stderr', async () => {
  const r = await cli('perf', '--json', '-L', '-w', 'randrw', '-M', '70', '-t', '1.1', '-q', '16');
  assert.is(r.code, 0, r.err);
  interface Dir { total_ios: number; io_bytes: number; bw: number; bw_bytes: number; iops: number; lat_ns: { min: number; max: number; mean: number; stddev: number; N: number; percentile: Record<string, number> } }
  const doc = JSON.parse(r.out) as {
    version: string; timestamp: number; time: string; interrupted: boolean;
    config: { workload: string; readPercent: number; ioDepth: number; transports: string[] };
    namespaces: Array<{ iops: number; reads: number; writes: number; latencyUs: { average: number; min: number; max: number }; percentilesUs: Record<string, number>; read: Dir; write: Dir }>;
    total: { iops: number; ios: number; read: Dir; write: Dir };
  };
  assert.match(doc.version, /^\d+\.\d+\.\d+/);
  assert.ok(Math.abs(doc.timestamp - Date.now() / 1000) < 120, String(doc.timestamp));
  assert.ok(!Number.isNaN(Date.parse(doc.time)));
  assert.is(doc.interrupted, false);
  assert.is(doc.config.workload, 'randrw');
  assert.is(doc.config.readPercent, 70);
  assert.is(doc.config.transports.length, 1);
  const ns = doc.namespaces[0]!;
  assert.ok(ns.iops > 0 && ns.reads > ns.writes && ns.writes > 0);
  assert.ok(ns.latencyUs.min <= ns.latencyUs.average && ns.latencyUs.average <= ns.latencyUs.max);
  assert.ok(ns.percentilesUs['50.000000']! <= ns.percentilesUs['99.000000']!);
  for (const [d, n] of [[ns.read, ns.reads], [ns.write, ns.writes]] as const) {
    assert.is(d.total_ios, n);
    assert.is(d.io_bytes, n * 4096);
    assert.is(d.lat_ns.N, n);
    assert.ok(d.iops > 0 && d.bw > 0 && Math.abs(d.bw - d.bw_bytes / 1024) <= 1);
    assert.ok(d.lat_ns.min <= d.lat_ns.mean && d.lat_ns.mean <= d.lat_ns.max && d.lat_ns.stddev >= 0);
    assert.ok(d.lat_ns.percentile['1.000000']! <= d.lat_ns.percentile['99.000000']! && d.lat_ns.percentile['99.000000']! <= d.lat_ns.max);
  }
  assert.is(doc.total.iops, ns.iops);
  assert.is(doc.total.read.total_ios + doc.total.write.total_ios, doc.total.ios);
  assert.not.match(r.err, /IOPS/);
  assert.match(r.err, /Initialization complete/);
});

test('perf --verify writes, checks reads and reads back: 0 mismatches', async () => {
  const r = await cli('perf', '--verify', '-w', 'randrw', '-q', '16', '-t', '0.8', '--sim-config', '{"namespaces":[{"lbaSize":512,"blocks":16384}]}');
  assert.is(r.code, 0, r.err + r.out);
  const m = /Verify: (\d+) reads checked .* (\d+) written I\/O units read back: (\d+) mismatches/.exec(r.out);
  assert.ok(m, r.out);
  assert.ok(Number(m![1]) > 0, 'some reads were checked');
  assert.ok(Number(m![2]) > 0, 'written units were read back');
  assert.is(m![3], '0');
});

test('perf -c 0x1 binds the polling thread; -i is accepted', async () => {
  const r = await cli('perf', '-c', '0x1', '-i', '3', '-t', '0.2', '-q', '2', '--json');
  assert.is(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { config: { coreMask: string; shmId: number } };
  assert.is(doc.config.coreMask, '0x1');
  assert.is(doc.config.shmId, 3);
});

/** Start perf, send SIGINT once it has run about a second. */
function interrupted(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI_MAIN, 'perf', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let sent = false;
    const seen = () => {
      if (!sent && (out + err).includes('Launching workers')) {
        sent = true;
        setTimeout(() => c.kill('SIGINT'), 1000);
      }
    };
    c.stdout.on('data', (d: Buffer) => ((out += d.toString()), seen()));
    c.stderr.on('data', (d: Buffer) => ((err += d.toString()), seen()));
    const guard = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

test('Ctrl-C: perf stops, prints the summary marked interrupted and exits 130 (text and --json)', async () => {
  const [t, j] = await Promise.all([interrupted('-t', '60', '-q', '4', '-L'), interrupted('-t', '60', '-q', '4', '-w', 'randrw', '-V', '--json', '--sim-config', '{"namespaces":[{"lbaSize":512,"blocks":16384}]}')]);
  assert.is(t.code, 130, t.err);
  assert.match(t.out, /perf interrupted \(Ctrl-C\) after [\d.]+ of 60 s/);
  assert.match(t.out, /^Total\s+:\s+[\d.]+/m);
  assert.match(t.out, /Summary latency data for/);
  assert.is(j.code, 130, j.err);
  const doc = JSON.parse(j.out) as { interrupted: boolean; config: { elapsedSeconds: number }; total: { ios: number }; verify: { readBackComplete: boolean; mismatches: number } };
  assert.is(doc.interrupted, true);
  assert.ok(doc.config.elapsedSeconds > 0.3 && doc.config.elapsedSeconds < 30, String(doc.config.elapsedSeconds));
  assert.ok(doc.total.ios > 0);
  assert.is(doc.verify.readBackComplete, false);
  assert.is(doc.verify.mismatches, 0);
});

test('on a terminal the progress is one line redrawn in place, cleared before the summary', () => {
  if (spawnSync('script', ['--version']).status !== 0) {
    console.log('  (script(1) not found: terminal mode not tested)');
    return;
  }
  const cmd = `'${process.execPath}' '${CLI_MAIN}' perf -t 1.5 -q 4`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const s = r.stdout;
  assert.match(s, /\x1b\[1G.*\d+% \| [\d.]+ of 1\.5 s, \d s left \|/); // redrawn from column 1
  assert.not.match(s, /^\s+1 s:.*IOPS/m); // no piped-style lines
  const summary = s.indexOf('Device Information');
  assert.ok(summary > s.lastIndexOf('s left'), 'the summary comes after the last progress line');
  assert.match(s.slice(s.lastIndexOf('s left'), summary), /\x1b\[2K/); // the line is cleared
});

test('ns:N in -r, or --nsid, runs on that namespace alone (verified); a namespace not there is a clear error', async () => {
  const [a, b, bad, clash] = await Promise.all([
    cli('perf', '-r', 'ns:2', '-V', '-w', 'randwrite', '-t', '0.4', '-q', '4', '--sim-config', TWO_NS),
    cli('perf', '--nsid', '2', '-V', '-w', 'randrw', '-t', '0.4', '-q', '4', '--sim-config', TWO_NS),
    cli('perf', '-r', 'embedded ns:5', '-t', '0.2', '--sim-config', TWO_NS),
    cli('perf', '-r', 'ns:1', '--nsid', '2', '-t', '0.2'),
  ]);
  for (const r of [a, b]) {
    assert.is(r.code, 0, r.err + r.out);
    assert.match(r.out, /NSID 2 with queue pair/);
    assert.not.match(r.out, /NSID 1 with queue pair/);
    assert.match(r.out, /NSID 2\s+:\s+[\d.]+/);
    assert.match(r.out, /: 0 mismatches/);
  }
  assert.is(bad.code, 1);
  assert.match(bad.err, /ns:N in -r, or --nsid.*expected an active namespace of .* \(1, 2\), got 5/);
  assert.is(clash.code, 1);
  assert.match(clash.err, /--nsid.*ns:1/);
});

test('several -r run together, a row per namespace and a Total; -i with several -r is refused', async () => {
  const [r, i] = await Promise.all([
    cli('perf', '-r', 'embedded', '-r', 'embedded ns:2', '-t', '0.5', '-q', '4', '--json', '--sim-config', TWO_NS),
    cli('perf', '-r', 'embedded', '-r', 'embedded', '-i', '4', '-t', '0.2'),
  ]);
  assert.is(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { config: { transports: string[] }; namespaces: Array<{ device: string; nsid: number; ios: number; iops: number }>; total: { ios: number; iops: number } };
  assert.is(doc.config.transports.length, 2);
  assert.equal(doc.namespaces.map((n) => n.nsid), [1, 2, 2]);
  assert.ok(doc.namespaces[0]!.device.startsWith(doc.config.transports[0]!));
  assert.ok(doc.namespaces[2]!.device.startsWith(doc.config.transports[1]!));
  for (const n of doc.namespaces) assert.ok(n.ios > 0, n.device);
  assert.is(doc.total.ios, doc.namespaces.reduce((a, n) => a + n.ios, 0));
  assert.is(i.code, 1);
  assert.match(i.err, /-i, --shm-id.*one controller/);
});

test('perf sizes its region from the controller: -o above MDTS says so (not hugepages); a large -q x -o gets a region that fits', async () => {
  const [mdts, big] = await Promise.all([
    cli('perf', '-o', '1048576', '-V', '-w', 'write', '-t', '0.2', '--sim-config', '{"mdts":2}'),
    cli('perf', '-q', '600', '-o', '131072', '-t', '0.3'),
  ]);
  assert.is(mdts.code, 1);
  assert.match(mdts.err, /-o, --io-size: expected at most 16384 bytes \(the controller's maximum transfer, MDTS\), got 1048576/);
  assert.not.match(mdts.err, /hugepage/i);
  assert.is(big.code, 0, big.err);
  assert.match(big.out, /^Total\s+:\s+[\d.]+/m);
});

test.run();
