// `node --import <this module's URL> ...` with NVME_WASM_MODULE_LOG=FILE:
// every module the process loads is listed in FILE (module-log-hooks.ts).
// test/cli-lazy.test.ts uses it to see what a command loads.
import { register } from 'node:module';

const file = process.env.NVME_WASM_MODULE_LOG;
if (file !== undefined) register('./module-log-hooks.js', import.meta.url, { data: { file } });
