// A mutation fuzzer for the NVMe/TCP stream framer (host/nvmf/pdu/framer.ts),
// run by `npm run fuzz -- --target pdu`. Each case builds a stream of valid
// PDUs for one end of a connection (the encoders of host/nvmf/pdu/encode.ts,
// random digests, alignment and limits), mutates it (bit flips, interesting
// values in the common header fields, inserted, deleted, duplicated and
// spliced ranges, truncation; or plain random bytes) and feeds it to a framer
// in random chunks (sometimes one byte at a time, sometimes through a reused
// read buffer longer than the chunk). The properties, for any input:
//   - push() never throws: every error is the framer's typed report through
//     sink.fatal (an Fes value and an FEI, TCP 7.4.7), at most once, after
//     which the framer is stopped and reports nothing more;
//   - it never asks for more data than the limits allow (header() is told at
//     most maxCapsuleData / maxDataPdu bytes, or a TermReq's 128), and it
//     holds at most one PDU's bytes (partialBytes): memory stays bounded;
//   - only the PDU types of its role come out, each with its own header and
//     the data length header() was told;
//   - it never hangs (a watchdog thread kills the run, naming the case, if a
//     case takes more than 10 s);
//   - a stream that was not mutated comes out exactly as it went in.
// Deterministic from the seed: a failure prints the seed and case number and
// `--target pdu --seed S --case N` replays that one case.
import { Worker } from 'node:worker_threads';
import {
  encodeICReq, encodeICResp, encodeTermReq, encodeCapsuleCmd, encodeCapsuleResp, encodeC2HData, encodeH2CData, encodeR2T,
  type PduDigests,
} from '../../host/nvmf/pdu/encode.js';
import { PduFramer, type PduSink, type PduRole } from '../../host/nvmf/pdu/framer.js';
import { crc32c } from '../../host/nvmf/crc32c.js';
import { PduType, Fes } from '../../assembly/nvme/tcp.js';

const TERM_DATA_MAX = 128;
const WATCHDOG_MS = 10_000;

