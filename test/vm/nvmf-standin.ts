// A stand-in for `nvme-wasm nvmf-tgt` in the guest, to prove
// vm-nvmf-target.test.ts before the project's target exists (the tests run
// it instead when NVME_WASM_VM_NVMF_STANDIN=1). It takes the target's
// command line (-r, -i, --listen, --subnqn, --allow-host, --allow-any-host),
// exports the device through the kernel's nvmet-tcp on a hidden port, and
// forwards every TCP connection of its --listen address to it: a host sees
// one TCP peer that is this process, so SIGKILL drops every connection
// (the crash the kernel initiator must recover from), and a restarted
// stand-in takes up the same nvmet configuration. SIGTERM removes the
// configuration and exits 0. Prints the contract's listening line.
//
// What it cannot stand in for: digests (nvmet-tcp 6.1 must not see them),
// the device queue pairs of a group (-i is accepted and ignored).
//
//   node dist/test/vm/nvmf-standin.js [-r TRID] [-i N] [--listen ADDR:PORT] [--subnqn NQN] [--allow-host NQN ...] [--allow-any-host]
import fs from 'node:fs';
import net from 'node:net';
import { Command } from 'commander';
import { NvmetTarget, backingFile, NVMET_ROOT } from './nvmet.js';
import { DEFAULT_SUBNQN, LISTENING_PREFIX, STANDIN_NVMET_PORT } from './nvmf-tgt.js';
import { currentDriver, rebindDefault } from '../../hal/pci-bind.js';
import { waitFor, kernelController, kernelNamespaces } from './kernel.js';

const STANDIN_PORT_ID = 30;
const SIM_BACKING = '/tmp/nvmf-standin/sim.img';

const o = new Command('nvmf-standin')
  .option('-r, --transport <trid>')
  .option('-i, --shm-id <n>')
  .option('--listen <addr>', 'ADDR:PORT', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--subnqn <nqn>', '', DEFAULT_SUBNQN)
  .option('--allow-host <nqn>', '', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--allow-any-host')
  .parse()
  .opts<{ transport?: string; listen: string[]; subnqn: string; allowHost: string[]; allowAnyHost?: boolean }>();

/** The device behind the subsystem: a tmpfs file for the simulated controller, the kernel's block device for a PCIe one. */
async function devicePath(): Promise<string> {
  const m = /traddr:(\S+)/.exec(o.transport ?? '');
  if (!o.transport || !/trtype:pcie/i.test(o.transport) || !m) return fs.existsSync(SIM_BACKING) ? SIM_BACKING : backingFile(SIM_BACKING, 128);
  const bdf = m[1]!;
  if (currentDriver(bdf) !== 'nvme') rebindDefault(bdf);
  // NSID 1's block device (the controller may have more namespaces).
  const blk = await waitFor(`nvme to give ${bdf} NSID 1`, () => {
    const ctrl = kernelController(bdf);
    const b = ctrl ? kernelNamespaces(ctrl).get(1) : undefined;
    return b && fs.existsSync(`/dev/${b}`) ? b : undefined;
  });
  return `/dev/${blk}`;
}

let nvmet: NvmetTarget | undefined;
if (!fs.existsSync(`${NVMET_ROOT}/subsystems/${o.subnqn}`)) {
  nvmet = NvmetTarget.create({
    port: { id: STANDIN_PORT_ID, trsvcid: STANDIN_NVMET_PORT },
    subsystems: [{ nqn: o.subnqn, namespaces: [{ nsid: 1, devicePath: await devicePath() }], ...(o.allowAnyHost ? {} : { allowedHosts: o.allowHost }) }],
  });
} else {
  // Left by a stand-in killed with -9: adopt it, so SIGTERM removes it.
  nvmet = NvmetTarget.adopt({ port: { id: STANDIN_PORT_ID, trsvcid: STANDIN_NVMET_PORT }, nqns: [o.subnqn], hosts: o.allowHost });
}

const sockets = new Set<net.Socket>();
const listens = o.listen.length ? o.listen : ['127.0.0.1:4420'];
const servers = await Promise.all(
  listens.map(
    (l) =>
      new Promise<net.Server>((resolve, reject) => {
        const [host, port] = [l.slice(0, l.lastIndexOf(':')), Number(l.slice(l.lastIndexOf(':') + 1))];
        const srv = net.createServer((down) => {
          const up = net.connect(STANDIN_NVMET_PORT, '127.0.0.1');
          for (const s of [down, up]) {
            sockets.add(s);
            s.setNoDelay(true);
            s.on('close', () => sockets.delete(s));
            s.on('error', () => {});
          }
          down.pipe(up);
          up.pipe(down);
          down.on('close', () => up.destroy());
          up.on('close', () => down.destroy());
        });
        srv.once('error', reject);
        srv.listen(port, host, () => resolve(srv));
      }),
  ),
);

const stop = (): void => {
  for (const s of servers) s.close();
  for (const s of sockets) s.destroy();
  nvmet?.teardown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${LISTENING_PREFIX}${listens.join(',')}\n`);
