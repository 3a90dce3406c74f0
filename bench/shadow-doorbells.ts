// npm run bench:doorbells: what shadow doorbells (NVMe 1.4, 5.10 Doorbell
// Buffer Config, the EventIdx rule of 7.13) change on QEMU's NVMe
// controller, where an MMIO doorbell write leaves translated code for the
// device model. One guest boot (test/vm harness, TCG, route vfio or uio by
// --route); inside it `nvme-wasm perf` 4 KiB random reads on NSID 1..2 of
// one controller, alternating with and without shadow doorbells
// (--no-shadow-doorbells), REPS rounds of SECONDS each at every queue depth.
// Figures are medians over the rounds; the ratio is on/off in the same boot
// (TCG varies by tens of percent between boots: compare within one run).
import { Command, InvalidArgumentError } from 'commander';
import { runInGuest } from '../test/vm/guest.js';
import { median } from './common.js';

const program = new Command('bench:doorbells')
  .option('--route <r>', 'vfio or uio', (v: string) => {
    if (v !== 'vfio' && v !== 'uio') throw new InvalidArgumentError('vfio or uio');
    return v;
  }, 'vfio')
  .option('--reps <n>', 'rounds per setting', (v: string) => Number(v), 3)
  .option('--seconds <n>', 'seconds per round', (v: string) => Number(v), 4)
  .option('--depths <list>', 'queue depths', (v: string) => v.split(',').map(Number), [1, 32])
  .parse();
const o = program.opts<{ route: 'vfio' | 'uio'; reps: number; seconds: number; depths: number[] }>();

const driver = o.route === 'vfio' ? 'vfio-pci' : 'uio_pci_generic';
const runs: string[] = [];
for (const q of o.depths) {
  for (let r = 0; r < o.reps; r++) {
    for (const mode of r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
      const perf = `node dist/host/cli/main.js perf -r 'trtype:PCIe traddr:0000:00:04.0' -q ${q} -o 4096 -w randread -t ${o.seconds} --json ${mode === 'off' ? '--no-shadow-doorbells' : ''}`;
      runs.push(`if out=$(${perf} 2>/tmp/perf.err); then echo "RESULT ${q} ${mode} $(echo "$out" | tr -d '\\n')"; else echo "FAILED ${q} ${mode}: $(tail -3 /tmp/perf.err | tr '\\n' ' ')"; fi`);
    }
  }
}
const script = [
  `node dist/host/cli/main.js setup --driver ${driver} --allow 0000:00:04.0 >/dev/null || exit 1`,
  ...runs,
  'node dist/host/cli/main.js setup reset >/dev/null',
].join('\n');

const r = await runInGuest({
  name: `bench-doorbells-${o.route}`,
  nvme: [{ namespaces: [{ lbaSize: 512, sizeMiB: 256 }, { lbaSize: 4096, sizeMiB: 256 }] }],
  iommu: true,
  smp: 2,
  memMiB: 2048,
  hugepages: 128,
  script,
  timeoutMs: 60 * 60_000,
});
if (r.exitCode !== 0) {
  console.error(r.stderr);
  throw new Error(`guest exited ${r.exitCode}`);
}

interface Row { iops: number; skipped: number }
const results = new Map<string, Row[]>();
for (const line of r.stdout.split('\n')) {
  if (line.startsWith('FAILED ')) console.log(line);
  const m = /^RESULT (\d+) (on|off) (.*)$/.exec(line);
  if (!m) continue;
  const doc = JSON.parse(m[3]!) as { total: { iops: number }; config: { doorbellWritesSkipped: number } };
  const k = `${m[1]} ${m[2]}`;
  results.set(k, [...(results.get(k) ?? []), { iops: doc.total.iops, skipped: doc.config.doorbellWritesSkipped }]);
}
console.log(`shadow doorbells, QEMU NVMe under TCG, route ${o.route}, 4 KiB randread on 2 namespaces, ${o.reps} x ${o.seconds} s per setting (medians)`);
console.log('QD   IOPS on    IOPS off   on/off   MMIO doorbell writes skipped (on, per run)');
for (const q of o.depths) {
  const on = results.get(`${q} on`) ?? [];
  const off = results.get(`${q} off`) ?? [];
  const a = median(on.map((x) => x.iops));
  const b = median(off.map((x) => x.iops));
  console.log(`${String(q).padEnd(4)} ${a.toFixed(0).padStart(9)} ${b.toFixed(0).padStart(10)}   ${(a / b).toFixed(2).padStart(6)}   ${median(on.map((x) => x.skipped)).toFixed(0)}`);
}
