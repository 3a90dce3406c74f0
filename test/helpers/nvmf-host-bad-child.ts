// Child process of test/nvmf-host-bad.test.ts: every bad peer the NVMe/TCP
// host must turn into a typed error in bounded time. Prints one JSON line
// of results, then ends everything it started; the process must then exit
// by itself (no socket, no timer left).
import net from 'node:net';
import { startTarget } from '../../host/nvmf/target/index.js';
import { Controller } from '../../host/index.js';

const NQN = 'nqn.2026-12.io.nvme-wasm:bad';
const CLOSED = 'nqn.2026-12.io.nvme-wasm:closed';
const OTHER_HOST = 'nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555';

async function attempt(trid: string): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  try {
    const c = await Controller.open({ transport: trid });
    await c.close();
    return { ok: true };
  } catch (e) {
    const err = e as Error & { reason?: string; sct?: number; sc?: number; fes?: number };
    return { name: err.name, reason: err.reason, sct: err.sct, sc: err.sc, fes: err.fes, message: err.message, ms: Math.round(performance.now() - t0) };
  }
}

const rt = await startTarget({
  listen: ['127.0.0.1:0'],
  devices: [{ name: 'd', regionSize: 64 * 1024 * 1024, sim: { namespaces: [{ lbaSize: 512, blocks: 4096 }] } }],
  subsystems: [{ nqn: NQN, allowAnyHost: true, namespaces: [{ device: 'd' }] }, { nqn: CLOSED, hosts: [OTHER_HOST], namespaces: [{ device: 'd' }] }],
  log: () => {},
});
const port = rt.listeners[0]!.port;
// A "target" that answers ICReq with garbage, and one that never answers.
const garbage = net.createServer((s) => {
  s.on('error', () => {});
  s.once('data', () => s.write(Buffer.concat([Buffer.from([0x01, 0x00, 0x10, 0x00, 0x80, 0, 0, 0]), Buffer.alloc(120, 0xa5)])));
});
const silent = net.createServer((s) => s.on('error', () => {}));
await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
const gport = (garbage.address() as net.AddressInfo).port;
const sport = (silent.address() as net.AddressInfo).port;
const refused = net.createServer();
await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
const rport = (refused.address() as net.AddressInfo).port;
await new Promise((r) => refused.close(r)); // nothing listens there now

const base = (p: number, nqn = NQN) => `trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${p} subnqn:${nqn}`;
const out = {
  refused: await attempt(base(rport)),
  wrongNqn: await attempt(base(port, 'nqn.2026-12.io.nvme-wasm:nosuch')),
  hostNotAllowed: await attempt(base(port, CLOSED)),
  garbageICResp: await attempt(base(gport)),
  silentTarget: await attempt(base(sport)),
  good: await attempt(base(port)),
};
process.stdout.write(`${JSON.stringify(out)}\n`);
await rt.stop();
garbage.close();
silent.close();
for (const s of [garbage, silent]) s.unref();
