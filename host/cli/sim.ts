// `nvme-wasm sim start|stop|status`: the simulated controller as a device of
// its own, outliving the driver processes of a group (as hardware does).
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { packageFile } from '../package-files.js';
import { Command } from 'commander';
import { SimClient } from '../sim/client.js';
import { parseSimConfig, type SimConfigInput } from '../sim/config.js';
import { SimState } from '../sim/ctl.js';
import { InvalidArgumentError, ControllerError } from '../errors.js';

const MAIN = packageFile('dist', 'host', 'sim', 'main.js');
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

/** Where `sim start` writes a simulator's output. */
function simLogPath(dir: string, name: string): string {
  return `${dir}/nvme-wasm-sim-${name}.log`;
}

/**
 * Create the log afresh, mode 0600, never through a symbolic link: a file
 * of ours left by an earlier run is replaced; anything else at that name (a
 * link, another user's file: the directory may be world-writable, like
 * /dev/shm) is refused, and a link planted between the two steps makes the
 * exclusive create fail rather than be followed.
 */
function createLog(log: string): number {
  const st = fs.lstatSync(log, { throwIfNoEntry: false });
  if (st) {
    const uid = process.getuid?.() ?? st.uid;
    if (!st.isFile() || st.uid !== uid) {
      throw new ControllerError(`refusing to write the simulator's log ${log}: it exists as ${st.isSymbolicLink() ? 'a symbolic link' : st.isFile() ? 'a file' : 'something other than a file'} owned by uid ${st.uid}; remove it first`, 'state');
    }
    fs.unlinkSync(log);
  }
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  try {
    return fs.openSync(log, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (e) {
    throw new ControllerError(`could not create the simulator's log ${log} (${(e as NodeJS.ErrnoException).code}): something was put there meanwhile; remove it`, 'state');
  }
}

/** Remove a stopped simulator's log, if it is a file of ours. */
function removeLog(log: string): void {
  const st = fs.lstatSync(log, { throwIfNoEntry: false });
  if (st?.isFile() && st.uid === (process.getuid?.() ?? st.uid)) fs.rmSync(log, { force: true });
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
      const log = simLogPath(cfg.directory, cfg.name);
      const fd = createLog(log);
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
      const dir = c.config.directory;
      c.close();
      removeLog(simLogPath(dir, o.name));
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
