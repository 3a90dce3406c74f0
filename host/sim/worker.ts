// worker_threads entry of the simulated controller: build it from the
// validated config in workerData, say so, then run until CTL_STOP. The loop
// never yields to the event loop; everything reaches it through its files.
import { parentPort, workerData } from 'node:worker_threads';
import type { SimConfig } from './config.js';
import { Controller } from './controller.js';

export interface SimWorkerData {
  config: SimConfig;
}

export type SimWorkerMessage = { type: 'running'; pid: number };

const { config } = workerData as SimWorkerData;
const controller = Controller.create(config); // throws: the embedder's 'error' event
try {
  controller.markRunning();
  parentPort!.postMessage({ type: 'running', pid: process.pid } satisfies SimWorkerMessage);
  controller.run();
} finally {
  controller.close();
}
