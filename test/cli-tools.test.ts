// The command line, end to end: each command on the embedded simulated
// controller (spawning the `nvme-wasm` command), --json parses,
// --help works everywhere, bad flags and values fail naming the flag.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli } from './helpers/cli.js';

const COMMANDS = ['perf', 'identify', 'list', 'smart-log', 'error-log', 'get-feature', 'demo'];


test('--help works on the program and on every command', async () => {
  const all = await Promise.all([cli('--help'), ...COMMANDS.map((c) => cli(c, '--help'))]);
  assert.is(all[0]!.code, 0);
  for (const c of COMMANDS) assert.match(all[0]!.out, c);
  all.slice(1).forEach((r, i) => {
    assert.is(r.code, 0, `${COMMANDS[i]} --help exits 0`);
    assert.match(r.out, `Usage: nvme-wasm ${COMMANDS[i]}`);
  });
  const perf = all[1]!.out;
  for (const f of ['-q, --io-depth', '-o, --io-size', '-w, --io-pattern', '-M, --rwmixread', '-t, --time', '-i, --shm-id', '-c, --core-mask', '-r, --transport', '-L', '--json', '-V, --verify']) assert.match(perf, f);
});

test('identify prints controller and namespace data; --json parses', async () => {
  const [t, j] = await Promise.all([cli('identify'), cli('identify', '--json')]);
  assert.is(t.code, 0, t.err);
  for (const s of ['Serial Number:', 'Model Number:', 'Firmware Version:', 'Max Data Transfer Size:', 'Number of Namespaces:', 'Dataset Management Command:', 'SGL Support:', 'Size (in LBAs):', 'Utilization (in LBAs):', 'Current LBA Format:', '(in use)']) assert.match(t.out, s);
  assert.is(j.code, 0, j.err);
  const doc = JSON.parse(j.out) as { controller: { serialNumber: string; mdts: number; oncs: number }; namespaces: Array<{ nsid: number; blockSize: number; lbaFormats: unknown[] }> };
  assert.is(doc.controller.serialNumber, 'NVMW00000001');
  assert.is(doc.namespaces[0]!.nsid, 1);
  assert.is(doc.namespaces[0]!.blockSize, 512);
});

test('list, smart-log, error-log, get-feature: text and --json', async () => {
  const cfg = JSON.stringify({ namespaces: [{ lbaSize: 4096, blocks: 1024 }, { lbaSize: 512, blocks: 4096 }] });
  const r = await Promise.all([
    cli('list', '--sim-config', cfg), cli('list', '--json', '--sim-config', cfg),
    cli('smart-log'), cli('smart-log', '--json'),
    cli('error-log'), cli('error-log', '--json', '-e', '4'),
    cli('get-feature', '-f', '7', '-H'), cli('get-feature', '-f', '0x06', '--json'),
  ]);
  for (const x of r) assert.is(x.code, 0, x.err);
  assert.match(r[0]!.out, /4096 B \+ 0 B/);
  assert.match(r[0]!.out, /512 B \+ 0 B/);
  assert.is((JSON.parse(r[1]!.out) as { devices: unknown[] }).devices.length, 2);
  assert.match(r[2]!.out, /available_spare\s+: \d+%/);
  assert.type((JSON.parse(r[3]!.out) as { temperatureK: number }).temperatureK, 'number');
  assert.match(r[4]!.out, /Error Log Entries/);
  assert.ok(Array.isArray((JSON.parse(r[5]!.out) as { entries: unknown[] }).entries));
  assert.match(r[6]!.out, /get-feature:0x07 \(Number of Queues\), Current value:0x[0-9a-f]{8}/);
  assert.match(r[6]!.out, /NSQA\): \d+/);
  const f = JSON.parse(r[7]!.out) as { featureId: number; name: string };
  assert.is(f.featureId, 6);
  assert.is(f.name, 'Volatile Write Cache');
});

test('bad flags and values exit non-zero naming the flag and what it accepts', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['perf', '-q', '0'], /-q, --io-depth.*'0' is invalid.*from 1 to/],
    [['perf', '-q', 'abc'], /-q, --io-depth.*'abc'/],
    [['perf', '-q', '2.5'], /-q, --io-depth.*'2.5'/],
    [['perf', '-q', '-3'], /-q, --io-depth|unknown option '-3'/],
    [['perf', '-w', 'sideways'], /-w, --io-pattern.*Allowed choices are read, write, randread, randwrite, rw, randrw/],
    [['perf', '-t', '0'], /-t, --time.*'0'/],
    [['perf', '-t', 'NaN'], /-t, --time.*'NaN'/],
    [['perf', '-M', '50'], /-M, --rwmixread.*'rw' or 'randrw'/],
    [['perf', '-w', 'rw', '-M', '101'], /-M, --rwmixread.*from 0 to 100/],
    [['perf', '-c', 'zz'], /-c, --core-mask.*hex core mask/],
    [['perf', '-c', '0x100000'], /-c, --core-mask/],
    [['perf', '-o', '1000', '-t', '0.1'], /-o, --io-size.*multiple of/],
    [['perf', '-o', '1048576', '-t', '0.1'], /-o, --io-size.*MDTS/],
    [['perf', '-q', '60000', '-t', '0.1'], /-q, --io-depth.*at most/],
    [['perf', '-w', 'randread', '-V'], /-V, --verify/],
    [['perf', '--frobnicate'], /unknown option '--frobnicate'/],
    [['identify', '-i', 'x'], /-i, --shm-id/],
    [['identify', '--sim-config', '{bad'], /--sim-config.*JSON/],
    [['get-feature'], /required option '-f, --feature-id/],
    [['get-feature', '-f', '256'], /-f, --feature-id.*from 1 to 255/],
    [['smart-log', '-r', 'trtype:sim name:no-such-sim-here'], /no simulated controller named no-such-sim-here/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  const rs = await Promise.all(cases.map(([a]) => cli(...a)));
  rs.forEach((r, i) => {
    const [args, re] = cases[i]!;
    assert.is.not(r.code, 0, `${args.join(' ')} exits non-zero`);
    assert.match(r.err, re, `${args.join(' ')}: ${r.err}`);
  });
});

test.run();
