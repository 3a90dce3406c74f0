// `nvme-wasm sim start|stop|status`: the simulated controller as a device of
// its own, outliving the driver processes of a group (as hardware does).
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { SimClient } from '../sim/client.js';
import { parseSimConfig, type SimConfigInput } from '../sim/config.js';
import { SimState } from '../sim/ctl.js';
import { InvalidArgumentError, ControllerError } from '../errors.js';

const MAIN = fileURLToPath(new URL('../sim/main.js', import.meta.url));
const out = (s: string) => process.stdout.write(`${s}\n`);

function configFrom(o: { name: string; config?: string; configFile?: string }): SimConfigInput {
  let input: SimConfigInput = {};
  let text = o.config;
  if (o.configFile !== undefined) {
    try {
      text = fs.readFileSync(o.configFile, 'utf8');
    } catch (e) {
      throw new InvalidArgumentError('--config-file', `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, o.configFile);
    }
  }
  if (text !== undefined) {
    try {
      input = JSON.parse(text) as SimConfigInput;
    } catch (e) {
      throw new InvalidArgumentError(o.configFile !== undefined ? '--config-file' : '--config', `a JSON SimConfig (${(e as Error).message})`, text.slice(0, 80));
    }
  }
  return { ...input, name: o.name };
}

export function simCommand(): Command {
  const sim = new Command('sim').description('run simulated NVMe controllers as their own processes');
  sim
    .command('start')
    .description('start a simulated controller in the background; drivers attach with -r "trtype:sim name:NAME"')
    .requiredOption('--name <name>', 'device name (letters, digits, _ . -)')
    .option('--config <json>', 'SimConfig as JSON, e.g. \'{"namespaces":[{"lbaSize":4096,"blocks":262144}],"nullIo":true}\'')
    .option('--config-file <path>', 'a file holding the SimConfig as JSON')
    .action(async (o: { name: string; config?: string; configFile?: string }) => {
      const cfg = parseSimConfig(configFrom(o)); // reject bad configurations here, with the field named
      const log = `${cfg.directory}/nvme-wasm-sim-${cfg.name}.log`;
      const fd = fs.openSync(log, 'w', 0o600);
      const child = spawn(process.execPath, [MAIN, '--config', JSON.stringify(configFrom(o))], { detached: true, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      const t0 = Date.now();
      for (;;) {
        const text = fs.readFileSync(log, 'utf8');
        if (text.includes(`ready ${cfg.name}`)) break;
        if (child.exitCode !== null || Date.now() - t0 > 10_000) {
          throw new ControllerError(`the simulated controller did not start: ${text.trim() || `exit ${child.exitCode}`}`, 'state');
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      child.unref();
      out(`started ${cfg.name} pid ${child.pid} (attach with -r 'trtype:sim name:${cfg.name}'; log ${log})`);
    });
  sim
    .command('stop')
    .description('stop a simulated controller started with sim start')
    .requiredOption('--name <name>', 'device name')
    .action(async (o: { name: string }) => {
      let c: SimClient;
      try {
        c = SimClient.open(o.name);
      } catch {
        throw new InvalidArgumentError('--name', "the name of a running simulated controller (see 'nvme-wasm sim status')", o.name);
      }
      const pid = c.pid;
      c.requestStop();
      const t0 = Date.now();
      while (c.state !== SimState.Stopped && c.isAlive() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      c.close();
      out(`stopped ${o.name} (pid ${pid})`);
    });
  sim
    .command('status')
    .description('list the simulated controllers on this machine')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const names = fs.readdirSync('/dev/shm').filter((f) => /^nvme-wasm-sim-.*\.ctl$/.test(f)).map((f) => f.slice(14, -4));
      const rows = names.map((name) => {
        try {
          const c = SimClient.open(name);
          const r = { name, pid: c.pid, alive: c.isAlive(), state: SimState[c.state], namespaces: c.config.namespaces.length, nullIo: c.config.nullIo };
          c.close();
          return r;
        } catch (e) {
          return { name, error: (e as Error).message };
        }
      });
      if (o.json) out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) out('no simulated controllers');
      else for (const r of rows) out('error' in r ? `${r.name}: ${r.error}` : `${r.name}  pid ${r.pid}  ${r.alive ? r.state : 'dead'}  ${r.namespaces} namespace(s)${r.nullIo ? '  null I/O' : ''}`);
    });
  return sim;
}
