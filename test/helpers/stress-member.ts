// A group member for the kill -9 stress (test/kill-stress.test.ts), run as
// its own OS process:  node stress-member.js '<json>'  { shmId, prefix, trid, role, lba, blocks }
//   io     verified I/O on its own queue pair over its own LBA range; a round
//          a controller reset ends is retried ('ok N' every 5 verified rounds)
//   admin  Identify Namespace in a loop (the admin queue is the group's: it
//          takes the group lock for every command), and now and then a few
//          milliseconds inside the lock ('ok N' every 10 commands)
//   reset  ctrl.reset() on each SIGUSR2, or in a loop with gapMs ('resetting N'
//          before each, 'reset-done N' after)
// Prints 'ready <slot> <primary|secondary>' once joined. SIGTERM: finishes
// the round, closes, prints 'done <json>', exits 0. Failures:
//   exit 4, 'removed ...'   ControllerError('removed') (the controller is gone)
//   exit 3, 'typed ...'     any other typed NvmeError (named)
//   exit 1                  anything untyped: a bug
import { Controller, ControllerError, ControllerResetError, NvmeError } from '../../host/index.js';
import { pattern } from './rand.js';

interface Args {
  shmId: number;
  prefix: string;
  trid: string;
  role: 'io' | 'admin' | 'reset';
  lba?: number;
  blocks?: number;
  /** reset: reset in a loop, this many ms (plus up to 150 ms) apart; without it, one reset per SIGUSR2. */
  gapMs?: number;
}

const a = JSON.parse(process.argv[2]!) as Args;
const out = (s: string) => process.stdout.write(`${s}\n`);
let stop = false;
process.on('SIGTERM', () => (stop = true));
// Installed first: the test may ask for a reset as soon as it sees 'ready'.
let asked = 0;
let wake: (() => void) | undefined;
process.on('SIGUSR2', () => {
  asked++;
  wake?.();
});

function failed(e: unknown): never {
  if (e instanceof ControllerError && e.reason === 'removed') {
    out(`removed ${Date.now()}`);
    process.exit(4);
  }
  if (e instanceof NvmeError) {
    out(`typed ${e.name} ${e instanceof ControllerError ? e.reason : ''} ${e.message.replace(/\n/g, ' ')}`);
    process.exit(3);
  }
  throw e;
}

let ctrl: Controller;
try {
  ctrl = await Controller.open({ shmId: a.shmId, filePrefix: a.prefix, transport: a.trid, regionSize: 32 << 20 });
} catch (e) {
  failed(e);
}
out(`ready ${ctrl.group.self} ${ctrl.isPrimary ? 'primary' : 'secondary'}`);
ctrl.on('primary', () => out('primary'));
ctrl.on('removed', () => {
  out(`removed-event ${Date.now()}`);
  // The resetter may be idle (no command to fail): the event is its news.
  if (a.role === 'reset') failed(new ControllerError('removed (event)', 'removed'));
});

const summary: Record<string, number> = {};
try {
  if (a.role === 'io') {
    const ns = ctrl.namespace(1);
    // A reset elsewhere may end the creation (typed): try again.
    let qp: Awaited<ReturnType<typeof ctrl.createQueuePair>> | undefined;
    for (let i = 0; !qp; i++) {
      try {
        qp = await ctrl.createQueuePair({ depth: 16 });
      } catch (e) {
        if (!(e instanceof ControllerResetError) || i > 50) throw e;
        out(`create-retry ${i}`);
      }
    }
    const base = a.lba ?? 0;
    const span = a.blocks ?? 1024;
    let round = 0;
    let mismatches = 0;
    let resetErrors = 0;
    while (!stop) {
      const n = 1 + (round % 8);
      const lba = base + ((round * 37) % (span - n));
      const d = pattern(lba, n, ns.blockSize, round);
      try {
        await ns.write(lba, d, { qpair: qp });
        const back = await ns.readBlocks(lba, n, { qpair: qp });
        if (!back.equals(d)) {
          mismatches++;
          out(`mismatch ${lba} ${n} ${round}`);
        }
      } catch (e) {
        if (!(e instanceof ControllerResetError)) throw e;
        resetErrors++;
        continue; // the same round again
      }
      round++;
      if (round % 5 === 0) out(`ok ${round}`);
    }
    Object.assign(summary, { rounds: round, mismatches, resetErrors });
    await qp.delete();
  } else if (a.role === 'admin') {
    const want = BigInt(ctrl.namespace(1).blocks);
    let n = 0;
    let wrong = 0;
    let resetErrors = 0;
    while (!stop) {
      try {
        const b = await ctrl.identifyRaw(0, 1);
        if (b.readBigUInt64LE(0) !== want) wrong++;
      } catch (e) {
        if (!(e instanceof ControllerResetError)) throw e;
        resetErrors++;
        continue;
      }
      n++;
      if (n % 10 === 0) out(`ok ${n}`);
      if (n % 3 === 0) {
        // A few milliseconds inside the group lock (so a kill finds it held).
        ctrl.group.withLock(() => {
          const end = performance.now() + 1 + (n % 4);
          while (performance.now() < end);
        });
      }
    }
    Object.assign(summary, { commands: n, wrong, resetErrors });
  } else if (a.role === 'reset') {
    let n = 0;
    const tick = (ms: number) => new Promise<void>((r) => {
      wake = r;
      setTimeout(r, ms);
    });
    while (!stop) {
      if (a.gapMs === undefined && asked <= n) {
        await tick(100);
        continue;
      }
      out(`resetting ${n}`);
      await ctrl.reset();
      out(`reset-done ${n}`);
      n++;
      if (a.gapMs !== undefined) await tick(a.gapMs + ((n * 37) % 150));
    }
    summary.resets = n;
  }
  await ctrl.close();
} catch (e) {
  failed(e);
}
out(`done ${JSON.stringify(summary)}`);
