// The command line's commands by name, each module loaded only when its
// command is asked for: `nvme-wasm identify -i 1` attaching to a running
// group loads manage.ts and what it needs, never perf's engine, the
// simulator, the NVMe/TCP target or setup's PCI code (docs/benchmarks.md,
// "attach + identify + detach"). test/cli-lazy.test.ts lists the modules a
// management command loads, so an eager import added back fails there.
import { Command } from 'commander';
import { intArg, oneTransport } from './options.js';

/** The demo command: its definition here, its work (demo.ts, with the driver) loaded when it runs. */
function demoCommand(): Command {
  return new Command('demo')
    .description('identify the controller, then write, read back and verify data at many sizes and offsets')
    .option('-r, --transport <trid>', "transport ID: 'trtype:sim name:NAME' (default: an embedded simulated controller)", oneTransport)
    .option('-n, --rounds <n>', 'verified write/read rounds', intArg(1, 1_000_000), 200)
    .action(async (o: { transport?: string; rounds: number }) => {
      const { runDemo } = await import('./demo.js');
      await runDemo({ transport: o.transport, rounds: o.rounds, log: (s) => process.stdout.write(`${s}\n`) });
    });
}

/** Every command, in the order `nvme-wasm --help` lists them. */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ['demo', async () => demoCommand()],
  ['perf', async () => (await import('./perf/command.js')).perfCommand()],
  ['identify', async () => (await import('./manage.js')).identifyCommand()],
  ['id-ctrl', async () => (await import('./manage.js')).idCtrlCommand()],
  ['id-ns', async () => (await import('./manage.js')).idNsCommand()],
  ['list', async () => (await import('./manage.js')).listCommand()],
  ['smart-log', async () => (await import('./manage.js')).smartLogCommand()],
  ['error-log', async () => (await import('./manage.js')).errorLogCommand()],
  ['get-feature', async () => (await import('./manage.js')).getFeatureCommand()],
  ['sim', async () => (await import('./sim.js')).simCommand()],
  ['setup', async () => (await import('./setup.js')).setupCommand()],
  ['stats', async () => (await import('./stats.js')).statsCommand()],
  ['top', async () => (await import('./top.js')).topCommand()],
  ['nvmf-tgt', async () => (await import('./nvmf-tgt.js')).nvmfTgtCommand()],
  ['discover', async () => (await import('./discover.js')).discoverCommand()],
];

/** The names of every command, in --help order. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.map(([n]) => n);

/**
 * The commands to define for a run with arguments `argv` (process.argv
 * without node and the script): the one its first operand names, else all
 * of them (no command, `help`, an unknown name: commander then lists them,
 * or suggests the nearest); none for a bare --version. The program itself
 * takes no option with a value, so the first argument not starting with
 * '-' is the command.
 */
export async function commandsFor(argv: readonly string[]): Promise<Command[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  if (name === undefined && argv[0] === '--version') return []; // commander prints the version and stops there
  const named = COMMANDS.find(([n]) => n === name);
  return Promise.all((named ? [named] : COMMANDS).map(([, load]) => load()));
}
