// Runs the uvu suites (every dist/test/*.test.js, or those matching argv[2])
// and ends with a plain 'N passed, N failed' line; exits non-zero on failure.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';

const dir = path.dirname(fileURLToPath(import.meta.url));
const pattern = process.argv[2] ?? '\\.test\\.js$';
const uvu = path.join(dir, '../../node_modules/uvu/bin.js');
// Group sockets (host/mp) of this run go to a directory of its own, removed at the end
// (groups whose members the tests kill with SIGKILL leave theirs behind).
const runDir = process.env.NVME_WASM_RUN_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'nvme-wasm-test-'));
const child = spawn(process.execPath, [uvu, dir, pattern], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0', NVME_WASM_RUN_DIR: runDir } });
let out = '';
child.stdout.on('data', (d: Buffer) => {
  out += d.toString();
  process.stdout.write(d);
});
child.on('close', (code) => {
  if (!process.env.NVME_WASM_RUN_DIR) fs.rmSync(runDir, { recursive: true, force: true });
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const failed = total - passed - skipped;
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exitCode = code !== 0 || failed > 0 || total === 0 ? 1 : 0;
});
