// node bench/socket-rtt/run.mjs (after npm run build): boots the QEMU guest of
// test/vm (TCG, 2 vCPUs) and runs guest.sh in it. An investigation of issue
// 13/14's QD1 figures (docs/nvmf-target.md), not a product benchmark.
import fs from 'node:fs';
import { runInGuest } from '../../dist/test/vm/guest.js';
const r = await runInGuest({ name: 'socket-rtt', nvme: [{ namespaces: [{ lbaSize: 4096, sizeMiB: 64 }] }], smp: 2, memMiB: 1024,
  script: fs.readFileSync(new URL('./guest.sh', import.meta.url), 'utf8'), timeoutMs: 900000,
  onStdout: (s) => process.stdout.write(s), onStderr: (s) => process.stderr.write(s) });
console.log(`exit ${r.exitCode}, boot ${r.bootSeconds} s, ${r.seconds.toFixed(0)} s in all`);
process.exitCode = r.exitCode;
