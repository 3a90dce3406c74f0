#!/usr/bin/env node
// nvme-wasm command line: perf (SPDK perf's flags), identify (SPDK's
// overview), id-ctrl, id-ns, list, smart-log, error-log, get-feature
// (nvme-cli's names, -o normal|json|binary), and `demo`, the
// first-run job on the embedded simulated controller.
//
// Exit codes: 0 success; 1 a failure (bad flag or value, device error,
// I/O errors or verify mismatches in perf). Usage errors name the flag and
// what it accepts, then show the command's help.
import { Command, CommanderError } from 'commander';
import { Controller } from '../controller.js';
import { runDemo } from './demo.js';
import { NvmeError, HalError } from '../errors.js';
import { PciError } from '../../hal/pci-bind.js';
import { PciAccessError } from '../../hal/pci.js';
import { PagemapError } from '../../hal/pagemap.js';
import { intArg, oneTransport } from './options.js';
import { perfCommand } from './perf/command.js';
import { identifyCommand, idCtrlCommand, idNsCommand, listCommand, smartLogCommand, errorLogCommand, getFeatureCommand } from './manage.js';
import { simCommand } from './sim.js';
import { statsCommand } from './stats.js';
import { topCommand } from './top.js';
import { setupCommand } from './setup.js';
import { nvmfTgtCommand } from './nvmf-tgt.js';
import { discoverCommand } from './discover.js';
import { packageVersion } from './version.js';

const program = new Command();
program
  .name('nvme-wasm')
  .description('User-space NVMe driver for Node.js: a WebAssembly queue core on shared memory')
  .version(packageVersion(), '--version', "print nvme-wasm's version") // no -V: perf's -V is --verify
  .showHelpAfterError('(add --help for usage)')
  .configureOutput({ outputError: (s, write) => write(s) });

program
  .command('demo')
  .description('identify the controller, then write, read back and verify data at many sizes and offsets')
  .option('-r, --transport <trid>', "transport ID: 'trtype:sim name:NAME' (default: an embedded simulated controller)", oneTransport)
  .option('-n, --rounds <n>', 'verified write/read rounds', intArg(1, 1_000_000), 200)
  .action(async (o: { transport?: string; rounds: number }) => {
    await runDemo({ transport: o.transport, rounds: o.rounds, log: (s) => process.stdout.write(`${s}\n`) });
  });

for (const c of [perfCommand(), identifyCommand(), idCtrlCommand(), idNsCommand(), listCommand(), smartLogCommand(), errorLogCommand(), getFeatureCommand(), simCommand(), setupCommand(), statsCommand(), topCommand(), nvmfTgtCommand(), discoverCommand()]) program.addCommand(c);

// Every command (and the program) throws instead of exiting, so one place
// decides the exit code; help output is not an error.
function override(c: Command): void {
  c.exitOverride().showHelpAfterError('(add --help for usage)');
  for (const sub of c.commands) override(sub);
}
override(program);

// A reader that stops early (`nvme-wasm list | head -1`) is not a failure: end quietly, as head expects.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // commander has already printed the message (and the help hint).
    process.exitCode = e.exitCode;
    return;
  }
  // One style for every failure: 'nvme-wasm: error: <what happened>'. The
  // typed errors (the driver's, the HAL's, the system's) say it all in their
  // message; anything else is a bug in nvme-wasm, shown with its stack.
  if (e instanceof NvmeError || e instanceof HalError || e instanceof PciError || e instanceof PciAccessError || e instanceof PagemapError ||
    (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string')) {
    process.stderr.write(`nvme-wasm: error: ${(e as Error).message}\n`);
  } else {
    process.stderr.write(`nvme-wasm: internal error (please report): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exitCode = 1;
});

export { Controller };
