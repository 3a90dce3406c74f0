// A hostile or buggy controller: malformed completions (a cid nobody sent,
// a duplicate, another queue's SQID, an SQ head beyond the ring, a reserved
// status type). The driver never crashes, writes nothing outside its own
// structures (a canary buffer keeps its checksum), reports each one as a
// 'bogusCompletion' event, and goes on serving other commands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Controller, NvmeStatusError, NvmeTimeoutError, NvmOpc, type BogusCompletion } from '../host/index.js';
import { pattern } from './helpers/rand.js';

let ctrl: Controller;
const bogus: BogusCompletion[] = [];
let canary: ReturnType<Controller['allocDma']>;
let canarySum = '';
const sum = () => createHash('sha256').update(canary.bytes).digest('hex');

test.before(async () => {
  ctrl = await Controller.open({ sim: {} });
  ctrl.on('bogusCompletion', (b) => bogus.push(b));
  canary = ctrl.allocDma(256 * 1024);
  for (let i = 0; i < canary.length; i += 4) new DataView(canary.bytes.buffer, canary.bytes.byteOffset).setUint32(i, (i * 2654435761) >>> 0, true);
  canarySum = sum();
});
test.after(async () => {
  await ctrl.close();
});

async function stillServes(): Promise<void> {
  const ns = ctrl.namespace(1);
  const d = pattern(40, 8, 512, 77);
  await ns.write(40, d);
  assert.ok((await ns.readBlocks(40, 8)).equals(d), 'verified I/O after the bad completion');
  assert.is(sum(), canarySum, 'unrelated region memory untouched');
}

async function withFault(malformation: 'unknownCid' | 'duplicate' | 'wrongSqid' | 'sqhdOutOfRange' | 'reservedStatus', timeoutMs: number) {
  const qp = await ctrl.defaultQueuePair();
  const before = bogus.length;
  ctrl.transport.sim!.injectFault({ kind: 'malformed', malformation, qid: qp.qid, opcode: NvmOpc.Read, count: 1 });
  const r = await ctrl.namespace(1).readBlocks(0, 1, { timeoutMs }).then(() => undefined, (e: unknown) => e);
  return { r, events: bogus.slice(before), qp };
}

test('a completion naming a cid nobody sent: reported, the real one still completes', async () => {
  const before = bogus.length;
  const { r } = await withFault('unknownCid', 2000);
  assert.is(r, undefined, 'the read itself succeeded');
  await stillServes(); // the extra entry may land after the poll that reaped the real one
  const events = bogus.slice(before);
  assert.ok(events.length >= 1, 'reported');
  assert.is(events.at(-1)!.cid & 0x8000, 0x8000);
});

test('a completion posted twice: the duplicate is reported and ignored', async () => {
  const before = bogus.length;
  const { r } = await withFault('duplicate', 2000);
  assert.is(r, undefined);
  await stillServes();
  assert.ok(bogus.length - before >= 1, 'reported');
});

test('a completion with another queue\'s SQID: reported; its command times out, nothing else breaks', async () => {
  const { r, events, qp } = await withFault('wrongSqid', 300);
  assert.instance(r, NvmeTimeoutError);
  assert.ok(events.length >= 1, 'reported');
  assert.is(events.at(-1)!.sqid, qp.qid + 1);
  await stillServes();
});

test('a completion with SQHD beyond the ring: reported; its command times out', async () => {
  const { r, events } = await withFault('sqhdOutOfRange', 300);
  assert.instance(r, NvmeTimeoutError);
  assert.is(events.at(-1)!.sqhd, 0xffff);
  await stillServes();
});

test('a reserved status code type surfaces as a typed status error naming it', async () => {
  const { r } = await withFault('reservedStatus', 2000);
  assert.instance(r, NvmeStatusError);
  assert.is((r as NvmeStatusError).sct, 4);
  assert.is((r as NvmeStatusError).sc, 0xaa);
  assert.match((r as Error).message, /sct 4 sc 0xaa/);
  await stillServes();
});

test.run();
