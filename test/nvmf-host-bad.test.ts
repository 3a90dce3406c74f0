// Bad peers for the NVMe/TCP host: a port nobody listens on, an NQN the
// target does not have, a subsystem that does not allow this host, a
// "target" answering ICReq with garbage, one that never answers. Each is a
// typed error within a bounded time, and nothing is left open: the child
// process that tries them all exits by itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers/nvmf-host-bad-child.js');

test('bad peers: typed errors in bounded time, and the process exits by itself', async () => {
  const t0 = performance.now();
  const p = spawn(process.execPath, [child], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), 40_000);
    p.on('close', (c) => {
      clearTimeout(kill);
      resolve(c);
    });
  });
  assert.is(code, 0, `the child exited by itself (stderr: ${err})`);
  const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, { name?: string; reason?: string; sct?: number; sc?: number; ms?: number; ok?: boolean; message?: string }>;
  assert.is(r.refused!.name, 'NvmfConnectError');
  assert.is(r.refused!.reason, 'unreachable');
  assert.is(r.wrongNqn!.name, 'NvmfConnectError');
  assert.is(r.wrongNqn!.reason, 'rejected');
  assert.is(r.wrongNqn!.sct, 1);
  assert.is(r.wrongNqn!.sc, 0x82);
  assert.is(r.hostNotAllowed!.reason, 'rejected');
  assert.is(r.hostNotAllowed!.sc, 0x84);
  assert.match(r.hostNotAllowed!.message!, /does not allow host/);
  assert.is(r.garbageICResp!.name, 'NvmfProtocolError');
  assert.is(r.silentTarget!.name, 'NvmfConnectError');
  assert.is(r.silentTarget!.reason, 'timeout');
  for (const k of ['refused', 'wrongNqn', 'hostNotAllowed', 'garbageICResp', 'silentTarget']) assert.ok(r[k]!.ms! < 5000, `${k}: ${r[k]!.ms} ms`);
  assert.equal(r.good, { ok: true });
  assert.ok(performance.now() - t0 < 40_000);
});

test.run();
