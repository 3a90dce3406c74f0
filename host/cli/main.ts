#!/usr/bin/env node
// nvme-wasm command line. Commands are added by the tools work (perf,
// identify, list, logs, features); `demo` is the first-run job on the
// embedded simulated controller.
import { Command, InvalidArgumentError as CommanderArgError } from 'commander';
import { Controller } from '../controller.js';
import { runDemo } from './demo.js';
import { NvmeError } from '../errors.js';

const program = new Command();
program
  .name('nvme-wasm')
  .description('User-space NVMe driver for Node.js: a WebAssembly queue core on shared memory')
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) });

function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new CommanderArgError(`${name} must be an integer from ${min} to ${max}, got '${v}'`);
    }
    return n;
  };
}

program
  .command('demo')
  .description('identify the controller, then write, read back and verify data at many sizes and offsets')
  .option('-r, --transport <trid>', "transport ID: 'trtype:sim name:NAME' (default: an embedded simulated controller)")
  .option('-n, --rounds <n>', 'verified write/read rounds', intOption('--rounds', 1, 1_000_000), 200)
  .action(async (o: { transport?: string; rounds: number }) => {
    await runDemo({ transport: o.transport, rounds: o.rounds, log: (s) => process.stdout.write(`${s}\n`) });
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof NvmeError) {
    process.stderr.write(`nvme-wasm: ${e.name}: ${e.message}\n`);
  } else {
    process.stderr.write(`nvme-wasm: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exitCode = 1;
});

export { Controller };