/** xorshift32: small, fast, replayable. */
class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x2545f491;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  bool(): boolean {
    return (this.u32() & 1) === 1;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** Seed of case c of a run. */
function caseSeed(seed: number, c: number): number {
  return (Math.imul(seed ^ 0x68e31da4, 0x9e3779b1) + Math.imul(c + 1, 0x85ebca6b)) >>> 0;
}

export class PduFuzzFailure extends Error {}

interface Expected {
  type: PduType;
  hdr: string;
  data: string;
  ddgstBad: boolean;
}

/** One valid PDU for `role`'s framer to receive; its wire bytes and what the framer must report. */
function validPdu(r: Rand, role: PduRole, d: PduDigests, maxCapsule: number, maxData: number): { bytes: Buffer; exp: Expected } {
  const h = Buffer.alloc(256);
  let head: number;
  let data: Uint8Array = new Uint8Array(0);
  let type: PduType;
  const pick = r.int(role === 'target' ? 4 : 5);
  if (role === 'target') {
    if (pick === 0) {
      head = encodeICReq(h, { hpda: r.int(32), hdgst: r.bool(), ddgst: r.bool(), maxr2t: r.u32() });
      type = PduType.ICReq;
    } else if (pick === 1) {
      data = r.bytes(r.int(TERM_DATA_MAX + 1));
      const n = encodeTermReq(h, PduType.H2CTermReq, 1 + r.int(6), r.u32(), data);
      return { bytes: Buffer.from(h.subarray(0, n)), exp: { type: PduType.H2CTermReq, hdr: hex(h.subarray(0, 24)), data: hex(h.subarray(24, n)), ddgstBad: false } };
    } else if (pick === 2) {
      data = r.bytes(r.int(4) === 0 ? 0 : r.int(maxCapsule + 1));
      h.set(r.bytes(64), 8);
      head = encodeCapsuleCmd(h, data.length, d);
      type = PduType.CapsuleCmd;
    } else {
      data = r.bytes(1 + r.int(maxData));
      head = encodeH2CData(h, r.int(0x10000), r.int(0x10000), r.u32(), data.length, r.bool(), d);
      type = PduType.H2CData;
    }
  } else if (pick === 0) {
    head = encodeICResp(h, { cpda: r.int(32), hdgst: r.bool(), ddgst: r.bool(), maxh2cdata: r.u32() });
    type = PduType.ICResp;
  } else if (pick === 1) {
    data = r.bytes(r.int(TERM_DATA_MAX + 1));
    const n = encodeTermReq(h, PduType.C2HTermReq, 1 + r.int(6), r.u32(), data);
    return { bytes: Buffer.from(h.subarray(0, n)), exp: { type: PduType.C2HTermReq, hdr: hex(h.subarray(0, 24)), data: hex(h.subarray(24, n)), ddgstBad: false } };
  } else if (pick === 2) {
    h.set(r.bytes(16), 8);
    head = encodeCapsuleResp(h, d);
    type = PduType.CapsuleResp;
  } else if (pick === 3) {
    data = r.bytes(1 + r.int(maxData));
    const last = r.bool();
    head = encodeC2HData(h, r.int(0x10000), r.u32(), data.length, last, last && r.bool(), d);
    type = PduType.C2HData;
  } else {
    head = encodeR2T(h, r.int(0x10000), r.int(0x10000), r.u32(), r.u32(), d);
    type = PduType.R2T;
  }
  const hlen = h[2]!;
  const dd = d.ddgst && data.length > 0;
  const parts: Uint8Array[] = [h.subarray(0, head), data];
  if (dd) {
    const c = crc32c(data);
    parts.push(Uint8Array.of(c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24));
  }
  return { bytes: Buffer.concat(parts), exp: { type, hdr: hex(h.subarray(0, hlen)), data: hex(data), ddgstBad: false } };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

const INTERESTING_U32 = [0, 1, 7, 8, 23, 24, 25, 71, 72, 127, 128, 129, 131, 132, 152, 153, 0xff, 0x100, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_U8 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x1f, 0x20, 0x7f, 0x80, 0xfe, 0xff, 24, 72, 128, 132];

/** Mutate a stream in place or into a new one; `n` mutations. */
function mutate(r: Rand, s: Buffer, starts: number[], n: number): Buffer {
  let b = s;
  for (let k = 0; k < n; k++) {
    if (b.length === 0) b = Buffer.from(r.bytes(1 + r.int(64)));
    // Aim at a PDU's common header most of the time: that is where the framer decides.
    const at = r.int(3) > 0 && starts.length ? (starts[r.int(starts.length)]! % b.length) : r.int(b.length);
    switch (r.int(10)) {
      case 0: // bit flip
        b[(at + r.int(24)) % b.length]! ^= 1 << r.int(8);
        break;
      case 1: // an interesting byte in a common header field (TYPE, FLAGS, HLEN, PDO)
        b[(at + r.int(4)) % b.length] = INTERESTING_U8[r.int(INTERESTING_U8.length)]!;
        break;
      case 2: // an interesting PLEN (or a header's DATAL / DATAO)
        {
          const o = at + [4, 12, 16, 20][r.int(4)]!;
          if (o + 4 <= b.length) b.writeUInt32LE(INTERESTING_U32[r.int(INTERESTING_U32.length)]!, o);
        }
        break;
      case 3: // random byte
        b[at] = r.u32() & 0xff;
        break;
      case 4: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(16)), b.subarray(at)]);
        break;
      case 5: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(32)))]);
        break;
      case 6: {
        // duplicate a range
        const len = 1 + r.int(Math.min(200, b.length - at));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 7: {
        // splice: a range from elsewhere in the stream over this place
        const from = r.int(b.length);
        const len = 1 + r.int(Math.min(64, b.length - from));
        b = Buffer.from(b);
        b.copy(b, at, from, from + len);
        break;
      }
      case 8: // truncate
        b = b.subarray(0, at);
        break;
      case 9: {
        // A consistent new length: PLEN and (for a data PDU) DATAL agree, so the
        // framer gets as far as the limits (PDO and the digest flag kept).
        const st = starts.length ? starts[r.int(starts.length)]! : 0;
        if (st + 20 > b.length) break;
        const pdo = b[st + 3]! || b[st + 2]!;
        const len = [0, 1, 4, 5, 300, 301, 4096, 4097, 8192, 8193, 65536, 65537, 1 << 20][r.int(13)]!;
        b.writeUInt32LE(pdo + len + ((b[st + 1]! & 2) !== 0 ? 4 : 0), st + 4);
        if (b[st] === 6 || b[st] === 7) b.writeUInt32LE(len, st + 16);
        break;
      }
    }
  }
  return b;
}

