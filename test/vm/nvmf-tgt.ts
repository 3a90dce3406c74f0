// Guest side: the project's NVMe/TCP target, `nvme-wasm nvmf-tgt`, started
// and stopped per its contract (issue 13):
//
//   node dist/host/cli/main.js nvmf-tgt [-r TRID] [-i N] [--listen ADDR:PORT ...]
//        [--subnqn NQN] [--allow-host NQN ... | --allow-any-host] [--config FILE]
//
// Once it accepts connections it prints one stdout line
// `nvmf-tgt: listening on ADDR:PORT[,ADDR:PORT...]`; SIGINT/SIGTERM end it
// cleanly (hosts disconnected, the device's queues given back). Until
// dist/host/cli/nvmf-tgt.js exists the tests of it skip themselves.
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NvmfTargetError } from './errors.js';

export const CLI_MAIN = fileURLToPath(new URL('../../host/cli/main.js', import.meta.url));
/** The module the target command lives in; its absence skips the tests of the target. */
export const NVMF_TGT_MODULE = fileURLToPath(new URL('../../host/cli/nvmf-tgt.js', import.meta.url));
/** The default subsystem NQN of `nvme-wasm nvmf-tgt`. */
export const DEFAULT_SUBNQN = 'nqn.2026-12.io.nvme-wasm:sim';
export const LISTENING_PREFIX = 'nvmf-tgt: listening on ';
/**
 * The nvmet-tcp port test/vm/nvmf-standin.ts forwards to; its discovery log
 * page names this port, not the stand-in's --listen one.
 */
export const STANDIN_NVMET_PORT = 4430;

/** Whether the project's target is built. */
export function nvmfTargetAvailable(): boolean {
  return fs.existsSync(NVMF_TGT_MODULE);
}

/** The command line of one target. */
export interface NvmfTargetSpec {
  /** -r: the device; default the embedded simulated controller. */
  trid?: string;
  /** -i: the shared-memory group id. */
  shmId?: number;
  /** --listen, repeatable; default the target's (127.0.0.1:4420). */
  listen?: string[];
  subnqn?: string;
  /** --allow-host, repeatable. */
  allowHosts?: string[];
  /** --allow-any-host. */
  allowAnyHost?: boolean;
  config?: string;
  /** Anything else, appended. */
  extraArgs?: string[];
  /** Environment variables added to this process's. */
  env?: Record<string, string>;
  /** Liveness cap on the listening line; default 120 s (node under TCG starts slowly). */
  startCapMs?: number;
  /**
   * The program and its leading arguments instead of `node
   * dist/host/cli/main.js nvmf-tgt` (the helper's own tests run a stand-in).
   */
  command?: readonly string[];
}

/** The arguments `node` is given for a spec. */
export function targetArgs(s: NvmfTargetSpec): string[] {
  return [
    ...(s.command ? s.command.slice(1) : [CLI_MAIN, 'nvmf-tgt']),
    ...(s.trid ? ['-r', s.trid] : []),
    ...(s.shmId !== undefined ? ['-i', String(s.shmId)] : []),
    ...(s.listen ?? []).flatMap((l) => ['--listen', l]),
    ...(s.subnqn ? ['--subnqn', s.subnqn] : []),
    ...(s.allowHosts ?? []).flatMap((h) => ['--allow-host', h]),
    ...(s.allowAnyHost ? ['--allow-any-host'] : []),
    ...(s.config ? ['--config', s.config] : []),
    ...(s.extraArgs ?? []),
  ];
}

/** How a target process ended. */
export interface TargetExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running target. */
export class NvmfTarget {
  /** ADDR:PORT list of the listening line. */
  readonly listening: string[];
  readonly exited: Promise<TargetExit>;
  private stdout = '';
  private stderr = '';

  private constructor(
    readonly spec: NvmfTargetSpec,
    readonly child: ChildProcess,
    listening: string[],
    exited: Promise<TargetExit>,
    out: { stdout: string; stderr: string },
  ) {
    this.listening = listening;
    this.exited = exited;
    this.stdout = out.stdout;
    this.stderr = out.stderr;
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** What it printed so far (tails). */
  output(): string {
    return `${this.stdout.slice(-3000)}\n${this.stderr.slice(-3000)}`.trim();
  }

  /**
   * Starts the target and resolves once it printed its listening line;
   * NvmfTargetError if it exits first or prints none within startCapMs
   * (then it is killed).
   */
  static start(spec: NvmfTargetSpec = {}): Promise<NvmfTarget> {
    if (!spec.command && !nvmfTargetAvailable()) return Promise.reject(new NvmfTargetError(`${NVMF_TGT_MODULE} is not built`, ''));
    const child = spawn(spec.command?.[0] ?? process.execPath, targetArgs(spec), { stdio: ['ignore', 'pipe', 'pipe'], ...(spec.env ? { env: { ...process.env, ...spec.env } } : {}) });
    const exited = new Promise<TargetExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return new Promise<NvmfTarget>((resolve, reject) => {
      const out = { stdout: '', stderr: '' };
      const cap = spec.startCapMs ?? 120_000;
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new NvmfTargetError(why, `${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`.trim()));
      };
      const timer = setTimeout(() => fail(`no '${LISTENING_PREFIX.trim()}' line within ${cap} ms`), cap);
      const onErr = (d: Buffer): void => void (out.stderr += d.toString());
      const onOut = (d: Buffer): void => {
        out.stdout += d.toString();
        const line = out.stdout.split('\n').find((l) => l.startsWith(LISTENING_PREFIX));
        if (line === undefined || !out.stdout.includes(`${line}\n`)) return;
        clearTimeout(timer);
        child.stdout!.off('data', onOut);
        child.stderr!.off('data', onErr);
        child.off('exit', onExit);
        const list = line.slice(LISTENING_PREFIX.length).trim().split(',').map((s) => s.trim()).filter(Boolean);
        resolve(new NvmfTarget(spec, child, list, exited, out));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited (${code ?? signal}) before listening`);
      child.stdout!.on('data', onOut);
      child.stderr!.on('data', onErr);
      child.once('exit', onExit);
      child.once('error', (e) => fail(`spawn: ${e.message}`));
    });
  }

  /** SIGTERM (or SIGINT) and the exit; SIGKILL and NvmfTargetError if it has not ended within capMs. */
  async stop(signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM', capMs = 60_000): Promise<TargetExit> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), capMs)));
    const r = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (r === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new NvmfTargetError(`still running ${capMs} ms after ${signal}, killed`, this.output());
    }
    return r;
  }

  /** kill -9: no cleanup at all (the crash the kernel must recover from). */
  async kill9(): Promise<TargetExit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** CPU time the target used so far, in clock ticks (utime + stime of /proc/PID/stat, all threads). */
  cpuTicks(): number {
    return processCpuTicks(this.pid);
  }
}

/** utime + stime of a process (all its threads), in clock ticks (USER_HZ, 100 on Linux). */
export function processCpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Fields after the command name (which may hold spaces) in parentheses.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
