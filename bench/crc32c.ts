// bench:crc32c: the CRC32C implementations of host/nvmf/crc32c.ts side by
// side, in one process, at NVMe/TCP's sizes (a 24- and a 72-byte header, 4
// KiB, 128 KiB and 1 MiB data). Each figure is the median of 5 timed rounds of
// about 100 ms; the JavaScript loop is the baseline the others are a ratio of.
// The Wasm core runs on a shared memory of its own (the bytes at an offset
// of it, as a DMA buffer's would be).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { instantiateSync } from '@assemblyscript/loader';
import { crc32cJs, crc32cNative, type WasmCrc32c } from '../host/nvmf/crc32c.js';
import { median } from './common.js';

const sizes = [24, 72, 4096, 131072, 1048576];
const wasmBytes = fs.readFileSync(fileURLToPath(new URL('../../build/core.wasm', import.meta.url)));
const memory = new WebAssembly.Memory({ initial: 17 + 32, maximum: 65536, shared: true });
const core = instantiateSync(new WebAssembly.Module(wasmBytes) as never, { env: { memory } } as never).exports as unknown as WasmCrc32c & { setRegionWindow(b: number, s: number): void };
const BASE = 17 * 65536;
core.setRegionWindow(BASE, 32 * 65536);
const mem = new Uint8Array(memory.buffer, BASE, 32 * 65536);
for (let i = 0; i < mem.length; i++) mem[i] = (i * 2654435761) >>> 24;

type Impl = { name: string; run: (len: number) => number };
const impls: Impl[] = [
  { name: 'js (slicing-by-8)', run: (len) => crc32cJs(mem, 0, 0, len) },
  { name: 'wasm core (slicing-by-8)', run: (len) => core.crc32c(0, len, 0) },
];
if (crc32cNative) {
  const native = crc32cNative;
  const views = new Map(sizes.map((s) => [s, Buffer.from(mem.buffer, mem.byteOffset, s)]));
  impls.push({ name: '@node-rs/crc32 crc32c', run: (len) => native(views.get(len)!, 0) });
}

// Agreement first: a benchmark of wrong answers is worth nothing.
for (const s of sizes) {
  const want = impls[0]!.run(s) >>> 0;
  for (const im of impls) if (im.run(s) >>> 0 !== want) throw new Error(`${im.name} disagrees at ${s} bytes`);
}

function rate(im: Impl, len: number): number {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) im.run(len);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 20e6) {
      n = Math.max(1, Math.round((n * 100e6) / ns));
      break;
    }
    n *= 4;
  }
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) im.run(len);
    rounds.push((n * len) / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return median(rounds);
}

const fmt = (bps: number) => (bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} GB/s` : `${(bps / 1e6).toFixed(0)} MB/s`);
process.stdout.write(`crc32c: ${new Date().toISOString()}, node ${process.version}\n`);
process.stdout.write(`${'size'.padStart(8)}  ${impls.map((im) => im.name.padStart(28)).join('')}\n`);
for (const s of sizes) {
  const base = rate(impls[0]!, s);
  const cells = impls.map((im, i) => {
    const r = i === 0 ? base : rate(im, s);
    return `${fmt(r)}${i === 0 ? '' : ` (x${(r / base).toFixed(2)})`}`.padStart(28);
  });
  process.stdout.write(`${String(s).padStart(8)}  ${cells.join('')}\n`);
}
