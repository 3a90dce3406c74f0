// Start a simulated controller in a worker thread of this process: the
// default device of the driver and of the tests.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseSimConfig, type SimConfig, type SimConfigInput } from './config.js';
import { SimClient } from './client.js';
import { ControllerError } from '../errors.js';
import { packageFile } from '../package-files.js';
import { CTL_SIM_PID, simBarPath, simCtlPath } from './ctl.js';
import type { SimWorkerData, SimWorkerMessage } from './worker.js';

const STOP_TIMEOUT_MS = 5000;

/** A simulated controller running in a worker thread of this process. */
export interface SimHandle {
  readonly config: SimConfig;
  readonly client: SimClient;
  /** Resolves with the worker's exit code when it ends (stop, CTL_STOP from a client, crash). */
  readonly exited: Promise<number>;
  /** Set CTL_STOP and wait for the worker to exit (terminated after 5 s). */
  stop(): Promise<void>;
}

const live = new Set<{ config: SimConfig; client: SimClient }>();
let exitHookInstalled = false;

/** Remove a sim's files if they still name this process (a worker that did not clean up). */
function removeOwnFiles(config: SimConfig): void {
  const ctlPath = simCtlPath(config.directory, config.name);
  try {
    const page = fs.readFileSync(ctlPath);
    if (page.readUInt32LE(CTL_SIM_PID) !== process.pid) return;
  } catch {
    return;
  }
  fs.rmSync(ctlPath, { force: true });
  fs.rmSync(simBarPath(config.directory, config.name), { force: true });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Workers die with the process; their files would linger in /dev/shm.
  process.on('exit', () => {
    for (const sim of live) removeOwnFiles(sim.config);
  });
}

/** Start a simulated controller in a worker; resolves once it is Running. */
export async function startSimWorker(input: SimConfigInput = {}): Promise<SimHandle> {
  const config = parseSimConfig(input);
  const worker = new Worker(packageFile('dist', 'host', 'sim', 'worker.js'), { workerData: { config } satisfies SimWorkerData });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: SimWorkerMessage): void => {
      if (m.type !== 'running') return;
      done();
      resolve();
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    const onExit = (code: number): void => {
      done();
      reject(new ControllerError(`simulated controller ${config.name} exited with code ${code} before running`, 'state'));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  // A crash after start: report it rather than let an unhandled 'error' kill the process.
  worker.on('error', (e: Error) => console.error(`nvme-wasm simulated controller ${config.name} failed:`, e));
  const client = SimClient.open(config.name, config.directory);
  const entry = { config, client };
  live.add(entry);
  installExitHook();
  worker.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      client.requestStop();
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) removeOwnFiles(config);
      live.delete(entry);
      client.close();
    })();
    return stopping;
  };
  return { config, client, exited, stop };
}
