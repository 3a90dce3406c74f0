// Every CLI flag refuses a bad value: the command exits non-zero, before
// touching any device, with a message naming the flag (commander's "option
// '-q, --io-depth <n>' argument 'x' is invalid" or the driver's typed
// InvalidArgumentError); afterwards the CLI still does verified I/O
// (issue 5, point 4, the CLI half).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli } from './helpers/cli.js';


// [arguments, what the error must name]
const cases: Array<[string[], RegExp]> = [
  // perf: numbers (NaN, negative, fractional, zero, too large, hex garbage)
  [['perf', '-q', 'abc'], /-q, --io-depth/],
  [['perf', '-q', '-4'], /-q, --io-depth|io-depth/],
  [['perf', '-q', '2.5'], /-q, --io-depth/],
  [['perf', '-q', '0'], /-q, --io-depth/],
  [['perf', '-q', '70000'], /-q, --io-depth/],
  [['perf', '-q', '4096', '-t', '0.2'], /io-depth|-q/], // above what the queue can hold (CAP.MQES)
  [['perf', '-o', '1000'], /-o, --io-size|io-size/], // not a multiple of the block size
  [['perf', '-o', 'NaN'], /-o, --io-size/],
  [['perf', '-o', String(64 * 2 ** 20)], /io-size|-o/], // beyond MDTS
  [['perf', '-s', '0x'], /-s, --size/],
  [['perf', '-w', 'randomread'], /-w, --io-pattern/],
  [['perf', '-w', ''], /-w, --io-pattern/],
  [['perf', '-M', '101'], /-M, --rwmixread/],
  [['perf', '-M', '-1'], /-M, --rwmixread|rwmixread/],
  [['perf', '-M', '50.5'], /-M, --rwmixread/],
  [['perf', '-t', '0'], /-t, --time/],
  [['perf', '-t', 'Infinity'], /-t, --time/],
  [['perf', '-t', '1e3'], /-t, --time/],
  [['perf', '-c', '0x0'], /-c, --core-mask/],
  [['perf', '-c', 'zz'], /-c, --core-mask/],
  [['perf', '-c', '[3-1]'], /-c, --core-mask/],
  [['perf', '-i', '-1'], /-i, --shm-id|shm-id/],
  [['perf', '-i', '1.5'], /-i, --shm-id/],
  [['perf', '-i', '99999999'], /-i, --shm-id/],
  [['perf', '-i', '3', '--file-prefix', 'a/b'], /file-prefix|filePrefix/],
  [['perf', '-r', 'trtype:carrier-pigeon'], /trtype|transport/i],
  [['perf', '-r', 'trtype:sim'], /name/],
  [['perf', '--sim-config', '{not json'], /--sim-config/],
  [['perf', '--sim-config', '[1,2]'], /--sim-config/],
  [['perf', '--sim-config', '{"mdts":-3}'], /mdts/],
  [['perf', '--sim-config', '{"namespaces":[{"lbaSize":1000}]}'], /lbaSize/],
  [['perf', '--bogus-flag'], /unknown option '--bogus-flag'/],
  // demo
  [['demo', '-n', '0'], /-n, --rounds/],
  [['demo', '-n', 'x'], /-n, --rounds/],
  // management tools
  [['identify', '-n', '0'], /-n, --namespace-id/],
  [['identify', '-n', '7'], /nsid|namespace/], // not an active namespace
  [['smart-log', '-n', '-2'], /-n, --namespace-id|namespace-id/],
  [['error-log', '-e', '0'], /-e, --log-entries/],
  [['error-log', '-e', '1.5'], /-e, --log-entries/],
  [['get-feature'], /-f, --feature-id/],
  [['get-feature', '-f', '0'], /-f, --feature-id/],
  [['get-feature', '-f', '256'], /-f, --feature-id/],
  [['get-feature', '-f', '7', '-s', '4'], /-s, --sel/],
  [['get-feature', '-f', '7', '--cdw11', '0x100000000'], /--cdw11/],
  // the simulator service
  [['sim', 'start'], /--name/],
  [['sim', 'start', '--name', 'bad name!'], /name/],
  [['sim', 'start', '--name', 'x', '--config', '{"maxIoQueuePairs":0}'], /maxIoQueuePairs/],
  [['sim', 'start', '--name', 'x', '--config-file', '/nonexistent/cfg.json'], /config-file|cfg\.json/],
  [['sim', 'stop', '--name', 'no-such-sim-here'], /no-such-sim-here/],
  [['no-such-command'], /unknown command/],
];

test(`${cases.length} bad CLI inputs: non-zero exit, the flag or argument named`, async () => {
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += 6) {
    const batch = cases.slice(i, i + 6);
    const results = await Promise.all(batch.map(([args]) => cli(...args)));
    results.forEach((r, j) => {
      const [args, re] = batch[j]!;
      const text = r.err + r.out;
      if (r.code === 0) failures.push(`${args.join(' ')}: exit 0`);
      else if (!re.test(text)) failures.push(`${args.join(' ')}: message does not match ${re}: ${text.trim().split('\n').slice(0, 3).join(' / ')}`);
      else if (/^\s+at /m.test(r.err)) failures.push(`${args.join(' ')}: printed a stack trace`);
    });
  }
  assert.equal(failures, []);
});

test('after the rejected calls, the CLI still does verified I/O', async () => {
  const r = await cli('perf', '-V', '-w', 'randrw', '-q', '8', '-t', '0.5', '--sim-config', '{"namespaces":[{"lbaSize":512,"blocks":8192}]}');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /Verify: \d+ reads checked .* 0 mismatches/);
  const d = await cli('demo', '-n', '5');
  assert.is(d.code, 0, d.err);
  assert.match(d.out, /0 mismatches/);
});

test.run();
