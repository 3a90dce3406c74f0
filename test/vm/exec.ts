// Guest side: running the commands the NVMe/TCP helpers drive (nvme-cli,
// fio, mkfs.ext4, mount, e2fsck, ...) with typed failures.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { GuestCommandError } from './errors.js';

/** What a command gave back. */
export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** The last `n` lines of a command's output, for error messages. */
export function tailLines(s: string, n = 8): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}

/** Runs `cmd args` to its end; `allowFail` returns a non-zero status instead of throwing GuestCommandError. */
export function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean; input?: string; timeoutMs?: number } = {}): CommandResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, input: opts.input, timeout: opts.timeoutMs });
  const res = { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (r.error) throw new GuestCommandError(cmd, args, -1, r.error.message);
  if (res.status !== 0 && !opts.allowFail) throw new GuestCommandError(cmd, args, res.status, tailLines(`${res.stdout}\n${res.stderr}`));
  return res;
}

/** A command running in the background; `done` resolves when it exits (never rejects). */
export interface Background {
  child: ChildProcess;
  done: Promise<CommandResult>;
}

/** Starts `cmd args` without waiting for it. */
export function start(cmd: string, args: readonly string[]): Background {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CommandResult>((resolve) => {
    child.once('error', (e) => resolve({ status: -1, stdout, stderr: stderr + e.message }));
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
  return { child, done };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
