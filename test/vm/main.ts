// `npm run test:vm`: provision (cached), then one guest boot per route, each
// running the guest-side test files (dist/test/vm-*.test.js) against QEMU's
// NVMe controllers. Ends with the plain 'N passed, N failed' line over all
// boots; exits non-zero on any failure, boot failure or timeout.
import fs from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { provision } from './provision.js';
import { runInGuest, type NvmeSpec, type GuestResult } from './guest.js';
import type { VmRoute } from './env.js';
import { VmError, GuestBootError } from './errors.js';

/**
 * The controllers every boot gets (see test/vm/README.md):
 *  - 00:04.0: NSID 1 with 512-byte blocks, NSID 2 with 4096-byte blocks,
 *    QEMU's defaults otherwise (64 I/O queue pairs, MDTS 7 = 512 KiB);
 *  - 00:05.0: max_ioqpairs=2, one 4096-byte namespace.
 */
export const TEST_DEVICES: NvmeSpec[] = [
  { namespaces: [{ lbaSize: 512, sizeMiB: 256 }, { lbaSize: 4096, sizeMiB: 256 }] },
  { maxIoQpairs: 2, namespaces: [{ lbaSize: 4096, sizeMiB: 64 }] },
];

const ROUTES: readonly VmRoute[] = ['vfio', 'uio'];

function parseRoutes(v: string): VmRoute[] {
  const list = v.split(',').map((s) => s.trim());
  for (const r of list) if (!(ROUTES as readonly string[]).includes(r)) throw new InvalidArgumentError(`routes are ${ROUTES.join(', ')}; got "${r}"`);
  return list as VmRoute[];
}

function parsePositive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  return n;
}

function parseEnv(v: string, acc: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(v);
  if (!m) throw new InvalidArgumentError(`expected NAME=VALUE, got "${v}"`);
  return { ...acc, [m[1]!]: m[2]! };
}

const program = new Command('test:vm')
  .description('Boots QEMU guests with NVMe controllers and runs dist/test/vm-*.test.js inside them, once per route')
  .option('--routes <list>', 'user-space routes to run, comma-separated (vfio,uio)', parseRoutes, [...ROUTES])
  .option('--pattern <re>', 'test files to run in the guest (must end in \\.test\\.js$)', '^vm-.*\\.test\\.js$')
  .option('--timeout <s>', 'per-boot limit in seconds', parsePositive, 3600)
  .option('--smp <n>', 'guest vCPUs', parsePositive, 2)
  .option('--env <NAME=VALUE>', 'extra environment of the guest tests, repeatable (e.g. NVME_WASM_VM_NVMF_STANDIN=1)', parseEnv, {} as Record<string, string>)
  .parse();
const opts = program.opts<{ routes: VmRoute[]; pattern: string; timeout: number; smp: number; env: Record<string, string> }>();

const t0 = Date.now();
const prov = provision();
console.log(`vm: provisioned in ${((Date.now() - t0) / 1000).toFixed(1)} s (kernel ${prov.kernelVersion})`);

let passed = 0;
let failed = 0;
let skipped = 0;
const problems: string[] = [];
/**
 * One boot; a guest that fails before its job runs (a TCG boot on a loaded
 * host can) is booted once more, and the first failure is printed.
 */
async function bootOnce(route: VmRoute): Promise<GuestResult> {
  const run = (attempt: number): Promise<GuestResult> =>
    runInGuest({
      name: `test-${route}${attempt > 1 ? `-${attempt}` : ''}`,
      provisioned: prov,
      nvme: TEST_DEVICES,
      iommu: true,
      smp: opts.smp,
      memMiB: 2048,
      hugepages: 128,
      env: { ...opts.env, NVME_WASM_VM_ROUTE: route },
      script: `exec node dist/test/run.js '${opts.pattern.replace(/'/g, '')}'`,
      timeoutMs: opts.timeout * 1000,
      onStdout: (s) => process.stdout.write(s),
      onStderr: (s) => process.stderr.write(s),
    });
  try {
    return await run(1);
  } catch (e) {
    if (!(e instanceof GuestBootError)) throw e;
    console.log(`== vm boot '${route}': the guest failed to boot, booting again\n${e.message}`);
    return run(2);
  }
}

for (const route of opts.routes) {
  console.log(`\n== vm boot '${route}': ${TEST_DEVICES.length} NVMe controllers, intel-iommu, route ${route}`);
  try {
    const r = await bootOnce(route);
    const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$/m.exec(r.stdout);
    console.log(`== vm boot '${route}': exit ${r.exitCode}, job started at ${r.bootSeconds}s guest uptime, ${r.seconds.toFixed(1)} s in all; console: ${r.consoleLog}`);
    // Cores a guest test kept (vm-driver-loop with NVME_WASM_VM_KEEP_CORES=1), beside the console log.
    for (const [name, bytes] of r.files) {
      if (!/^core\.\d+$/.test(name)) continue;
      const to = r.consoleLog.replace(/-console\.log$/, `-${name}`);
      fs.writeFileSync(to, bytes);
      console.log(`== vm boot '${route}': ${name} kept in ${to}`);
    }
    if (!m) {
      failed++;
      problems.push(`${route}: the guest's test runner printed no summary (exit ${r.exitCode})`);
      continue;
    }
    passed += Number(m[1]);
    failed += Number(m[2]);
    skipped += Number(m[3] ?? 0);
    if (r.exitCode !== 0) problems.push(`${route}: guest tests exited ${r.exitCode}`);
  } catch (e) {
    failed++;
    problems.push(`${route}: ${e instanceof VmError ? e.message : String(e)}`);
    console.error(e instanceof VmError ? e.message : e);
  }
}
console.log(`\nvm: ${opts.routes.length} boot(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const p of problems) console.log(`vm: FAILED ${p.split('\n')[0]}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || problems.length > 0 || passed === 0 ? 1 : 0;
