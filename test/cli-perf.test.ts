// perf on the embedded simulated controller: progress and SPDK-style
// summary, -L percentiles, -LL histogram, --json, --verify, -c.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli } from './helpers/cli.js';


test('perf prints progress lines and a per-namespace and total summary', async () => {
  const r = await cli('perf', '-q', '8', '-o', '4096', '-w', 'randread', '-t', '1.2');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^\s+1 s:\s+[\d.]+ IOPS\s+[\d.]+ MiB\/s\s+avg latency\s+[\d.]+ us$/m);
  assert.match(r.out, /Device Information\s+:\s+IOPS\s+MiB\/s\s+Average\s+min\s+max/);
  assert.match(r.out, /NSID 1\s+:\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
  assert.match(r.out, /^Total\s+:\s+[\d.]+/m);
});

test('perf -L prints percentiles, -LL the histogram; two namespaces get a row each', async () => {
  const cfg = JSON.stringify({ namespaces: [{ lbaSize: 512, blocks: 65536 }, { lbaSize: 4096, blocks: 8192 }] });
  const [l, ll] = await Promise.all([cli('perf', '-L', '-t', '0.3', '-q', '4', '--sim-config', cfg), cli('perf', '-LL', '-t', '0.3', '-q', '4')]);
  assert.is(l.code, 0, l.err);
  assert.match(l.out, /Summary latency data for .*NSID 1/);
  assert.match(l.out, /Summary latency data for .*NSID 2/);
  assert.match(l.out, /50\.00000% :\s+[\d.]+us/);
  assert.match(l.out, /99\.99000% :\s+[\d.]+us/);
  assert.not.match(l.out, /Latency histogram/);
  assert.is(ll.code, 0, ll.err);
  assert.match(ll.out, /Latency histogram for/);
  assert.match(ll.out, /Range in us\s+Cumulative\s+IO count/);
  assert.match(ll.out, /100\.0000%/);
});

test('perf --json is one JSON document on stdout, progress on stderr', async () => {
  const r = await cli('perf', '--json', '-L', '-w', 'randrw', '-M', '70', '-t', '1.1', '-q', '16');
  assert.is(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as {
    config: { workload: string; readPercent: number; ioDepth: number };
    namespaces: Array<{ iops: number; reads: number; writes: number; latencyUs: { average: number; min: number; max: number }; percentilesUs: Record<string, number> }>;
    total: { iops: number; ios: number };
  };
  assert.is(doc.config.workload, 'randrw');
  assert.is(doc.config.readPercent, 70);
  const ns = doc.namespaces[0]!;
  assert.ok(ns.iops > 0 && ns.reads > ns.writes && ns.writes > 0);
  assert.ok(ns.latencyUs.min <= ns.latencyUs.average && ns.latencyUs.average <= ns.latencyUs.max);
  assert.ok(ns.percentilesUs['50']! <= ns.percentilesUs['99']!);
  assert.is(doc.total.iops, ns.iops);
  assert.match(r.err, /IOPS/);
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

test.run();
