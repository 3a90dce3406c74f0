// SQ/CQ ring mechanics of the Wasm core: tail/head, the phase tag over many
// laps, SQ-full detection from CQE.SQHD, one doorbell per batch, cids never
// reused while outstanding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeHarness, makeQp, RingDevice, qpField } from './helpers/core-harness.js';
import { QP_SQ_DB_WRITES, QP_CQ_DB_WRITES, QP_BOGUS, OUT_STRIDE, OUT_SLOT, OUT_CID, OUT_STATUS, OUT_DW0 } from '../assembly/abi/qpair.js';
import { CoreStatus } from '../assembly/abi/status.js';

const h = makeHarness();
const out = () => new Uint32Array(h.region.layout.memory.buffer, h.core.outPtr(), 256 * OUT_STRIDE);

function submitFlush(desc: number): number {
  return h.core.submitFlush(desc, 1);
}

for (const qsize of [2, 3, 16, 64, 1024]) {
  test(`ring: ${qsize}-entry queue, 12 laps of submit / complete, phase and wrap`, () => {
    const qp = makeQp(h, { qid: 2 + qsize % 13, qsize });
    const dev = new RingDevice(h, qp);
    const laps = 12;
    const total = qsize * laps;
    let submitted = 0;
    let completed = 0;
    const outstanding = new Set<number>();
    while (completed < total) {
      // Fill what the ring allows, in batches of up to 7.
      let batch = 0;
      while (submitted < total && batch < 7) {
        const slot = submitFlush(qp.desc);
        if (slot < 0) {
          assert.ok(slot === CoreStatus.NoSlot || slot === CoreStatus.SqFull, `unexpected ${slot}`);
          break;
        }
        const cid = h.core.slotCid(qp.desc, slot);
        assert.not.ok(outstanding.has(cid), `cid ${cid} reused while outstanding`);
        outstanding.add(cid);
        submitted++;
        batch++;
      }
      h.core.qpRing(qp.desc);
      const cmds = dev.fetch();
      // Complete in reverse order (out of order is legal), as much as the CQ holds.
      const room = Math.min(cmds.length, dev.cqSpace());
      assert.is(room, cmds.length, 'the host released CQ entries in time');
      for (const c of cmds.reverse()) dev.complete(c.cid, { dw0: c.cid });
      const n = h.core.qpPoll(qp.desc, 256);
      assert.is(n, cmds.length);
      const o = out();
      for (let i = 0; i < n; i++) {
        const cid = o[i * OUT_STRIDE + OUT_CID]!;
        assert.ok(outstanding.delete(cid), `completion for cid ${cid} that was outstanding`);
        assert.is(o[i * OUT_STRIDE + OUT_DW0], cid);
        assert.is(o[i * OUT_STRIDE + OUT_STATUS], 0);
        assert.is(o[i * OUT_STRIDE + OUT_SLOT], cid & ((1 << qpField(h, qp, 48)) - 1));
      }
      completed += n;
      // The CQ head doorbell names the entry after the last one reaped.
      assert.is(dev.cqHeadDoorbell(), dev.cqTail);
    }
    assert.is(h.core.qpOutstanding(qp.desc), 0);
    assert.is(dev.cqTail, total % qsize);
    assert.is(dev.phase, 1 ^ (Math.floor(total / qsize) & 1), 'phase flipped once per lap');
  });
}

test('ring: the expected phase flips exactly at the wrap', () => {
  const qp = makeQp(h, { qid: 22, qsize: 4 });
  const dev = new RingDevice(h, qp);
  // Three commands, complete them: entries 0..2 with phase 1.
  for (let i = 0; i < 3; i++) assert.ok(submitFlush(qp.desc) >= 0);
  h.core.qpRing(qp.desc);
  for (const c of dev.fetch()) dev.complete(c.cid);
  assert.is(h.core.qpPoll(qp.desc, 256), 3);
  // Next entry (index 3) still phase 1, then index 0 with phase 0.
  for (let i = 0; i < 2; i++) assert.ok(submitFlush(qp.desc) >= 0);
  h.core.qpRing(qp.desc);
  const cmds = dev.fetch();
  dev.complete(cmds[0]!.cid);
  assert.is(dev.phase, 0);
  // A stale entry at index 0 carries phase 1 from the previous lap: not new.
  assert.is(h.core.qpPoll(qp.desc, 256), 1);
  assert.is(h.core.qpPoll(qp.desc, 256), 0, 'old-phase entry ignored');
  dev.complete(cmds[1]!.cid);
  assert.is(h.core.qpPoll(qp.desc, 256), 1);
});

