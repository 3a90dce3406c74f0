// The target's poll group (host/nvmf/target/poll-group.ts): it spins while
// commands are on the device, reads the clock only every few empty polls
// (a clock read costs microseconds in a QEMU guest), falls back to a
// millisecond timer after spinUs without a completion, and spins again at
// once when new work arrives or a completion comes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PollGroup } from '../host/nvmf/target/poll-group.js';
import type { TcpConnection } from '../host/nvmf/target/connection.js';

/** A connection as the poll group sees it: a device queue pair that completes on demand. */
function fakeConnection(): { conn: TcpConnection; state: { outstanding: number; ready: number; polls: number } } {
  const state = { outstanding: 0, ready: 0, polls: 0 };
  const conn = {
    get deviceOutstanding() {
      return state.outstanding;
    },
    deviceQp: {
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

test.run();
