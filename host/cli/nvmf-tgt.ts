// `nvme-wasm nvmf-tgt`: export a controller's namespaces over NVMe/TCP (the
// target library of host/nvmf/target) as a long-running service.
//
//   nvmf-tgt [-r TRID] [-i N] [--listen ADDR:PORT ...] [--subnqn NQN]
//            [--allow-host NQN ... | --allow-any-host] [--config FILE]
//
// Once it accepts connections it prints exactly one stdout line,
// `nvmf-tgt: listening on ADDR:PORT[,ADDR:PORT...]`; its log goes to
// stderr. SIGINT / SIGTERM: hosts are disconnected, the device's queues
// given back, exit 0.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { InvalidArgumentError } from '../errors.js';
import { intArg, jsonObjectArg, oneTransport } from './options.js';
import { startTarget, checkConfig, parseListen, type TargetConfig } from '../nvmf/target/config.js';
import type { CompletionMode } from '../interrupts.js';
import { checkNqn } from '../nvmf/target/subsystem.js';
import { parseCoreMask, usableCores, maskString } from './core-mask.js';
import { setThreadAffinity } from '../../hal/affinity.js';

/** The subsystem NQN when --subnqn is not given. */
export const DEFAULT_SUBNQN = 'nqn.2026-12.io.nvme-wasm:sim';
export const LISTENING_PREFIX = 'nvmf-tgt: listening on ';

