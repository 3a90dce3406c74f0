// Loading the Wasm core (assembly/) against a shared memory, with a typed
// view of its exports. One instance per controller a process opens.
import fs from 'node:fs';
import { applyV8Flags } from './v8-flags.cjs';
import { packageFile } from './package-files.js';
import { instantiateSync } from '@assemblyscript/loader';
import { CORE_LOW_RESERVED } from '../assembly/abi/region.js';
import { ControllerError } from './errors.js';

// Before anything calls the core: V8 must not inline JS-to-Wasm calls (issue 16 G, host/v8-flags.cts).
applyV8Flags();

/**
 * The core's exports (see assembly/index.ts for what each does), as the
 * loader gives them (bool is a number). test/core-exports.test.ts checks
 * this list against the declarations asc writes with the build
 * (build/core.d.ts): a missing, extra or differently typed export fails it.
 */
export interface CoreExports {
  staticEnd(): number;
  setRegionWindow(base: number, size: number): void;
  setBarWindow(base: number): void;
  setIovaBase(lo: number, hi: number): void;
  setDmaTable(off: number): void;
  dmaAddrOf(off: number): bigint;
  setShadowDoorbells(db: number, ei: number, from: number): void;
  doorbellsSkipped(): number;
  regionFormat(coreHash: number, iovaLo: number, iovaHi: number): number;
  lockTry(off: number, who: number): number;
  lockRelease(off: number): number;
  lockSteal(off: number, deadWord: number, who: number): number;
  dmaAlloc(bytes: number, align: number, zero: number, owner: number): number;
  dmaFree(off: number, who: number): number;
  dmaSize(off: number): number;
  dmaFreeOwner(owner: number, who: number): number;
  dmaCheck(who: number): number;
  prpPagesFor(maxXfer: number): number;
  qpInit(qp: number, qid: number, qsize: number, sq: number, cq: number, dstrd: number, nslots: number, ownerBits: number, prp: number, prpPages: number, maxXfer: number, ownerProc: number): number;
  qpRing(qp: number): number;
  qpPoll(qp: number, max: number): number;
  qpSetStats(qp: number, st: number): void;
  qpOutstanding(qp: number): number;
  qpSqFullSeen(qp: number): number;
  qpMaxXfer(qp: number): number;
  slotCid(qp: number, slot: number): number;
  outPtr(): number;
  setSelf(slot: number): void;
  submitRw(qp: number, opc: number, nsid: number, slba: number, blocks: number, buf: number, len: number, flags: number): number;
  submitFlush(qp: number, nsid: number): number;
  submitDsm(qp: number, nsid: number, nranges: number, attrs: number, buf: number): number;
  submitIdentify(qp: number, cns: number, nsid: number, cntid: number, buf: number): number;
  submitGetFeatures(qp: number, fid: number, sel: number, nsid: number, cdw11: number, buf: number, len: number): number;
  submitSetFeatures(qp: number, fid: number, save: number, nsid: number, cdw11: number, cdw12: number, buf: number, len: number): number;
  submitCreateIoCq(qp: number, qid: number, qsize: number, cq: number, ien: number, iv: number): number;
  submitCreateIoSq(qp: number, qid: number, qsize: number, sq: number, cqid: number, qprio: number): number;
  submitDeleteIoSq(qp: number, qid: number): number;
  submitDeleteIoCq(qp: number, qid: number): number;
  submitGetLogPage(qp: number, lid: number, nsid: number, lsp: number, rae: number, offset: number, buf: number, len: number): number;
  submitAbort(qp: number, sqid: number, cid: number): number;
  submitAsyncEventRequest(qp: number): number;
  qpPollShared(qp: number, max: number, self: number): number;
  mboxTake(qp: number, self: number, max: number): number;
  qpReleaseOwner(qp: number, owner: number): number;
  mboxReset(slot: number): void;
  qpRecover(qp: number): number;
  qpReset(qp: number): void;
  qpCountOpcode(qp: number, opc: number): number;
  qpCountOwner(qp: number, owner: number): number;
  wakeMask(hi: number): number;
  dmaRepair(): number;
  submitRaw(qp: number, opc: number, nsid: number, buf: number, len: number, c10: number, c11: number, c12: number, c13: number, c14: number, c15: number): number;
  /** CRC32C (NVMe/TCP digests) of `len` bytes at region offset `off`, from `seed` (assembly/core/crc32c.ts). */
  crc32c(off: number, len: number, seed: number): number;
}

interface CoreBuild {
  module: WebAssembly.Module;
  hash: number;
}
const builds = new Map<string, CoreBuild>();

/** FNV-1a over the core's bytes: the build identity stored in a region header. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function coreBuild(debug: boolean): CoreBuild {
  const file = debug ? 'core.debug.wasm' : 'core.wasm';
  let b = builds.get(file);
  if (!b) {
    const path = packageFile('build', file);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path);
    } catch (e) {
      // The package ships the release build only (package.json "files").
      if (debug) throw new ControllerError(`the debug build of the Wasm core is not there (${path}): it is not in the npm package; build nvme-wasm from its repository (npm run build) to use debugCore`, 'unsupported');
      throw new ControllerError(`the Wasm core is not built (${path}): run npm run build`, 'unsupported');
    }
    b = { module: new WebAssembly.Module(bytes), hash: fnv1a(bytes) };
    builds.set(file, b);
  }
  return b;
}

/** Hash of the core build this process runs (stored in, and checked against, region headers). */
export function coreHash(debug = false): number {
  return coreBuild(debug).hash;
}

/** Instantiate the core on `memory` (shared, laid out as in assembly/abi/region.ts). */
export function instantiateCore(memory: WebAssembly.Memory, debug = false): CoreExports {
  const { module } = coreBuild(debug);
  // The instance's own exports, not the loader's demangled ones: the loader
  // wraps every export function in `(...args) => { setArgumentsLength(n);
  // return f(...args) }`, one closure literal for all of them, so V8 shares
  // its feedback and the inner call goes megamorphic (about 15 ns more per
  // call, measured 2026-12-01; several calls per I/O). The core has no
  // optional parameters (no __argumentsLength export), so nothing is lost.
  const { instance } = instantiateSync(module as never, { env: { memory } } as never) as unknown as { instance: WebAssembly.Instance };
  const exports = instance.exports as unknown as CoreExports;
  if (exports.staticEnd() > CORE_LOW_RESERVED) {
    throw new ControllerError(`the Wasm core's static data (${exports.staticEnd()} bytes) exceeds CORE_LOW_RESERVED (${CORE_LOW_RESERVED}): a build that does not fit this layout`, 'unsupported');
  }
  return exports;
}
