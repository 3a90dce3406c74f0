// The simulated controller as its own process:
//
//   node dist/host/sim/main.js --config '{"name":"sim0"}'
//   node dist/host/sim/main.js --config-file sim.json
//
// Prints `ready NAME pid PID` once the device files are up, runs until
// SIGTERM / SIGINT or a client's CTL_STOP, then removes its files and
// exits 0. A bad configuration exits 2 with the reason on stderr.
import fs from 'node:fs';
import { Command } from 'commander';
import { parseSimConfig, type SimConfig, type SimConfigInput } from './config.js';
import { startSimWorker } from './embedded.js';

function fail(code: number, message: string): never {
  process.stderr.write(`nvme-wasm sim: ${message}\n`);
  process.exit(code);
}

function readConfig(): SimConfig {
  const program = new Command()
    .name('nvme-wasm-sim')
    .description('Run a simulated NVMe controller in the foreground')
    .option('--config <json>', 'the SimConfig as JSON')
    .option('--config-file <path>', 'a file holding the SimConfig as JSON')
    .parse(process.argv);
  const opts = program.opts<{ config?: string; configFile?: string }>();
  if (opts.config !== undefined && opts.configFile !== undefined) fail(2, 'give --config or --config-file, not both');
  let text = opts.config ?? '{}';
  if (opts.configFile !== undefined) {
    try {
      text = fs.readFileSync(opts.configFile, 'utf8');
    } catch (e) {
      fail(2, `cannot read ${opts.configFile}: ${(e as Error).message}`);
    }
  }
  let input: SimConfigInput;
  try {
    input = JSON.parse(text) as SimConfigInput;
  } catch (e) {
    fail(2, `the configuration is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(2, 'the configuration must be a JSON object');
  try {
    return parseSimConfig(input);
  } catch (e) {
    fail(2, (e as Error).message);
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  let handle;
  try {
    handle = await startSimWorker(config);
  } catch (e) {
    fail(1, (e as Error).message);
  }
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = async (): Promise<void> => {
    await handle.stop();
    clearInterval(keepAlive);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // Stopped through the ctl page (a client's requestStop) or crashed.
  void handle.exited.then((code) => {
    clearInterval(keepAlive);
    process.exit(code === 0 ? 0 : 1);
  });
  process.stdout.write(`ready ${config.name} pid ${process.pid}\n`);
}

void main();
