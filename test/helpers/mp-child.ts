// A group member for the multi-process tests, run as its own OS process:
//   node mp-child.js '<json>'   with { shmId, prefix, trid, role, ... }
// Prints 'ready <slot> <primary|secondary>' once joined, 'device <its transport>', progress lines, and a
// final 'done <json>' summary; exits non-zero on any error.
import { Controller, ControllerResetError } from '../../host/index.js';
import { pattern } from './rand.js';

interface Args {
  shmId: number;
  prefix: string;
  trid?: string;
  role: 'io' | 'admin' | 'hold' | 'tool' | 'hold-lock' | 'die-in-lock' | 'die-mid-post' | 'writer' | 'reset' | 'mp-peer' | 'mp-requester';
  procType?: 'auto' | 'primary' | 'secondary';
  lba?: number; // first block of this process's range (io)
  blocks?: number; // range size (io)
  rounds?: number; // io rounds or admin commands; 0 = until SIGTERM
  depth?: number; // admin commands in flight
  nsCount?: number;
  /** io: a round that meets a controller reset is counted and retried, not fatal. */
  tolerateReset?: boolean;
  /** io: wait until the group has this many live members before the I/O starts (so they overlap). */
  members?: number;
  // mp-peer: answer 'hang' requests never (print 'hanging' when one arrives)
  // mp-requester: what to send to the primary, and how
  mode?: 'send' | 'request' | 'requestAsync';
  action?: string;
  payload?: unknown;
  timeoutMs?: number;
  /** hold-lock: how long to keep the group lock (ms). */
  holdMs?: number;
}

const a = JSON.parse(process.argv[2]!) as Args;
const out = (s: string) => process.stdout.write(`${s}\n`);

const ctrl = await Controller.open({ shmId: a.shmId, filePrefix: a.prefix, transport: a.trid, procType: a.procType ?? 'auto', regionSize: 32 << 20 });
out(`ready ${ctrl.group.self} ${ctrl.isPrimary ? 'primary' : 'secondary'}`);
out(`device ${ctrl.transport.description}`);
ctrl.on('asyncEvent', (dw0) => out(`event ${dw0}`));
ctrl.on('primary', () => out('primary'));
let resets = 0;
ctrl.on('reset', (r) => {
  resets++;
  out(`reset ${r.reason} ${r.generation} ${r.ranHere ? 'here' : 'elsewhere'}`);
});
ctrl.on('notification', (n) => out(`notification ${n.kind} ${JSON.stringify(n.detail)} from ${n.from.slot}`));
let stop = false;
process.on('SIGTERM', () => {
  stop = true;
});
/** Resolves once SIGTERM has come. */
const untilStopped = (): Promise<void> =>
  new Promise<void>((r) => {
    const t = setInterval(() => {
      if (stop) {
        clearInterval(t);
        r();
      }
    }, 20);
  });

