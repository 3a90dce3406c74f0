// Running the command line as the user would: the `nvme-wasm` command
// (dist/host/cli/nvme-wasm.cjs, the bundle with its code cache).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = fileURLToPath(new URL('../../host/cli/nvme-wasm.cjs', import.meta.url));

export interface CliResult { code: number; out: string; err: string }

/** Run the CLI with `args`; resolves with its exit code and output (never rejects). */
export function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}
