// Shared steps of the guest-side PCIe tests (test/vm-driver*.test.ts,
// test/vm-multiprocess.test.ts): the CLI, binding the controllers under test
// to the route's driver with `nvme-wasm setup`, and giving them back to the
// kernel with `setup reset`, waiting until nvme has them live again.
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { vmConfig, ROUTE_DRIVER, type VmConfig, type VmDevice } from '../vm/env.js';

export const MAIN = fileURLToPath(new URL('../../host/cli/nvme-wasm.cjs', import.meta.url));

export interface CliResult { code: number; out: string; err: string }

export function cliSync(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

export function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

export const tridOf = (d: VmDevice): string => `trtype:PCIe traddr:${d.bdf}`;

export function driverOf(vm: VmConfig): string {
  return ROUTE_DRIVER[vm.route];
}

/** Polls `cond` (sysfs: the kernel probes in work items) up to a liveness cap. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false, capMs = 180_000): Promise<T> {
  const end = Date.now() + capMs;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`still waiting for ${what} after ${capMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The kernel's controller directory state ('live', ...) of `bdf`, if nvme holds it. */
export function kernelState(bdf: string): string | undefined {
  const dir = `/sys/bus/pci/devices/${bdf}/nvme`;
  try {
    const [c] = fs.readdirSync(dir);
    return c ? fs.readFileSync(`${dir}/${c}/state`, 'latin1').trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Block devices (nvmeXnY) of the kernel's controller at `bdf`. */
export function kernelBlockDevices(bdf: string): string[] {
  const dir = `/sys/bus/pci/devices/${bdf}/nvme`;
  try {
    const [c] = fs.readdirSync(dir);
    return c ? fs.readdirSync(`${dir}/${c}`).filter((n) => /^nvme\d+n\d+$/.test(n)).sort() : [];
  } catch {
    return [];
  }
}

/** Bind `devices` to the route's driver with `nvme-wasm setup`; throws with its output on failure. */
export function bindForRoute(vm: VmConfig, devices: VmDevice[]): CliResult {
  const r = cliSync('setup', '--driver', driverOf(vm), '--allow', devices.map((d) => d.bdf).join(','));
  if (r.code !== 0) throw new Error(`nvme-wasm setup failed (${r.code}): ${r.out} ${r.err}`);
  return r;
}

/** `nvme-wasm setup reset` for `devices`, then wait until nvme has each live with all its namespaces. */
export async function resetToKernel(devices: VmDevice[]): Promise<CliResult> {
  const r = cliSync('setup', 'reset', '--allow', devices.map((d) => d.bdf).join(','));
  for (const d of devices) {
    await waitFor(`nvme to bring ${d.bdf} back`, () => kernelState(d.bdf) === 'live' && kernelBlockDevices(d.bdf).length === d.namespaces.length
      && kernelBlockDevices(d.bdf).every((b) => fs.existsSync(`/dev/${b}`)));
  }
  return r;
}

export { vmConfig };
