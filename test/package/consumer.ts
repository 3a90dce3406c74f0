// The sources of the scratch consumer project that tarball.check.ts installs
// the packed nvme-wasm into: a strict TypeScript program that uses the three
// entry points, a CommonJS script that require()s them (Node >= 20.19 loads
// ES modules with require: package.json engines), and their configuration.

/** package.json of the consumer project. */
export const CONSUMER_PACKAGE = { name: 'nvme-wasm-consumer', version: '0.0.0', private: true, type: 'module' };

/** tsconfig.json: strict, and the package's declarations checked too (skipLibCheck off). */
export const CONSUMER_TSCONFIG = {
  compilerOptions: {
    strict: true,
    skipLibCheck: false,
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    outDir: 'out',
  },
  files: ['consumer.ts'],
};

/** What consumer.ts prints last when every step passed. */
export const CONSUMER_OK = 'consumer: ok';

/**
 * consumer.ts: opens the embedded simulated controller, writes a block,
 * reads it back and compares; opens a simulated controller started with
 * nvme-wasm/sim by its transport ID; checksums with nvme-wasm/nvmf; checks a
 * typed error; closes everything.
 */
export function consumerSource(simName: string): string {
  return `import { Controller, InvalidArgumentError, type ControllerOptions } from 'nvme-wasm';
import { startSimWorker, type SimConfigInput } from 'nvme-wasm/sim';
import { crc32c } from 'nvme-wasm/nvmf';

const LBA_SIZE = 4096;
const sim: SimConfigInput = { namespaces: [{ lbaSize: LBA_SIZE, blocks: 256 }] };
const options: ControllerOptions = { sim, regionSize: 8 * 1024 * 1024, hugepages: 'never', commandTimeoutMs: 10_000 };

const ctrl = await Controller.open(options);
try {
  const ns = ctrl.namespace(1);
  const block = Buffer.alloc(LBA_SIZE);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 0xff;
  await ns.write(5, block);
  const back: Buffer = await ns.readBlocks(5, 1);
  if (!back.equals(block)) throw new Error('the block read back differs from the one written');
  if (crc32c(back) !== crc32c(block)) throw new Error('crc32c differs');
  console.log(\`embedded: \${ctrl.data.modelNumber.trim()}, block 5 written and read back, crc32c \${crc32c(back).toString(16)}\`);
} finally {
  await ctrl.close();
}

const worker = await startSimWorker({ ...sim, name: ${JSON.stringify(simName)} });
try {
  const byName = await Controller.open({ transport: \`trtype:sim name:\${worker.config.name}\`, regionSize: 8 * 1024 * 1024, hugepages: 'never' });
  console.log(\`sim worker: \${byName.namespaces.size} namespace(s)\`);
  await byName.close();
} finally {
  await worker.stop();
}

const bad = await Controller.open({ adminQueueDepth: 1 }).then(() => undefined, (e: unknown) => e);
if (!(bad instanceof InvalidArgumentError)) throw new Error(\`adminQueueDepth 1: expected an InvalidArgumentError, got \${String(bad)}\`);
console.log(${JSON.stringify(CONSUMER_OK)});
`;
}

/** consumer.cjs: the three entry points load with require(). */
export const CONSUMER_CJS = `const { Controller } = require('nvme-wasm');
const { startSimWorker } = require('nvme-wasm/sim');
const { crc32c } = require('nvme-wasm/nvmf');
if (typeof Controller.open !== 'function' || typeof startSimWorker !== 'function' || typeof crc32c !== 'function') process.exit(1);
console.log('require: ok');
`;
