// Throughput of the simulated controller fed by a minimal register-level
// host: 4 KiB reads (nullIo, no latency) at queue depth QD on NQ queue
// pairs, doorbells rung once per poll. Not a test: run it by hand,
//   node dist/test/sim-bench.js [seconds] [qd] [queues]
import { SimHarness, IOVA, DATA_OFF } from '../test/sim-harness.js';
import * as R from '../assembly/nvme/regs.js';
import { NvmOpc, CQE_DW3_P_SHIFT } from '../assembly/nvme/cmd.js';

const seconds = Number(process.argv[2] ?? 3);
const qd = Number(process.argv[3] ?? 128);
const nq = Number(process.argv[4] ?? 1);
const size = 1024;
const h = await SimHarness.start({ name: `bench-${process.pid}`, nullIo: process.env.NULLIO !== "0", mqes: size - 1, namespaces: [{ lbaSize: 512, blocks: 1 << 21 }] });
try {
  await h.enable();
  const qs: Array<{ qid: number; sqOff: number; cqOff: number; tail: number; head: number; phase: number; inflight: number; sqDb: number; cqDb: number }> = [];
  for (let q = 1; q <= nq; q++) {
    const sqOff = 0x10000 * q * 2;
    const cqOff = sqOff + 0x10000;
    await h.createQueuePair(q, size, sqOff, cqOff);
    qs.push({ qid: q, sqOff, cqOff, tail: 0, head: 0, phase: 1, inflight: 0, sqDb: R.doorbellOffset(q, false, 0) >>> 2, cqDb: R.doorbellOffset(q, true, 0) >>> 2 });
  }
  const u = h.regionU32;
  const bar = h.bar;
  let done = 0;
  let cid = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let checks = 0;
  for (;;) {
    for (const q of qs) {
      let reaped = 0;
      for (;;) {
        const i = (q.cqOff + q.head * 16) >>> 2;
        const dw3 = Atomics.load(u, i + 3);
        if (((dw3 >>> CQE_DW3_P_SHIFT) & 1) !== q.phase) break;
        if (dw3 >>> 17 !== 0) throw new Error(`status 0x${(dw3 >>> 17).toString(16)}`);
        if (++q.head === size) { q.head = 0; q.phase ^= 1; }
        reaped++;
      }
      if (reaped > 0) { Atomics.store(bar, q.cqDb, q.head); q.inflight -= reaped; done += reaped; }
      let sub = 0;
      while (q.inflight < qd) {
        const e = (q.sqOff + q.tail * 64) >>> 2;
        const slba = (cid * 8) & ((1 << 21) - 1);
        u[e] = NvmOpc.Read | ((cid++ & 0xffff) << 16); u[e + 1] = 1;
        const prp = IOVA + DATA_OFF + (q.tail & 63) * 4096;
        u[e + 6] = prp % 2 ** 32; u[e + 7] = Math.floor(prp / 2 ** 32); u[e + 8] = 0; u[e + 9] = 0;
        u[e + 10] = slba; u[e + 11] = 0; u[e + 12] = 7;
        if (++q.tail === size) q.tail = 0;
        q.inflight++; sub++;
      }
      if (sub > 0) Atomics.store(bar, q.sqDb, q.tail);
    }
    if ((++checks & 1023) === 0 && performance.now() > end) break;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`${(done / s / 1e6).toFixed(2)} M IOPS (4 KiB reads, nullIo ${process.env.NULLIO !== "0"}, qd ${qd} x ${nq} queues, ${s.toFixed(1)} s)`);
} finally {
  await h.stop();
}