const summary: Record<string, number> = {};
if (a.role === 'io') {
  const until = performance.now() + 60_000;
  while (ctrl.group.liveSlots().length < (a.members ?? 0)) {
    if (performance.now() > until) throw new Error(`only ${ctrl.group.liveSlots().length} of ${a.members} members joined`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const ns = ctrl.namespace(1);
  const qp = await ctrl.createQueuePair({ depth: 32 });
  const base = a.lba ?? 0;
  const span = a.blocks ?? 1024;
  let round = 0;
  let mismatches = 0;
  let resetErrors = 0;
  let roundsAfterReset = 0;
  while (!stop && (a.rounds === undefined || a.rounds === 0 || round < a.rounds)) {
    const n = 1 + (round % 16);
    const lba = base + ((round * 37) % (span - n));
    const d = pattern(lba, n, ns.blockSize, round);
    try {
      await ns.write(lba, d, { qpair: qp });
      const back = await ns.readBlocks(lba, n, { qpair: qp });
      if (!back.equals(d)) mismatches++;
    } catch (e) {
      if (!(a.tolerateReset && e instanceof ControllerResetError)) throw e;
      resetErrors++;
      continue; // the same round again, on the same queue pair
    }
    round++;
    if (resets > 0 && ++roundsAfterReset % 20 === 0) out(`after-reset ${roundsAfterReset}`);
    if (round % 50 === 0) out(`progress ${round}`);
  }
  summary.rounds = round;
  summary.mismatches = mismatches;
  summary.resetErrors = resetErrors;
  summary.resets = resets;
  summary.roundsAfterReset = roundsAfterReset;
  await qp.delete();
} else if (a.role === 'admin') {
  // Identify Namespace of "our" namespace: its size tells whether the data
  // we got is ours; every completion must come back exactly once.
  const nn = a.nsCount ?? 1;
  const nsid = 1 + (ctrl.group.self % nn);
  const want = BigInt(ctrl.namespace(nsid).blocks);
  const total = a.rounds ?? 200;
  let sent = 0;
  let ok = 0;
  let wrong = 0;
  const inflight = new Set<Promise<void>>();
  while (sent < total) {
    while (inflight.size < (a.depth ?? 8) && sent < total) {
      sent++;
      const p = ctrl.identifyRaw(0, nsid).then((b) => {
        if (b.readBigUInt64LE(0) === want) ok++;
        else wrong++;
      });
      const q = p.finally(() => inflight.delete(q));
      inflight.add(q);
    }
    await Promise.race(inflight);
  }
  await Promise.all(inflight);
  summary.sent = sent;
  summary.ok = ok;
  summary.wrong = wrong;
  summary.foreign = ctrl.admin.foreignCompletions;
} else if (a.role === 'hold') {
  const qp = await ctrl.createQueuePair({ depth: 8 });
  const buf = ctrl.allocDma(64 * 1024);
  out('holding');
  await untilStopped();
  buf.free();
  await qp.delete();
} else if (a.role === 'hold-lock') {
  // Keep the group lock for holdMs (this process's own event loop stands still meanwhile), then let go.
  ctrl.group.lock();
  out('locked');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, a.holdMs ?? 2000);
  out('unlocking');
  ctrl.group.unlock();
  await untilStopped();
} else if (a.role === 'die-in-lock') {
  // Take the group lock and never let go (the test kills us with SIGKILL).
  ctrl.group.lock();
  out('locked');
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
} else if (a.role === 'die-mid-post') {
  // Post an admin command (tail advanced, doorbell not rung) inside the lock, then hang.
  ctrl.group.lock();
  const buf = ctrl.allocDma(4096);
  const slot = ctrl.core.submitIdentify(ctrl.admin.desc, 1, 0, 0, buf.regionOffset);
  out(`posted ${slot}`);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
} else if (a.role === 'writer') {
  // Keep 8 writes in flight over [lba, lba + blocks), each block stamped with
  // its LBA and a sequence number; print 'ack LBA SEQ' only once the write
  // has completed (acknowledged by the controller). Runs until killed.
  const ns = ctrl.namespace(1);
  const qp = await ctrl.createQueuePair({ depth: 16 });
  const base = a.lba ?? 0;
  const span = a.blocks ?? 4096;
  let seq = 0;
  const writer = async (w: number) => {
    for (;;) {
      const s = ++seq;
      const lba = base + ((s * 7919 + w) % span);
      await ns.write(lba, pattern(lba, 1, ns.blockSize, s), { qpair: qp });
      out(`ack ${lba} ${s}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
} else if (a.role === 'reset') {
  // Reset the controller for the group (the test may kill us in the middle).
  out('resetting');
  await ctrl.reset();
  out('reset-done');
} else if (a.role === 'mp-peer') {
  // A member that answers messages and requests until SIGTERM:
  //   echo       -> { got: payload, slot, pid }
  //   hang       -> never answers (prints 'hanging')
  //   hang-if    -> never answers if payload.slot is ours, else { answered: slot }
  //   boom       -> throws Error('boom')
  //   big        -> an answer over the payload limit
  //   unregister -> unregisters action payload.name if payload.slot is ours
  //   io         -> payload { [slot]: { writes, reads, blocks } }: that I/O on its own queue pair
  //   note       -> (a message) prints 'note <json> from <slot>'
  const ns = ctrl.namespace(1);
  let qp: Awaited<ReturnType<typeof ctrl.createQueuePair>> | undefined;
  const me = ctrl.group.self;
  ctrl.mp.register('echo', (payload) => ({ got: payload, slot: me, pid: process.pid }));
  ctrl.mp.register('hang', () => {
    out('hanging');
    return new Promise(() => {});
  });
  ctrl.mp.register('hang-if', (p) => {
    if ((p as { slot: number }).slot !== me) return { answered: me };
    out('hanging');
    return new Promise(() => {});
  });
  ctrl.mp.register('boom', () => {
    throw new Error('boom');
  });
  ctrl.mp.register('big', () => 'x'.repeat(70000));
  ctrl.mp.register('unregister', (p) => {
    const q = p as { name: string; slot: number };
    return q.slot === me ? ctrl.mp.unregister(q.name) : false;
  });
  ctrl.mp.register('note', (p, from) => out(`note ${JSON.stringify(p)} from ${from.slot}`));
  ctrl.mp.register('io', async (p) => {
    const q = (p as Record<string, { writes: number; reads: number; blocks: number }>)[String(me)];
    if (!q) return null;
    qp ??= await ctrl.createQueuePair({ depth: 16 });
    const base = me * 4096;
    for (let i = 0; i < q.writes; i++) await ns.write(base + i, Buffer.alloc(q.blocks * ns.blockSize, i), { qpair: qp });
    for (let i = 0; i < q.reads; i++) await ns.readBlocks(base + i, q.blocks, { qpair: qp });
    return { writes: q.writes, reads: q.reads, qid: qp.qid };
  });
  out('listening');
  await untilStopped();
  if (qp) await qp.delete();
} else if (a.role === 'mp-requester') {
  const name = a.action ?? 'echo';
  const opts = { timeoutMs: a.timeoutMs ?? 5000 };
  if (a.mode === 'send') out(`result ${JSON.stringify({ sent: await ctrl.mp.send(name, a.payload) })}`);
  else if (a.mode === 'requestAsync') {
    const r = await new Promise((resolve) => ctrl.mp.requestAsync(name, a.payload, opts, resolve));
    out(`result ${JSON.stringify(r)}`);
  } else out(`result ${JSON.stringify(await ctrl.mp.request(name, a.payload, opts))}`);
} else if (a.role === 'tool') {
  summary.namespaces = ctrl.namespaces.size;
  summary.serial = ctrl.data.serialNumber.length;
}
await ctrl.close();
out(`done ${JSON.stringify(summary)}`);
