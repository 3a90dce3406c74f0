// The command line's program: every command, its error reporting and exit
// codes. Run by the `nvme-wasm` command (host/cli/nvme-wasm.cts, from the
// one-file bundle tools/bundle-cli.ts makes of this module) and by
// host/cli/main.ts (the ES module entry, which tests run).
//
// Commands: perf (SPDK perf's flags), identify (SPDK's overview), id-ctrl,
// id-ns, list, smart-log, error-log, get-feature (nvme-cli's names,
// -o normal|json|binary), and `demo`, the first-run job on the embedded
// simulated controller.
//
// Exit codes: 0 success; 1 a failure (bad flag or value, device error,
// I/O errors or verify mismatches in perf). Usage errors name the flag and
// what it accepts, then show the command's help.
import { Command, CommanderError } from 'commander';
import { NvmeError, HalError } from '../errors.js';
import { packageVersion } from './version.js';
import { commandsFor } from './commands.js';

/**
 * Run the command line with `argv` (process.argv's shape: node, script,
 * then the arguments). Sets process.exitCode; never calls process.exit
 * except on EPIPE, where a reader stopped early.
 */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('nvme-wasm')
    .description('User-space NVMe driver for Node.js: a WebAssembly queue core on shared memory')
    .version(packageVersion(), '--version', "print nvme-wasm's version") // no -V: perf's -V is --verify
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ outputError: (s, write) => write(s) });

  // Only the modules of the command asked for are loaded (host/cli/commands.ts):
  // a management tool attaching to a running group does not pay for perf's,
  // the simulator's or the NVMe/TCP target's code.
  for (const c of await commandsFor(argv.slice(2))) program.addCommand(c);

  override(program);

  // A reader that stops early (`nvme-wasm list | head -1`) is not a failure: end quietly, as head expects.
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
}

await program.parseAsync(argv).catch(async (e: unknown) => {
  if (e instanceof CommanderError) {
    // commander has already printed the message (and the help hint).
    process.exitCode = e.exitCode;
    return;
  }
  // The HAL's PCI error classes, loaded here: only commands that reach the HAL can have thrown one.
  const [{ PciError }, { PciAccessError }, { PagemapError }] = await Promise.all([
    import('../../hal/pci-bind.js'), import('../../hal/pci.js'), import('../../hal/pagemap.js'),
  ]);
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
}

// Every command (and the program) throws instead of exiting, so one place
// decides the exit code; help output is not an error.
function override(c: Command): void {
  c.exitOverride().showHelpAfterError('(add --help for usage)');
  for (const sub of c.commands) override(sub);
}