test('SQ full: detected from CQE.SQHD, not from free command slots', () => {
  // 8 entries, 7 slots: make the controller report an SQ head that lags.
  const qp = makeQp(h, { qid: 23, qsize: 8 });
  const dev = new RingDevice(h, qp);
  for (let i = 0; i < 7; i++) assert.ok(submitFlush(qp.desc) >= 0);
  assert.is(submitFlush(qp.desc), CoreStatus.SqFull, 'tail + 1 == head: full');
  h.core.qpRing(qp.desc);
  const cmds = dev.fetch();
  // Complete all 7 but claim the controller consumed only 2 entries (sqhd = 2).
  for (const c of cmds) dev.complete(c.cid, { sqhd: 2 });
  assert.is(h.core.qpPoll(qp.desc, 256), 7);
  // Every slot is free, yet the SQ has room for only 2 more: (tail 7 + 1) % 8 ... head 2.
  assert.ok(submitFlush(qp.desc) >= 0);
  assert.ok(submitFlush(qp.desc) >= 0);
  assert.is(submitFlush(qp.desc), CoreStatus.SqFull);
  assert.ok(h.core.qpSqFullSeen(qp.desc) >= 2);
});

test('slots: NoSlot when every command slot is outstanding', () => {
  const qp = makeQp(h, { qsize: 16, nslots: 4 });
  for (let i = 0; i < 4; i++) assert.ok(submitFlush(qp.desc) >= 0);
  assert.is(submitFlush(qp.desc), CoreStatus.NoSlot);
  assert.is(h.core.qpOutstanding(qp.desc), 4);
});

test('doorbells: one SQ doorbell and one CQ doorbell per batch', () => {
  const qp = makeQp(h, { qid: 20, qsize: 64 });
  const dev = new RingDevice(h, qp);
  for (let i = 0; i < 20; i++) assert.ok(submitFlush(qp.desc) >= 0);
  assert.is(dev.sqTailDoorbell(), 0, 'no doorbell before qpRing');
  assert.is(h.core.qpRing(qp.desc), 1);
  assert.is(h.core.qpRing(qp.desc), 0, 'nothing new: no second write');
  assert.is(dev.sqTailDoorbell(), 20);
  assert.is(qpField(h, qp, QP_SQ_DB_WRITES), 1);
  for (const c of dev.fetch()) dev.complete(c.cid);
  assert.is(h.core.qpPoll(qp.desc, 256), 20);
  assert.is(qpField(h, qp, QP_CQ_DB_WRITES), 1, 'one CQ head doorbell for 20 completions');
  assert.is(dev.cqHeadDoorbell(), 20);
  assert.is(h.core.qpPoll(qp.desc, 256), 0);
  assert.is(qpField(h, qp, QP_CQ_DB_WRITES), 1, 'an empty poll rings nothing');
});

test('poll: max bounds the batch; the rest waits for the next poll', () => {
  const qp = makeQp(h, { qid: 21, qsize: 64 });
  const dev = new RingDevice(h, qp);
  for (let i = 0; i < 10; i++) submitFlush(qp.desc);
  h.core.qpRing(qp.desc);
  for (const c of dev.fetch()) dev.complete(c.cid);
  assert.is(h.core.qpPoll(qp.desc, 3), 3);
  assert.is(dev.cqHeadDoorbell(), 3);
  assert.is(h.core.qpPoll(qp.desc, 256), 7);
  assert.is(dev.cqHeadDoorbell(), 10);
});

test('cids: a completion for an idle or stale cid is counted, not reported', () => {
  const qp = makeQp(h, { qid: 24, qsize: 8 });
  const dev = new RingDevice(h, qp);
  const slot = submitFlush(qp.desc);
  const cid = h.core.slotCid(qp.desc, slot);
  h.core.qpRing(qp.desc);
  dev.fetch();
  dev.complete(cid);
  dev.complete(cid); // duplicate
  dev.complete(cid ^ 0x100); // right slot, wrong generation
  dev.complete(5); // slot 5 never used
  assert.is(h.core.qpPoll(qp.desc, 256), 1);
  assert.is(qpField(h, qp, QP_BOGUS), 3);
  // The slot's next cid differs (generation bumped), so the late duplicate could never match it.
  const slot2 = submitFlush(qp.desc);
  assert.is(slot2, slot);
  assert.is.not(h.core.slotCid(qp.desc, slot2), cid);
});

test('cids: owner field on the admin queue encodes the submitting process', () => {
  const qp = makeQp(h, { qid: 0, qsize: 32, ownerBits: 6 });
  h.core.setSelf(5);
  const slot = submitFlush(qp.desc);
  const cid = h.core.slotCid(qp.desc, slot);
  h.core.setSelf(0);
  const slotBits = qpField(h, qp, 48);
  assert.is((cid >> slotBits) & 0x3f, 5);
  assert.is(cid & ((1 << slotBits) - 1), slot);
});

test.run();
