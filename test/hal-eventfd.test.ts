// hal/eventfd.ts: the counter (signal, drain) and the wait in the libuv pool
// (pollReadableAsync), which VFIO interrupt vectors signal
// (host/interrupts.ts). What would break: a drain that blocks or loses
// counts, a poll that reports readable without a signal or misses one that
// comes while it waits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventfdCreate, eventfdDrain, eventfdSignal, pollReadableAsync, closeFd } from '../hal/index.js';

test('eventfd: drain reads and resets the counter, without blocking when it is 0', () => {
  const fd = eventfdCreate();
  try {
    assert.is(eventfdDrain(fd), 0);
    eventfdSignal(fd);
    eventfdSignal(fd);
    assert.is(eventfdDrain(fd), 2);
    assert.is(eventfdDrain(fd), 0);
  } finally {
    closeFd(fd);
  }
});

test('eventfd: a poll in the pool times out without a signal, and returns for one that comes while it waits', async () => {
  const fd = eventfdCreate();
  try {
    assert.is(await pollReadableAsync(fd, 20), false, 'nothing signalled: timeout');
    let loopRan = false;
    const p = pollReadableAsync(fd, 60_000);
    setTimeout(() => {
      loopRan = true; // the event loop ran while the pool thread waited
      eventfdSignal(fd);
    }, 10);
    assert.is(await p, true, 'the signal ended the wait');
    assert.ok(loopRan);
    assert.is(eventfdDrain(fd), 1);
    eventfdSignal(fd);
    assert.is(await pollReadableAsync(fd, 60_000), true, 'already readable: at once');
  } finally {
    closeFd(fd);
  }
});

test.run();
