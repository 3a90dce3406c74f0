// The target's poll group (host/nvmf/target/poll-group.ts): it spins while
// commands are on the device, reads the clock only every few empty polls
// (a clock read costs microseconds in a QEMU guest), falls back to a
// millisecond timer after spinUs without a completion, and spins again at
// once when new work arrives or a completion comes. Where the busy device
// queue pair has an interrupt, it sleeps on it after sleepSpinUs instead of
// the timer: armed before a last poll, woken by the interrupt or new work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PollGroup } from '../host/nvmf/target/poll-group.js';
import type { TcpConnection } from '../host/nvmf/target/connection.js';
import type { InterruptSource } from '../host/interrupts.js';

/** A connection as the poll group sees it: a device queue pair that completes on demand (with `irq`, an interrupt too). */
function fakeConnection(irq?: InterruptSource): { conn: TcpConnection; state: { outstanding: number; ready: number; polls: number } } {
  const state = { outstanding: 0, ready: 0, polls: 0 };
  const conn = {
    get deviceOutstanding() {
      return state.outstanding;
    },
    deviceQp: {
      interrupt: irq,
      processCompletions: () => {
        state.polls++;
        const n = state.ready;
        state.ready = 0;
        state.outstanding -= n;
        return n;
      },
    },
    onDeviceWork: undefined as undefined | (() => void),
    onClosed: undefined,
  };
  return { conn: conn as unknown as TcpConnection, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('spinning reads the clock at most once per 8 empty polls', async () => {
  let reads = 0;
  const pg = new PollGroup(() => {
    reads++;
    return performance.now();
  });
  pg.spinUs = 1e9; // spin the whole time
  const { conn, state } = fakeConnection();
  pg.add(conn);
  state.outstanding = 1;
  pg.start();
  await sleep(50);
  pg.stop();
  assert.ok(state.polls > 100, `${state.polls} polls in 50 ms of spinning`);
  assert.ok(reads <= Math.ceil(state.polls / 8), `${reads} clock reads for ${state.polls} polls`);
  assert.is(pg.clockReads, reads);
});

test('after spinUs without a completion it polls on a timer; new work spins again at once', async () => {
  let now = 0; // a clock the test moves
  const pg = new PollGroup(() => now);
  pg.spinUs = 1000;
  const { conn, state } = fakeConnection();
  pg.add(conn);
  state.outstanding = 1;
  pg.start();
  await sleep(20);
  const spinPolls = state.polls;
  assert.ok(spinPolls > 8, `spinning while the clock stands still: ${spinPolls} polls`);
  now += 2; // 2 ms pass without a completion
  await sleep(5);
  const before = state.polls;
  await sleep(60);
  const lazyPolls = state.polls - before;
  // On the 1 ms timer: about one poll per millisecond (Node's timers are coarse: at most 60 + slack).
  assert.ok(lazyPolls >= 1 && lazyPolls <= 90, `${lazyPolls} polls in 60 ms on the timer`);
  // New work (a command went to the device): spinning again without waiting for the timer.
  state.outstanding = 2;
  const atWork = state.polls;
  (conn as unknown as { onDeviceWork: () => void }).onDeviceWork();
  await sleep(20);
  assert.ok(state.polls - atWork > 30, `${state.polls - atWork} polls in 20 ms after new work`);
  // A completion keeps it spinning; nothing on the device: no polls at all.
  state.ready = 2;
  await sleep(5);
  assert.is(state.outstanding, 0);
  const idle = state.polls;
  await sleep(20);
  assert.is(state.polls, idle, 'no polls while nothing is on the device');
  pg.stop();
});

/** An interrupt the test fires; it records arms, waits (with their bounds) and cancels. */
function fakeInterrupt() {
  const log = { arms: 0, waits: [] as number[], cancels: 0, pending: undefined as undefined | ((woken: boolean) => void) };
  const src: InterruptSource = {
    vector: 1,
    arm: () => {
      log.arms++;
      return log.arms;
    },
    wait: (_token, timeoutMs) => {
      log.waits.push(timeoutMs);
      return new Promise<boolean>((resolve) => {
        log.pending = resolve;
      });
    },
    cancel: () => {
      log.cancels++;
      const r = log.pending;
      log.pending = undefined;
      r?.(true);
    },
    close: () => {},
  };
  /** The vector fires. */
  const fire = () => {
    const r = log.pending;
    log.pending = undefined;
    r?.(true);
  };
  return { src, log, fire };
}

test('with an interrupt: after sleepSpinUs it arms, polls once more and sleeps (no polls) until the interrupt fires', async () => {
  let now = 0;
  const pg = new PollGroup(() => now);
  pg.sleepSpinUs = 50;
  const irq = fakeInterrupt();
  const { conn, state } = fakeConnection(irq.src);
  pg.add(conn);
  state.outstanding = 1;
  pg.start();
  await sleep(10);
  assert.is(irq.log.arms, 0, 'spinning: the clock stands still');
  now += 1; // 1 ms without a completion: more than sleepSpinUs
  await sleep(10);
  assert.is(irq.log.arms, 1);
  assert.equal(irq.log.waits, [20], 'one connection busy: the 20 ms bound on a lost interrupt');
  assert.is(pg.sleeps, 1);
  const asleep = state.polls;
  await sleep(30);
  assert.is(state.polls, asleep, 'no polls while asleep');
  // The device completes and the vector fires: the group polls and reaps it.
  state.ready = 1;
  irq.fire();
  await sleep(5);
  assert.is(state.outstanding, 0);
  assert.is(pg.wakeups, 1);
  assert.ok(state.polls > asleep);
  pg.stop();
});

test('a completion that came before the arming is reaped by the poll after it: no sleep', async () => {
  let now = 0;
  const pg = new PollGroup(() => now);
  const irq = fakeInterrupt();
  const { conn, state } = fakeConnection(irq.src);
  const arm = irq.src.arm;
  irq.src.arm = () => {
    state.ready = 1; // the completion lands between the last empty poll and the arming
    return arm();
  };
  pg.add(conn);
  state.outstanding = 1;
  pg.start();
  await sleep(5);
  now += 1;
  await sleep(10);
  assert.is(irq.log.arms, 1);
  assert.equal(irq.log.waits, [], 'it did not sleep');
  assert.is(state.outstanding, 0);
  pg.stop();
});

test('new work while asleep ends the sleep and spins; several busy connections sleep at most 1 ms', async () => {
  let now = 0;
  const pg = new PollGroup(() => now);
  const irq = fakeInterrupt();
  const a = fakeConnection(irq.src);
  const b = fakeConnection(fakeInterrupt().src);
  pg.add(a.conn);
  pg.add(b.conn);
  a.state.outstanding = 1;
  pg.start();
  await sleep(5);
  now += 1;
  await sleep(10);
  assert.is(pg.sleeps, 1);
  // Another command, on connection b: the sleep ends at once (cancel), the group spins.
  b.state.outstanding = 1;
  const before = a.state.polls;
  (b.conn as unknown as { onDeviceWork: () => void }).onDeviceWork();
  assert.is(irq.log.cancels, 1);
  await sleep(10);
  assert.ok(a.state.polls - before > 8, `${a.state.polls - before} polls after new work`);
  assert.is(pg.wakeups, 0, 'new work is not an interrupt');
  // Both busy and spun out: it sleeps on the first one's interrupt, for at most 1 ms.
  now += 1;
  await sleep(10);
  assert.ok(irq.log.waits.length >= 2, `${irq.log.waits.length} waits`);
  assert.is(irq.log.waits[1], 1);
  pg.stop();
  assert.is(irq.log.pending, undefined, 'stop() ended the sleep');
});

test('a busy connection without an interrupt: the timer, as before', async () => {
  let now = 0;
  const pg = new PollGroup(() => now);
  const irq = fakeInterrupt();
  const a = fakeConnection(irq.src);
  const b = fakeConnection(); // no interrupt
  pg.add(a.conn);
  pg.add(b.conn);
  a.state.outstanding = 1;
  b.state.outstanding = 1;
  pg.start();
  await sleep(5);
  now += 0.5; // past sleepSpinUs but not spinUs: still spinning (b cannot sleep)
  await sleep(10);
  assert.is(irq.log.arms, 0);
  now += 1;
  await sleep(20);
  assert.is(irq.log.arms, 0, 'never armed');
  const p0 = b.state.polls;
  await sleep(30);
  assert.ok(b.state.polls - p0 >= 1 && b.state.polls - p0 <= 50, `${b.state.polls - p0} polls in 30 ms on the timer`);
  pg.stop();
});

test.run();
