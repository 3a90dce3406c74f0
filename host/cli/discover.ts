// `nvme-wasm discover -t tcp -a ADDR -s PORT [--json]`: the discovery log
// page of an NVMe/TCP discovery controller, printed like `nvme discover`.
import { Command, Option } from 'commander';
import { discover, formatDiscoveryLog } from '../fabrics/discovery.js';
import { checkNqn } from '../fabrics/options.js';
import { intArg, toJson } from './options.js';

export function discoverCommand(): Command {
  return new Command('discover')
    .description("read an NVMe/TCP discovery controller's log page (like nvme discover)")
    .addOption(new Option('-t, --transport <trtype>', 'transport type').choices(['tcp']).default('tcp'))
    .requiredOption('-a, --traddr <addr>', 'address of the discovery controller')
    .option('-s, --trsvcid <port>', 'TCP port (default 8009, the discovery port; nvmet and nvmf-tgt often use 4420)', intArg(1, 65535), 8009)
    .option('-q, --hostnqn <nqn>', 'host NQN (default: /etc/nvme/hostnqn, else one made from a random host id)')
    .option('--json', 'print one JSON document', false)
    .action(async (o: { traddr: string; trsvcid: number; hostnqn?: string; json: boolean }) => {
      const log = await discover(o.traddr, o.trsvcid, o.hostnqn ? { hostnqn: checkNqn('--hostnqn', o.hostnqn) } : {});
      process.stdout.write(o.json ? `${toJson(log)}\n` : formatDiscoveryLog(log));
    });
}