export interface PduStats {
  cases: number;
  mutated: number;
  bytes: number;
  chunks: number;
  pdus: number;
  fatals: number;
  ddgstErrors: number;
  /** Fatal errors by FES. */
  byFes: Record<string, number>;
  maxPartial: number;
}

/** Run case c of seed `seed`; throws PduFuzzFailure (naming seed and case) when a property fails. */
export function runPduCase(seed: number, c: number, st: PduStats): void {
  const r = new Rand(caseSeed(seed, c));
  const role: PduRole = r.bool() ? 'target' : 'host';
  const hdgst = r.bool();
  const ddgst = r.bool();
  const pda = r.int(4) === 0 ? r.int(32) : 0;
  const d: PduDigests = { hdgst, ddgst, pda };
  const maxCapsule = [0, 1, 64, 300, 4096, 8192][r.int(6)]!;
  const maxData = [1, 4, 300, 4096, 65536][r.int(5)]!;
  const limits = { maxCapsuleData: role === 'target' ? maxCapsule : 0, maxDataPdu: maxData };
  const mode = r.int(10); // 0: random bytes, 1..3: valid, 4..9: mutated
  let stream: Buffer;
  const expected: Expected[] = [];
  const starts: number[] = [];
  if (mode === 0) {
    stream = Buffer.from(r.bytes(r.int(2048)));
    // Random bytes rarely get past TYPE: give half of them a plausible common header.
    if (stream.length >= 8 && r.bool()) {
      stream[0] = role === 'target' ? [0, 2, 4, 6][r.int(4)]! : [1, 3, 5, 7, 9][r.int(5)]!;
      stream[2] = [128, 24, 72, 24, 24][r.int(5)]!;
      stream.writeUInt32LE(r.int(stream.length + 64), 4);
    }
  } else {
    const parts: Buffer[] = [];
    let at = 0;
    const n = 1 + r.int(8);
    for (let i = 0; i < n; i++) {
      const p = validPdu(r, role, d, limits.maxCapsuleData, maxData);
      starts.push(at);
      at += p.bytes.length;
      parts.push(p.bytes);
      expected.push(p.exp);
    }
    stream = Buffer.concat(parts);
    if (mode >= 4) stream = mutate(r, stream, starts, 1 + (r.int(4) === 0 ? r.int(16) : r.int(3)));
  }
  const mutated = mode !== 1 && mode !== 2 && mode !== 3;
  if (mutated) st.mutated++;

  const fail = (what: string): never => {
    throw new PduFuzzFailure(`pdu fuzz: seed ${seed} case ${c} (${role}, hdgst ${hdgst}, ddgst ${ddgst}, pda ${pda}, limits ${limits.maxCapsuleData}/${limits.maxDataPdu}, ${mutated ? 'mutated' : 'valid'} stream of ${stream.length} bytes): ${what}\n  stream: ${stream.toString('hex').slice(0, 4000)}\n  replay: npm run fuzz -- --target pdu --seed ${seed} --case ${c}`);
  };

  const accept = role === 'target' ? [PduType.ICReq, PduType.H2CTermReq, PduType.CapsuleCmd, PduType.H2CData] : [PduType.ICResp, PduType.C2HTermReq, PduType.CapsuleResp, PduType.C2HData, PduType.R2T];
  const got: Expected[] = [];
  let fatal: { fes: Fes; fei: number } | undefined;
  let lastHeaderLen = -1;
  let framer: PduFramer;
  // What header() does with the data: a buffer of the length, a longer one at an offset, none, too short, or fail().
  const destMode = mutated ? r.int(8) : r.int(3);
  const sink: PduSink = {
    header(hdr, type, dataLen) {
      if (fatal) fail('header() after fatal()');
      if (!accept.includes(type)) fail(`header() of type ${type}, which a ${role} framer does not take`);
      if (hdr[0] !== type) fail(`header() of type ${type} with TYPE ${hdr[0]} in the header`);
      const max = type === PduType.CapsuleCmd ? limits.maxCapsuleData : type === PduType.H2CData || type === PduType.C2HData ? limits.maxDataPdu : 0;
      if (!Number.isInteger(dataLen) || dataLen < 0 || dataLen > max) fail(`header() asks for ${dataLen} data bytes of a type ${type} PDU, the limit is ${max}`);
      lastHeaderLen = dataLen;
      if (dataLen === 0) return null;
      switch (destMode) {
        case 0:
        case 3:
          return new Uint8Array(dataLen);
        case 1: {
          const big = new Uint8Array(dataLen + 16);
          framer.destOffset = 8;
          return big;
        }
        case 2:
          return null;
        case 4:
          return new Uint8Array(dataLen - 1); // too short: DataTransferOutOfRange
        case 5:
          framer.fail(Fes.PduSequenceError, 0);
          return null;
        default:
          return new Uint8Array(dataLen);
      }
    },
    pdu(hdr, type, data, dataLen) {
      if (fatal) fail('pdu() after fatal()');
      if (!accept.includes(type)) fail(`pdu() of type ${type}, which a ${role} framer does not take`);
      const isTerm = type === PduType.H2CTermReq || type === PduType.C2HTermReq;
      if (!isTerm && dataLen !== Math.max(0, lastHeaderLen)) fail(`pdu() with ${dataLen} data bytes, header() was told ${lastHeaderLen}`);
      if (isTerm && dataLen > TERM_DATA_MAX) fail(`TermReq with ${dataLen} bytes of data`);
      lastHeaderLen = -1;
      st.pdus++;
      const off = destMode === 1 && !isTerm && data ? 8 : 0;
      got.push({ type, hdr: hex(hdr.subarray(0, hdr[2]!)), data: data ? hex(data.subarray(off, off + dataLen)) : destMode === 2 && dataLen > 0 ? '(dropped)' : '', ddgstBad: false });
    },
    dataDigestError(_hdr, type) {
      if (fatal) fail('dataDigestError() after fatal()');
      st.ddgstErrors++;
      lastHeaderLen = -1;
      got.push({ type, hdr: '', data: '', ddgstBad: true });
    },
    fatal(fes, fei) {
      if (fatal) fail(`a second fatal() (FES ${fes}) after FES ${fatal.fes}`);
      if (Fes[fes] === undefined) fail(`fatal() with FES ${fes}, not a Fatal Error Status`);
      if (!Number.isInteger(fei) || fei < 0 || fei > 0xffffffff) fail(`fatal() with FEI ${fei}`);
      fatal = { fes, fei };
      st.fatals++;
      st.byFes[Fes[fes]!] = (st.byFes[Fes[fes]!] ?? 0) + 1;
    },
  };
  framer = new PduFramer(sink, role, { ...limits }); // a copy: the checks keep the limits as given
  framer.hdgst = hdgst;
  framer.ddgst = ddgst;
  // The most one PDU can hold: the largest header, padding to PDO 255, data, digest.
  const pduMax = 132 + 255 + Math.max(limits.maxCapsuleData, limits.maxDataPdu, TERM_DATA_MAX) + 4;
  const readBuf = Buffer.alloc(4096 + 64);
  // 0: one byte at a time (short streams), 1: small, 2: large, 3: through a reused buffer
  let chunkMode = r.int(4);
  if (chunkMode === 0 && stream.length > 2048) chunkMode = 1;
  let at = 0;
  while (at < stream.length) {
    const n = chunkMode === 0 ? 1 : chunkMode === 1 ? 1 + r.int(16) : 1 + r.int(4096);
    const chunk = stream.subarray(at, at + n);
    try {
      if (chunkMode === 3) {
        chunk.copy(readBuf);
        framer.push(readBuf, chunk.length);
      } else framer.push(chunk);
    } catch (e) {
      if (e instanceof PduFuzzFailure) throw e;
      fail(`push() threw ${(e as Error)?.stack ?? String(e)}`);
    }
    st.chunks++;
    at += chunk.length;
    if (fatal && !framer.stopped) fail('fatal() reported, the framer is not stopped');
    if (framer.stopped && !fatal) fail('the framer stopped without reporting fatal()');
    if (framer.partialBytes > pduMax) fail(`the framer holds ${framer.partialBytes} bytes of one PDU, more than ${pduMax}`);
    st.maxPartial = Math.max(st.maxPartial, framer.partialBytes);
    if (fatal && r.int(4) !== 0) break; // a connection closes after a fatal error; sometimes feed on
  }
  if (got.length > stream.length / 8 + 1) fail(`${got.length} PDUs out of ${stream.length} bytes`);
  if (!mutated) {
    // Dropped data (destMode 2) shows as such; otherwise exactly what went in.
    const want = expected.map((e) => ({ ...e, data: destMode === 2 && e.data && e.type !== PduType.H2CTermReq && e.type !== PduType.C2HTermReq ? '(dropped)' : e.data }));
    if (fatal) fail(`a valid stream ended with FES ${Fes[fatal.fes]} FEI ${fatal.fei}`);
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`a valid stream came out different:\n  got  ${JSON.stringify(got).slice(0, 2000)}\n  want ${JSON.stringify(want).slice(0, 2000)}`);
    if (framer.midPdu) fail('a valid stream left a PDU half read');
  }
  st.cases++;
  st.bytes += stream.length;
}

