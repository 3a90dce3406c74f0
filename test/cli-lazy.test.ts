// A management command loads only what it needs (issue 17 point 6): the
// modules `nvme-wasm identify -i N` loads while attaching to a running group,
// as Node's module hooks list them (helpers/module-log.ts), hold none of the
// other commands' code (perf, sim, setup, stats, top, nvmf-tgt, discover,
// demo, nvme-cli's field-by-field forms), none of the simulator's own code
// (a secondary reaches a simulator through its client), none of the NVMe/TCP
// host or target. An eager import added back in host/cli/ fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller } from '../host/index.js';
import { startSim, stop, type Proc } from './helpers/procs.js';

const DIST = fileURLToPath(new URL('../', import.meta.url));
// The ES module entry: the module hooks see each module there. The `nvme-wasm`
// command runs the same graph from one bundle, where esbuild keeps every
// import() lazy (tools/bundle-cli.ts).
const ESM_MAIN = fileURLToPath(new URL('../host/cli/main.js', import.meta.url));
const HOOKS = new URL('./helpers/module-log.js', import.meta.url).href;
const tag = `lazy${process.pid}`;
const trid = `trtype:sim name:${tag}`;
const G = 7;
let sim: Proc;
let primary: Controller;

test.before(async () => {
  sim = await startSim({ name: tag });
  primary = await Controller.open({ shmId: G, filePrefix: tag, transport: trid, regionSize: 16 << 20 });
});
test.after(async () => {
  await primary?.close();
  if (sim) await stop(sim);
  for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
});

/** Run the CLI with `args`; the modules it loaded, as paths under dist/ (packages as 'node_modules/NAME'). */
function loaded(...args: string[]): { modules: string[]; out: string } {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-modlog-')), 'modules');
  try {
    const r = spawnSync(process.execPath, ['--import', HOOKS, ESM_MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NVME_WASM_MODULE_LOG: log }, timeout: 60000 });
    assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    const modules = fs.readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file:')).map((u) => {
      const p = fileURLToPath(u);
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p);
      return pkg ? `node_modules/${pkg[1]}` : path.relative(DIST, p);
    });
    return { modules: [...new Set(modules)], out: r.stdout };
  } finally {
    fs.rmSync(path.dirname(log), { recursive: true, force: true });
  }
}

/** Modules no management command attaching to a simulator's group may load. */
const FOREIGN = [
  /^host\/cli\/perf\//, /^host\/cli\/(sim|setup|stats|top|nvmf-tgt|discover|demo|core-mask)\.js$/, /^host\/cli\/nvme-cli\/(id-ctrl|id-ns|logs)\.js$/,
  /^host\/sim\/(index|embedded|controller|main|admin|nvm|queues|queue-set|fetch|namespace)\.js$/, /^host\/nvmf\//, /^host\/fabrics\/(?!options\.js$)/,
  /^host\/monitor\.js$/, /^node_modules\/cli-progress$/, /^node_modules\/@node-rs\//,
];

test('identify -i N attaching to a running group loads no other command\'s modules', () => {
  const { modules, out } = loaded('identify', '-i', String(G), '--file-prefix', tag);
  assert.match(out, /NVMe Controller at trtype:sim name:/);
  // The hooks saw the command's own modules (the list is not empty by mistake).
  for (const m of ['host/cli/main.js', 'host/cli/manage.js', 'host/controller.js', 'host/sim/client.js']) assert.ok(modules.includes(m), `${m} loaded`);
  const foreign = modules.filter((m) => FOREIGN.some((re) => re.test(m)));
  assert.equal(foreign, [], `identify loaded ${foreign.join(', ')}`);
});

test('each command\'s module is loaded by its command (and --help loads them all to list them)', () => {
  const version = loaded('--version').modules;
  assert.not.ok(version.some((m) => /^host\/cli\/(manage|perf\/command|sim|setup|stats|top|nvmf-tgt|discover)\.js$/.test(m)), `--version loaded ${version.filter((m) => m.startsWith('host/cli/')).join(', ')}`);
  assert.not.ok(version.includes('host/controller.js'), '--version does not load the driver');
  const help = loaded('--help');
  for (const m of ['host/cli/manage.js', 'host/cli/perf/command.js', 'host/cli/sim.js', 'host/cli/setup.js', 'host/cli/top.js', 'host/cli/nvmf-tgt.js', 'host/cli/discover.js']) {
    assert.ok(help.modules.includes(m), `--help loads ${m}`);
  }
  for (const c of ['demo', 'perf', 'identify', 'top', 'nvmf-tgt', 'discover']) assert.match(help.out, c);
  const stats = loaded('stats', '--help').modules;
  assert.ok(stats.includes('host/cli/stats.js'));
  assert.not.ok(stats.includes('host/cli/manage.js') || stats.includes('host/cli/perf/command.js'), 'stats --help loads only stats');
});

test.run();
