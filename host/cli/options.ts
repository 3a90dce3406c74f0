// Option parsers and the options every command shares (-r, -i,
// --file-prefix, --sim-config). Parsers throw commander's
// InvalidArgumentError, which commander prints as
//   error: option '-q, --queue-depth <n>' argument '0' is invalid. <reason>
// so every bad value names its flag; the reason says what is accepted.
import { Command, InvalidArgumentError as OptionValueError, Option } from 'commander';
import type { Controller, ControllerOptions } from '../controller.js';
import { InvalidArgumentError, ControllerError } from '../errors.js';
import type { SimConfigInput } from '../sim/config.js';

/** An integer parser for `flag`: rejects NaN, fractions, signs and values outside [min, max]. */
export function intArg(min: number, max: number, what = 'an integer') {
  return (v: string): number => {
    const t = v.trim();
    const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new OptionValueError(`Expected ${what} from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A positive decimal number parser (seconds), bounded. */
export function positiveNumberArg(min: number, max: number) {
  return (v: string): number => {
    const t = v.trim();
    const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new OptionValueError(`Expected a number from ${min} to ${max}.`);
    return n;
  };
}

/** A JSON object (the embedded simulator's configuration). */
export function jsonObjectArg(v: string): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch (e) {
    throw new OptionValueError(`Expected a JSON object: ${(e as Error).message}.`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new OptionValueError('Expected a JSON object such as \'{"mdts":5}\'.');
  return o as Record<string, unknown>;
}

export interface ConnectOptions {
  transport?: string;
  shmId?: number;
  filePrefix?: string;
  simConfig?: Record<string, unknown>;
  procType?: 'primary' | 'secondary' | 'auto';
}

/** -r for a command of one controller: given twice is an error, never the last one silently. */
export function oneTransport(v: string, previous: string | undefined): string {
  if (previous !== undefined) throw new OptionValueError(`Given twice (${JSON.stringify(previous)} and ${JSON.stringify(v)}): this command opens one controller (perf takes several -r).`);
  return v;
}

/** -r, -i, --file-prefix, --sim-config: how a command reaches its controller. */
export function addConnectOptions(cmd: Command): Command {
  return cmd
    .option('-r, --transport <trid>', "transport ID: 'trtype:sim name:NAME', 'trtype:PCIe traddr:DDDD:BB:DD.F' or 'trtype:TCP adrfam:IPv4 traddr:ADDR trsvcid:PORT subnqn:NQN' (docs/nvmf-host.md; default: an embedded simulated controller started for this command)", oneTransport)
    .option('-i, --shm-id <id>', 'shared-memory group id (like SPDK -i): join the group of processes sharing the controller', intArg(0, 65535))
    .option('--file-prefix <prefix>', "shared-memory group file prefix (like DPDK --file-prefix; default 'nvme-wasm')")
    .addOption(new Option('--sim-config <json>', 'configuration of the embedded simulated controller, as JSON (see docs/simulator.md)').argParser(jsonObjectArg))
    .addOption(new Option('--proc-type <type>', 'with -i: primary (start the group), secondary (join a running one only) or auto (like DPDK --proc-type)').choices(['primary', 'secondary', 'auto']));
}

/**
 * With -i, say on stderr when no such group runs and this command starts
 * it (on which controller); with --proc-type secondary refuse instead.
 */
async function announceNewGroup(o: ConnectOptions): Promise<void> {
  if (o.shmId === undefined) return;
  const { findRegionFile, groupRegionName } = await import('../region.js');
  const prefix = o.filePrefix ?? 'nvme-wasm';
  if (findRegionFile(groupRegionName(prefix, o.shmId)) !== undefined) return;
  const what = `no group ${o.shmId} (file prefix ${prefix}) is running`;
  if (o.procType === 'secondary') throw new ControllerError(`${what}, and --proc-type secondary joins one, never starts it: start its primary first`, 'state');
  const embedded = !o.transport || o.transport.trim() === '' || o.transport.trim() === 'embedded';
  process.stderr.write(`nvme-wasm: ${what}: starting it, this process its primary, on ${embedded ? 'an embedded simulated controller (give -r for a device)' : o.transport!.trim()}\n`);
}

/** Open the controller the connect options name (the embedded simulator by default). */
export async function openController(o: ConnectOptions, simDefaults: SimConfigInput = {}, extra: ControllerOptions = {}): Promise<Controller> {
  if (o.simConfig && o.transport && o.transport.trim() !== '' && o.transport.trim() !== 'embedded') {
    throw new InvalidArgumentError('--sim-config', 'no -r: it configures the embedded simulated controller', o.transport);
  }
  await announceNewGroup(o);
  // Loaded here, not by the module: commands that parse these options without opening a controller (stats, top, sim) do not load the driver.
  const { Controller } = await import('../controller.js');
  return Controller.open({
    ...(o.procType !== undefined && o.procType !== 'auto' ? { procType: o.procType } : {}),
    ...extra,
    transport: o.transport,
    sim: { ...simDefaults, ...(o.simConfig as SimConfigInput | undefined) },
    ...(o.shmId !== undefined ? { shmId: o.shmId } : {}),
    ...(o.filePrefix !== undefined ? { filePrefix: o.filePrefix } : {}),
  });
}

/** JSON.stringify that writes bigints as decimal strings (128-bit counters). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2);
}

export const hex = (n: number, width = 0): string => `0x${(n >>> 0).toString(16).padStart(width, '0')}`;