export function emptyPduStats(): PduStats {
  return { cases: 0, mutated: 0, bytes: 0, chunks: 0, pdus: 0, fatals: 0, ddgstErrors: 0, byFes: {}, maxPartial: 0 };
}

export interface PduFuzzResult {
  stats: PduStats;
  ms: number;
  failure?: string;
  heapMiB: number;
}

/**
 * Run cases from `first` until `cases` ran or `seconds` passed. A watchdog
 * thread watches a heartbeat and kills the process, naming the case, if one
 * case runs longer than WATCHDOG_MS (a hang: push() loops without consuming).
 */
export function fuzzPdu(o: { seed: number; cases?: number; seconds?: number; first?: number; log?: (l: string) => void }): PduFuzzResult {
  const st = emptyPduStats();
  const beat = new Int32Array(new SharedArrayBuffer(8));
  const dog = new Worker(
    `const { workerData } = require('node:worker_threads'); const fs = require('node:fs');
     const b = workerData.beat; let last = -1, since = Date.now();
     setInterval(() => { const c = Atomics.load(b, 0); if (Atomics.load(b, 1) === 1) process.exit(0);
       if (c !== last) { last = c; since = Date.now(); return; }
       if (Date.now() - since > workerData.ms) { fs.writeSync(2, 'pdu fuzz: seed ' + workerData.seed + ' case ' + c + ' HANGS (no progress for ' + workerData.ms + ' ms)\\n  replay: npm run fuzz -- --target pdu --seed ' + workerData.seed + ' --case ' + c + '\\n'); process.kill(process.pid, 'SIGKILL'); } }, 250);`,
    { eval: true, workerData: { beat, ms: WATCHDOG_MS, seed: o.seed } },
  );
  dog.unref();
  const t0 = Date.now();
  let heapMiB = 0;
  const heap0 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  try {
    for (let c = o.first ?? 0; ; c++) {
      if (o.cases !== undefined && c - (o.first ?? 0) >= o.cases) break;
      if (o.seconds !== undefined && (c & 255) === 0 && Date.now() - t0 >= o.seconds * 1000) break;
      Atomics.store(beat, 0, c);
      try {
        runPduCase(o.seed, c, st);
      } catch (e) {
        return { stats: st, ms: Date.now() - t0, failure: (e as Error).message, heapMiB };
      }
      if ((c & 0x3fff) === 0) {
        const m = process.memoryUsage();
        heapMiB = Math.max(heapMiB, (m.heapUsed + m.arrayBuffers - heap0) / 2 ** 20);
        // Nothing outlives a case but the counters: growth means something is kept.
        if (heapMiB > 512) return { stats: st, ms: Date.now() - t0, failure: `pdu fuzz: seed ${o.seed}: memory grew by ${heapMiB.toFixed(0)} MiB by case ${c}`, heapMiB };
      }
    }
  } finally {
    Atomics.store(beat, 1, 1);
  }
  return { stats: st, ms: Date.now() - t0, heapMiB };
}
