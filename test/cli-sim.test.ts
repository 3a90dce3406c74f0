// `nvme-wasm sim start|status|stop`: a simulated controller as its own
// process, reachable by name, stopped cleanly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../host/cli/nvme-wasm.cjs', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30000 });
const name = `clisim${process.pid}`;

test('sim start, attach by name, status, stop', () => {
  const s = run('sim', 'start', '--name', name, '--config', '{"mdts":4,"serial":"SIMCLI"}');
  assert.is(s.status, 0, s.stderr);
  assert.match(s.stdout, new RegExp(`started ${name} pid \\d+`));
  const st = run('sim', 'status', '--json');
  const rows = JSON.parse(st.stdout) as Array<{ name: string; alive: boolean; state: string }>;
  assert.ok(rows.some((r) => r.name === name && r.alive && r.state === 'Running'));
  const id = run('identify', '-r', `trtype:sim name:${name}`, '--json');
  assert.is(id.status, 0, id.stderr);
  assert.match(id.stdout, /SIMCLI/);
  const stop = run('sim', 'stop', '--name', name);
  assert.is(stop.status, 0, stop.stderr);
  assert.not.ok(fs.existsSync(`/dev/shm/nvme-wasm-sim-${name}.ctl`));
  assert.not.ok(fs.existsSync(`/dev/shm/nvme-wasm-sim-${name}.log`), 'sim stop removes its log');
});

test('sim start never writes its log through a planted symbolic link', () => {
  const log = `/dev/shm/nvme-wasm-sim-${name}.log`;
  const victim = `/dev/shm/victim-${process.pid}`;
  fs.writeFileSync(victim, 'precious');
  fs.symlinkSync(victim, log);
  try {
    const r = run('sim', 'start', '--name', name);
    assert.is(r.status, 1, r.stdout);
    assert.match(r.stderr, /^nvme-wasm: error: refusing to write the simulator's log .* symbolic link/m);
    assert.is(fs.readFileSync(victim, 'utf8'), 'precious', 'the link target is untouched');
    assert.not.ok(fs.existsSync(`/dev/shm/nvme-wasm-sim-${name}.ctl`), 'no simulator was started');
  } finally {
    fs.rmSync(log, { force: true });
    fs.rmSync(victim, { force: true });
  }
});

test('sim start with a bad configuration fails naming the field', () => {
  const r = run('sim', 'start', '--name', name, '--config', '{"mdts":99}');
  assert.is(r.status, 1);
  assert.match(r.stderr, /sim\.mdts/);
  const r2 = run('sim', 'stop', '--name', `${name}-none`);
  assert.is(r2.status, 1);
});

test.run();
