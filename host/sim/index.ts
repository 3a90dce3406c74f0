// The simulated NVMe controller: start one in a worker (startSimWorker), or
// attach to a running one by name (SimClient). `node dist/host/sim/main.js`
// runs one as its own process.
export { startSimWorker, type SimHandle } from './embedded.js';
export { SimClient, type FaultSpec } from './client.js';
export { parseSimConfig, SIM_DEFAULTS, type SimConfig, type SimConfigInput, type SimNamespaceConfig, type SimLatencyConfig } from './config.js';
export { SimState, FaultKind, simBarPath, simCtlPath, simBarSize } from './ctl.js';
export { Controller } from './controller.js';
