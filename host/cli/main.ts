#!/usr/bin/env node
// nvme-wasm's command line as an ES module (the installed `nvme-wasm` command
// runs the same program from a one-file bundle: host/cli/nvme-wasm.cts).
import { main } from './program.js';

await main(process.argv);