interface Opts {
  transport?: string;
  shmId?: number;
  filePrefix?: string;
  simConfig?: Record<string, unknown>;
  listen: string[];
  subnqn?: string;
  allowHost: string[];
  allowAnyHost?: boolean;
  config?: string;
  serial?: string;
  model?: string;
  maxIoQueues?: number;
  regionSize?: number;
  quiet?: boolean;
  deviceCompletionMode?: CompletionMode;
  pollSockets?: boolean;
  pollWait?: boolean;
  spinYield?: boolean;
  coreMask?: number[];
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** The target's configuration from the flags (and --config). */
export function configFromFlags(o: Opts): TargetConfig {
  o.listen.forEach((l) => parseListen('--listen', l));
  o.allowHost.forEach((h) => checkNqn('--allow-host', h));
  if (o.subnqn !== undefined) checkNqn('--subnqn', o.subnqn);
  if (o.allowAnyHost && o.allowHost.length > 0) throw new InvalidArgumentError('--allow-any-host', 'not together with --allow-host (one or the other)', '--allow-host');
  if (o.config !== undefined) {
    for (const [flag, v] of [['-r', o.transport], ['-i', o.shmId], ['--subnqn', o.subnqn], ['--sim-config', o.simConfig], ['--serial', o.serial], ['--model', o.model]] as const) {
      if (v !== undefined) throw new InvalidArgumentError(flag, 'not together with --config (the file names the devices and subsystems)', v);
    }
    let text: string;
    try {
      text = fs.readFileSync(o.config, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError('--config', `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, o.config);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new InvalidArgumentError('--config', `a file of JSON (${(e as Error).message})`, o.config);
    }
    const cfg = checkConfig(json, '--config');
    // Flags add to the file: listeners, and hosts for every subsystem.
    if (o.listen.length > 0) cfg.listen = [...(cfg.listen ?? []), ...o.listen];
    for (const s of cfg.subsystems) {
      if (o.allowAnyHost) s.allowAnyHost = true;
      if (o.allowHost.length > 0) s.hosts = [...(s.hosts ?? []), ...o.allowHost];
      if (o.maxIoQueues !== undefined) s.maxIoQueuesPerHost = o.maxIoQueues;
    }
    if (o.filePrefix !== undefined || o.regionSize !== undefined) {
      for (const d of cfg.devices ?? []) {
        d.regionSize ??= o.regionSize;
      }
    }
    return cfg;
  }
  if (!o.allowAnyHost && o.allowHost.length === 0) {
    throw new InvalidArgumentError('--allow-host', 'at least one host NQN, or --allow-any-host (otherwise the subsystem admits no host)');
  }
  return {
    devices: [{ name: 'dev0', trid: o.transport, shmId: o.shmId, regionSize: o.regionSize, sim: o.simConfig }],
    listen: o.listen.length > 0 ? o.listen : ['127.0.0.1:4420'],
    subsystems: [{
      nqn: o.subnqn ?? DEFAULT_SUBNQN, serialNumber: o.serial, modelNumber: o.model, allowAnyHost: o.allowAnyHost ?? false, hosts: o.allowHost,
      maxIoQueuesPerHost: o.maxIoQueues,
    }],
  };
}

export function nvmfTgtCommand(): Command {
  return new Command('nvmf-tgt')
    .description('export a controller over NVMe/TCP (NVMe/TCP Transport 1.0, NVMe-oF 1.1) until SIGINT or SIGTERM; no TLS, no in-band authentication')
    .option('-r, --transport <trid>', "the device: 'trtype:PCIe traddr:DDDD:BB:DD.F' or 'trtype:sim name:NAME' (default: an embedded simulated controller)", oneTransport)
    .option('-i, --shm-id <id>', 'shared-memory group id (like SPDK -i): the target joins the group of processes sharing the controller', intArg(0, 65535))
    .option('--file-prefix <prefix>', "shared-memory group file prefix (default 'nvme-wasm')")
    .addOption(new Option('--sim-config <json>', 'configuration of the embedded simulated controller, as JSON').argParser(jsonObjectArg))
    .option('--listen <addr:port>', "where to listen, repeatable: 'ADDR:PORT' or '[IPv6]:PORT' (default 127.0.0.1:4420, loopback only)", collect)
    .option('--subnqn <nqn>', `the subsystem's NQN (default ${DEFAULT_SUBNQN})`)
    .option('--allow-host <nqn>', 'a host NQN the subsystem admits, repeatable', collect)
    .option('--allow-any-host', 'admit every host')
    .option('--config <file>', 'a JSON file with devices, listeners and several subsystems (see docs/nvmf-target.md)')
    .option('--serial <sn>', 'serial number the hosts see (default: the device\'s)')
    .option('--model <mn>', "model number the hosts see (default 'nvme-wasm NVMe/TCP target')")
    .option('--max-io-queues <n>', 'I/O queues per host at most (its Number of Queues quota; default 8)', intArg(1, 1024))
    .option('--region-size <mib>', 'MiB of shared region for the target\'s queues and DMA buffers (default 256)', intArg(16, 65536))
    .addOption(new Option('--device-completion-mode <mode>', "how the target waits for its device's completions: 'poll' (the default: spin 1 ms, then a 1 ms timer), 'adaptive' (spin 50 us, then sleep on the device's interrupt where it has one) or 'interrupt'").choices(['adaptive', 'interrupt', 'poll']))
    .option('--no-poll-sockets', "Node reads and writes every socket (default: the poll group reads an I/O queue's socket while it spins, and answers go straight to the socket)")
    .option('--spin-yield', 'sched_yield(2) after each empty poll while spinning, so another thread waiting for the CPU runs first (default off: no gain measured, docs/nvmf-target.md)')
    .option('--poll-wait', "after two empty polls, wait in poll(2) on the hot sockets and the busy device queues' interrupt eventfds (with --device-completion-mode adaptive) for the rest of the 1 ms spin, instead of spinning: less CPU, slower at QD1 (docs/nvmf-target.md)")
    .option('-c, --core-mask <mask>', "CPUs for the polling thread (like SPDK's -m): a hex mask like 0x2 or a list like '[1]', bound once the devices are open", parseCoreMask)
    .option('-q, --quiet', 'no log lines on stderr')
    .action(async (o: Opts) => {
      const cfg = configFromFlags({ ...o, listen: o.listen ?? [], allowHost: o.allowHost ?? [], regionSize: o.regionSize !== undefined ? o.regionSize * 1024 * 1024 : undefined });
      if (o.filePrefix !== undefined) for (const d of cfg.devices ?? []) (d as { filePrefix?: string }).filePrefix = o.filePrefix;
      const log = o.quiet ? () => {} : (m: string) => process.stderr.write(`nvmf-tgt: ${m}\n`);
      if (o.deviceCompletionMode !== undefined) cfg.deviceCompletionMode = o.deviceCompletionMode;
      if (o.pollSockets === false) cfg.pollSockets = false;
      if (o.pollWait === true) cfg.pollWait = true;
      if (o.spinYield === true) cfg.spinYield = true;
      const cores = o.coreMask ? usableCores(o.coreMask) : undefined; // a bad mask fails before the device opens
      const rt = await startTarget({ ...cfg, log });
      if (cores) {
        // After the device opened, as perf does: threads it started (an embedded simulator's) keep every CPU.
        setThreadAffinity(cores);
        log(`core mask ${maskString(cores)}: polling thread bound to CPU ${cores.join(',')}`);
      }
      if (process.env.NVME_WASM_NVMF_DEBUG === '1') {
        // An event loop that stops turning is the one failure a log cannot show otherwise.
        let last = performance.now();
        setInterval(() => {
          const now = performance.now();
          if (now - last > 1500) log(`event loop stalled ${(now - last - 500).toFixed(0)} ms`);
          last = now;
        }, 500).unref();
      }
      process.stdout.write(`${LISTENING_PREFIX}${rt.listeners.map((l) => l.name).join(',')}\n`);
      for (const s of rt.target.subsystems.values()) {
        log(`subsystem ${s.nqn}: ${s.namespaces.size} namespace(s), ${s.allowAnyHost ? 'any host' : `hosts ${[...s.allowedHosts].join(', ') || 'none'}`}`);
      }
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (sig: NodeJS.Signals) => {
          if (stopping) {
            process.stderr.write(`nvmf-tgt: ${sig} again: exiting without waiting\n`);
            process.exit(1);
          }
          stopping = true;
          log(`${sig}: disconnecting ${rt.target.connections.size} connection(s)`);
          rt.stop().then(resolve, (e: unknown) => {
            process.stderr.write(`nvmf-tgt: stopping: ${(e as Error).message}\n`);
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      log('stopped');
      process.exit(0);
    });
}
