// Nothing acknowledged is lost: a process writing to a file-backed namespace
// is killed with SIGKILL at random moments; every write it had seen complete
// is then read back, intact, by a new process after the simulated device
// itself restarted on the same file. A block may instead hold a later write
// to the same LBA that was still in flight at the kill: newer data, allowed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { Controller } from '../host/index.js';
import { member, startSim, stop } from './helpers/procs.js';
import { pattern, xorshift } from './helpers/rand.js';

const tag = `dur${process.pid}`;
const image = `/tmp/nvme-wasm-${tag}.img`;
const simConfig = { name: tag, namespaces: [{ lbaSize: 512, blocks: 16384, backing: 'file', path: image }] };

test('kill -9 of a writer at random points: every acknowledged block reads back intact', async () => {
  fs.rmSync(image, { force: true });
  let sim = await startSim(simConfig);
  const trid = `trtype:sim name:${tag}`;
  const latest = new Map<number, number>(); // lba -> last acknowledged sequence
  const rand = xorshift(99);
  let acked = 0;
  try {
    for (let round = 0; round < 5; round++) {
      const w = member({ shmId: 500 + round, prefix: tag, trid, role: 'writer', lba: round * 2048, blocks: 2048 });
      await w.waitLine('ack ');
      await new Promise((r) => setTimeout(r, 50 + rand(300)));
      w.child.kill('SIGKILL');
      await w.exited;
      for (const l of w.lines) {
        if (!l.startsWith('ack ')) continue;
        const [, lba, seq] = l.split(' ').map(Number) as [number, number, number];
        if ((latest.get(lba) ?? 0) < seq) latest.set(lba, seq);
        acked++;
      }
    }
    // Restart the device on the same file: acknowledged data must survive that too.
    await stop(sim);
    sim = await startSim(simConfig);
    const ctrl = await Controller.open({ transport: trid });
    try {
      const ns = ctrl.namespace(1);
      let bad = 0;
      let superseded = 0;
      for (const [lba, seq] of latest) {
        const got = await ns.readBlocks(lba, 1);
        // Intact: a whole, valid stamp for this LBA, from the last
        // acknowledged write or a later one (a write still in flight at the
        // kill may land after it; that is newer data, not loss).
        const gotSeq = got.readUInt32LE(8);
        if (gotSeq < seq || !got.equals(pattern(lba, 1, 512, gotSeq))) bad++;
        else if (gotSeq > seq) superseded++;
      }
      assert.ok(acked > 100, `${acked} acknowledged writes`);
      assert.is(bad, 0, `${bad} of ${latest.size} acknowledged blocks lost or corrupted`);
      assert.ok(superseded < latest.size / 4, `${superseded} blocks hold a later write`);
    } finally {
      await ctrl.close();
    }
  } finally {
    await stop(sim);
    fs.rmSync(image, { force: true });
    // The killed writers' groups had no other member left to remove their files.
    for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`${tag}_`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
  }
});

test.run();
