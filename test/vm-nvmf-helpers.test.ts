// The NVMe/TCP guest helpers' own checks that need no guest (they run on
// the host in `npm test` and again in the guest): the command lines they
// build, fio's output parsed, and the project-target contract handled by
// NvmfTarget against stand-ins: the listening line split across writes, a
// target that exits before listening or never listens, SIGTERM and -9.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  NvmfTarget, targetArgs, CLI_MAIN, processCpuTicks, fabricsOptions, verifyArgs, perfArgs, perfFigures, parseFio,
  NvmetTarget, nvmetAvailable, DEFAULT_CTRL_LOSS_TMO,
} from './vm/nvmf.js';
import { NvmfTargetError, NvmetConfigError } from './vm/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-helpers-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in target: a node script (signal handlers go before the listening line, as the contract's target must do). */
function standIn(name: string, body: string): readonly string[] {
  const file = path.join(dir, `${name}.mjs`);
  fs.writeFileSync(file, body);
  return [process.execPath, file];
}

test('targetArgs: the contract\'s flags, repeatable ones repeated', () => {
  assert.equal(
    targetArgs({ trid: 'trtype:PCIe traddr:0000:00:04.0', shmId: 13, listen: ['127.0.0.1:4420', '127.0.0.1:4421'], subnqn: 'nqn.x', allowHosts: ['h1', 'h2'] }),
    [CLI_MAIN, 'nvmf-tgt', '-r', 'trtype:PCIe traddr:0000:00:04.0', '-i', '13', '--listen', '127.0.0.1:4420', '--listen', '127.0.0.1:4421', '--subnqn', 'nqn.x', '--allow-host', 'h1', '--allow-host', 'h2'],
  );
  assert.equal(targetArgs({ allowAnyHost: true, config: '/c.json' }), [CLI_MAIN, 'nvmf-tgt', '--allow-any-host', '--config', '/c.json']);
});

test('fabricsOptions: the /dev/nvme-fabrics string of a second host', () => {
  assert.is(
    fabricsOptions({ nqn: 'nqn.s', hostnqn: 'nqn.h', hostid: 'id', duplicateConnect: true, hdrDigest: true, dataDigest: true, reconnectDelay: 1 }),
    `transport=tcp,traddr=127.0.0.1,trsvcid=4420,nqn=nqn.s,hostnqn=nqn.h,hostid=id,ctrl_loss_tmo=${DEFAULT_CTRL_LOSS_TMO},reconnect_delay=1,hdr_digest,data_digest,duplicate_connect`,
  );
});

test('verifyArgs: crc32c, verify_fatal, no state file; write-only and verify-only passes', () => {
  const a = verifyArgs({ filename: '/dev/nvme1n1' });
  for (const x of ['--rw=randwrite', '--bsrange=4k-256k', '--iodepth=32', '--verify=crc32c', '--verify_fatal=1', '--verify_state_save=0', '--direct=1']) assert.ok(a.includes(x), x);
  assert.ok(verifyArgs({ filename: 'f', writeOnly: true }).includes('--do_verify=0'));
  const v = verifyArgs({ filename: 'f', verifyOnly: true, ioSize: 4096, seed: 7 });
  assert.ok(v.includes('--verify_only=1') && v.includes('--io_size=4096') && v.includes('--randseed=7'));
});

test('perfFigures: IOPS, lat_ns mean and p99 from fio JSON; a failed fio is an error', () => {
  const job = { filename: 'f', rw: 'randread' as const, bs: '4k', iodepth: 1, seconds: 1 };
  assert.ok(perfArgs(job).includes('--lat_percentiles=1'));
  const doc = { jobs: [{ read: { iops: 1000, total_ios: 5000, lat_ns: { mean: 2500, percentile: { '99.000000': 9000 } }, clat_ns: { mean: 2000 } }, write: { iops: 0, total_ios: 0, lat_ns: { mean: 0 }, clat_ns: { mean: 0 } } }] };
  const out = `fio: some note\n${JSON.stringify(doc)}`;
  assert.ok(parseFio(out));
  assert.equal(perfFigures(job, { status: 0, stdout: out, stderr: '' }), { iops: 1000, meanUs: 2.5, p99Us: 9, ios: 5000 });
  assert.throws(() => perfFigures(job, { status: 1, stdout: '', stderr: 'fio: bad' }), (e: Error) => e.name === 'GuestCommandError');
});

test('NvmfTarget: the listening line (written in pieces) gives the addresses; SIGTERM ends it with 0', async () => {
  const command = standIn('ok', `
    process.stdout.write('starting\\nnvmf-tgt: listen');
    setTimeout(() => process.stdout.write('ing on 127.0.0.1:4420,127.0.0.1:4421\\n'), 100);
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1000);
  `);
  const tgt = await NvmfTarget.start({ command });
  assert.equal(tgt.listening, ['127.0.0.1:4420', '127.0.0.1:4421']);
  assert.type(tgt.cpuTicks(), 'number');
  assert.equal(await tgt.stop(), { code: 0, signal: null });
});

test('NvmfTarget: kill9 ends it with SIGKILL', async () => {
  const tgt = await NvmfTarget.start({ command: standIn('k', `process.on('SIGTERM', () => {}); console.log('nvmf-tgt: listening on 127.0.0.1:4420'); setInterval(() => {}, 1000);`) });
  assert.equal(await tgt.kill9(), { code: null, signal: 'SIGKILL' });
});

test('NvmfTarget: exiting before the listening line is an NvmfTargetError with its output', async () => {
  const command = standIn('dies', `console.error('nvmf-tgt: error: no such device'); process.exit(3);`);
  await NvmfTarget.start({ command }).then(
    () => assert.unreachable('started'),
    (e: unknown) => {
      assert.instance(e, NvmfTargetError);
      assert.match((e as NvmfTargetError).reason, /exited \(3\) before listening/);
      assert.match((e as NvmfTargetError).output, 'no such device');
    },
  );
});

test('NvmfTarget: no listening line within the cap: killed, NvmfTargetError', async () => {
  const command = standIn('mute', `console.log('nvmf-tgt: listening soon'); setInterval(() => {}, 1000);`);
  await NvmfTarget.start({ command, startCapMs: 1500 }).then(
    () => assert.unreachable('started'),
    (e: unknown) => {
      assert.instance(e, NvmfTargetError);
      assert.match((e as Error).message, /no 'nvmf-tgt: listening on' line/);
    },
  );
});

test('NvmfTarget: a stand-in that ignores SIGTERM is killed after the cap and reported', async () => {
  const tgt = await NvmfTarget.start({ command: standIn('stubborn', `process.on('SIGTERM', () => {}); console.log('nvmf-tgt: listening on 127.0.0.1:4420'); setInterval(() => {}, 1000);`) });
  await tgt.stop('SIGTERM', 1000).then(
    () => assert.unreachable('stopped'),
    (e: unknown) => assert.instance(e, NvmfTargetError),
  );
  assert.is(tgt.child.signalCode, 'SIGKILL');
});

test('processCpuTicks reads utime+stime of a live process', () => {
  const t = processCpuTicks(process.pid);
  assert.ok(Number.isInteger(t) && t >= 0, String(t));
});

test('NvmetTarget.create without nvmet in configfs is an NvmetConfigError', () => {
  if (nvmetAvailable()) return; // the guest has it: vm-nvmf-kernel.test.ts covers that side
  assert.throws(() => NvmetTarget.create({ subsystems: [] }), (e: unknown) => e instanceof NvmetConfigError);
});

test.run();
