// One NVMe/TCP connection of the target: a queue (admin or I/O) once its
// Connect is done. It frames what the host sends (pdu/framer.ts), answers
// ICReq, moves command data (in-capsule, or by R2T and H2CData into the
// command's buffer), hands whole commands to the handlers (dispatch.ts) and
// sends their answers (C2HData, CapsuleResp) from preallocated headers.
// Protocol errors end the connection with a C2HTermReq. Its bytes move
// through a TargetSocket (socket-io.ts): Node's reads, or the poll group's
// while it spins (an I/O queue, pollSockets); writes straight to the socket.
//
//   state   'ic'  --ICReq-->  'connect'  --Connect-->  'ready'
//   any state: protocol error -> C2HTermReq, close; socket gone -> close
import type net from 'node:net';
import { ResourceError, type IoQueuePair, type DmaBuffer } from '../../index.js';
import {
  PduType, Fes, CH_FLAGS, FLAG_LAST_PDU, ICREQ_PFV, ICREQ_HPDA, ICREQ_DGST, ICREQ_MAXR2T, DGST_HDGST_ENABLE, DGST_DDGST_ENABLE,
  HPDA_MAX, CAPCMD_SQE, DATA_CCCID, DATA_TTAG, DATA_DATAO, DATA_HLEN, CAPRESP_HLEN, R2T_HLEN, DIGEST_SIZE, TERMREQ_PLEN_MAX, PFV_1_0,
  pduDataOffset,
} from '../../../assembly/nvme/tcp.js';
import { SQE_OPC, SQE_CID, SQE_NSID, SQE_PRP1 } from '../../../assembly/nvme/cmd.js';
import { FABRICS_OPC, FAB_FCTYPE, SGL_LENGTH, SGL_ID, SGL_ADDRESS, SGL_ID_INCAPSULE, SGL_ID_TRANSPORT, ADMIN_INCAPSULE_SIZE } from '../../../assembly/nvme/fabrics.js';
import { Sct, GenericSc } from '../../../assembly/nvme/status.js';
import { PduFramer, type PduSink } from '../pdu/framer.js';
import {
  encodeICResp, encodeTermReq, encodeCapsuleResp, encodeC2HData, encodeR2T, readU16, readU32, writeU16, writeU32, type PduDigests,
} from '../pdu/encode.js';
import { crc32c } from '../crc32c.js';
import { NvmfProtocolError } from '../errors.js';
import { CommandContext } from './command.js';
import { DmaCache } from './dma-cache.js';
import { TargetSocket, type SocketSink } from './socket-io.js';
import { dispatch } from './dispatch.js';
import { sf, statusOf } from './status.js';
import type { FabricsController } from './association.js';
import type { QueueConnection, TargetServices } from './types.js';

type State = 'ic' | 'connect' | 'ready' | 'closed';

/** DMA bytes an I/O queue keeps for reuse at most. */
const DMA_CACHE_BYTES = Number(process.env.NVME_WASM_NVMF_DMA_CACHE ?? 4 * 1024 * 1024);

/** NVME_WASM_NVMF_DEBUG=1: log every admin and Fabrics command and every close. */
const DEBUG = process.env.NVME_WASM_NVMF_DEBUG === '1';

/** Counters of one connection. */
export interface ConnectionStats {
  commands: number;
  bytesIn: number;
  bytesOut: number;
}

export class TcpConnection implements PduSink, SocketSink, QueueConnection {
  qid = -1;
  sqsize = 0;
  ctrl: FabricsController | undefined;
  deviceQp: IoQueuePair | undefined;
  readonly remote: string;
  readonly stats: ConnectionStats = { commands: 0, bytesIn: 0, bytesOut: 0 };
  /** Why it closed (after close). */
  closeReason = '';
  /** The protocol error that ended it, if one did (a TermReq sent or received). */
  protocolError: NvmfProtocolError | undefined;
  /** Called once when the connection is closed and its device queue given back. */
  onClosed: ((c: TcpConnection) => void) | undefined;
  /** Called when a command went to the device (a poll group polls its queue pair). */
  onDeviceWork: (() => void) | undefined;
  /** Called when Node read bytes of a ready I/O queue (a poll group may read its socket itself from now on: io.goHot). */
  onSocketData: ((c: TcpConnection) => void) | undefined;
  /** The socket's reads and writes. */
  readonly io: TargetSocket;
  private state: State = 'ic';
  private readonly framer: PduFramer;
  private readonly dig: PduDigests = { hdgst: false, ddgst: false, pda: 0 };
  private maxR2t = 1;
  private readonly ctxs: CommandContext[] = [];
  private readonly free: CommandContext[] = [];
  private readonly byCid = new Map<number, CommandContext>();
  private readonly termBuf = Buffer.alloc(TERMREQ_PLEN_MAX);
  /** performance.now() of the connection's start and of its last bytes (for checkTimers). */
  private readonly startedAt = performance.now();
  private lastData = this.startedAt;
  private sqhd = 0;
  /** Device commands still to complete (closing waits for them). */
  private onDevice = 0;
  private released = false;
  private dmaCache: DmaCache | undefined;

  /** `socket`: as the listener accepted it (paused: the connection adopts it, socket-io.ts). */
  constructor(
    socket: net.Socket,
    readonly services: TargetServices,
  ) {
    const s = services.settings;
    this.framer = new PduFramer(this, 'target', { maxCapsuleData: Math.max(ADMIN_INCAPSULE_SIZE, s.adminInCapsuleSize), maxDataPdu: s.maxH2CData });
    this.io = new TargetSocket(socket, this, s.pollSockets);
    this.remote = this.io.remote;
  }

  /** The socket in use. */
  get socket(): net.Socket {
    return this.io.socket;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Commands of this connection the device has not completed. */
  get deviceOutstanding(): number {
    return this.onDevice;
  }

  /** Bytes from the socket (SocketSink): Node's read, or a poll group's. */
  received(buf: Buffer, n: number): void {
    if (this.state === 'closed') return;
    this.stats.bytesIn += n;
    this.lastData = performance.now();
    this.framer.push(buf, n);
    if (!this.io.hot && this.qid > 0 && this.state === 'ready') this.onSocketData?.(this);
  }

  /** The socket is gone (SocketSink). */
  gone(reason: string): void {
    this.close(reason);
  }

  /**
   * The target's sweep (every few hundred ms): close a connection that sent
   * no ICReq within icTimeoutMs, or began a PDU and sent nothing more for
   * stallTimeoutMs.
   */
  checkTimers(now: number): void {
    if (this.state === 'closed') return;
    const s = this.services.settings;
    if (this.state === 'ic' && now - this.startedAt > s.icTimeoutMs) this.close(`no ICReq within ${s.icTimeoutMs} ms`);
    else if (this.framer.midPdu && now - this.lastData > s.stallTimeoutMs) this.close(`a PDU stalled half sent for ${s.stallTimeoutMs} ms`);
  }

  // ---- the framer's callbacks ----

  header(hdr: Buffer, type: PduType, dataLen: number): Uint8Array | null {
    if (this.state === 'ic' && type !== PduType.ICReq && type !== PduType.H2CTermReq) {
      this.framer.fail(Fes.PduSequenceError, 0);
      return null;
    }
    if (type === PduType.ICReq && this.state !== 'ic') {
      this.framer.fail(Fes.PduSequenceError, 0);
      return null;
    }
    if (type === PduType.CapsuleCmd) return this.capsuleHeader(hdr, dataLen);
    if (type === PduType.H2CData) return this.h2cHeader(hdr, dataLen);
    return null;
  }

  pdu(hdr: Buffer, type: PduType, data: Uint8Array | null, dataLen: number): void {
    switch (type) {
      case PduType.ICReq:
        return this.icReq(hdr);
      case PduType.CapsuleCmd:
        return this.capsule(hdr, dataLen, false);
      case PduType.H2CData:
        return this.h2cDone(hdr, dataLen, false);
      case PduType.H2CTermReq:
        this.protocolError = new NvmfProtocolError(readU16(hdr, 8), readU32(hdr, 10), 'received', `${dataLen} bytes of the PDU in error (${data ? 'kept' : 'none'})`);
        return this.close(`H2CTermReq from the host (FES ${readU16(hdr, 8)}, FEI ${readU32(hdr, 10)})`);
    }
  }

  dataDigestError(hdr: Buffer, type: PduType): void {
    if (type === PduType.CapsuleCmd) this.capsule(hdr, 0, true);
    else if (type === PduType.H2CData) this.h2cDone(hdr, readU32(hdr, 16), true);
  }

  fatal(fes: Fes, fei: number, hdr: Buffer, hdrLen: number): void {
    if (this.state === 'closed') return;
    const n = encodeTermReq(this.termBuf, PduType.C2HTermReq, fes, fei, hdr.subarray(0, hdrLen));
    this.protocolError = new NvmfProtocolError(fes, fei, 'sent', `from ${this.remote}`);
    this.io.end(Buffer.from(this.termBuf.subarray(0, n)));
    this.services.log(`${this.remote}: protocol error ${Fes[fes]} (FEI ${fei}): C2HTermReq sent, closing`);
    this.close(`protocol error ${Fes[fes]}`, false);
  }

  // ---- ICReq / ICResp (TCP 3.6.2.2, 3.6.2.3) ----

  private icReq(h: Buffer): void {
    if (readU16(h, ICREQ_PFV) !== PFV_1_0) return this.framer.fail(Fes.UnsupportedParameter, ICREQ_PFV);
    const hpda = h[ICREQ_HPDA]!;
    if (hpda > HPDA_MAX) return this.framer.fail(Fes.UnsupportedParameter, ICREQ_HPDA);
    const dgst = h[ICREQ_DGST]!;
    this.maxR2t = readU32(h, ICREQ_MAXR2T) + 1;
    const resp = Buffer.alloc(128);
    const hdgst = (dgst & DGST_HDGST_ENABLE) !== 0;
    const ddgst = (dgst & DGST_DDGST_ENABLE) !== 0;
    encodeICResp(resp, { cpda: 0, hdgst, ddgst, maxh2cdata: this.services.settings.maxH2CData });
    this.write(resp);
    this.dig.hdgst = hdgst;
    this.dig.ddgst = ddgst;
    this.dig.pda = hpda;
    this.framer.hdgst = hdgst;
    this.framer.ddgst = ddgst;
    this.state = 'connect';
  }

  // ---- command contexts ----

  private newContext(): CommandContext {
    const hd = this.dig.hdgst ? DIGEST_SIZE : 0;
    const c = new CommandContext(this.ctxs.length, CAPRESP_HLEN + hd, pduDataOffset(DATA_HLEN, this.dig.hdgst, this.dig.pda), R2T_HLEN + hd,
      (ctx, err, dw0) => this.deviceDone(ctx, err, dw0), (ctx) => this.written(ctx));
    this.ctxs.push(c);
    return c;
  }

  private takeContext(): CommandContext | undefined {
    const c = this.free.pop();
    if (c) return c;
    // Bounded: the queue's entries, plus those whose answers the socket still holds.
    if (this.ctxs.length >= 2 * Math.max(this.sqsize + 1, 32)) return undefined;
    return this.newContext();
  }

  // ---- CapsuleCmd (TCP 3.6.2.6) ----

  private pendingCapsule: CommandContext | undefined;

  private capsuleHeader(h: Buffer, dataLen: number): Uint8Array | null {
    const ctx = this.takeContext();
    if (!ctx) {
      this.framer.fail(Fes.PduSequenceError, 0); // more commands than the queue has entries
      return null;
    }
    ctx.reset();
    h.copy(ctx.sqe, 0, CAPCMD_SQE, CAPCMD_SQE + 64);
    this.pendingCapsule = ctx;
    if (dataLen === 0) return null;
    // In-capsule data: it goes straight to the command's buffer.
    const sgl = ctx.sqe[SQE_PRP1 + SGL_ID]!;
    const len = readU32(ctx.sqe, SQE_PRP1 + SGL_LENGTH);
    if (sgl !== SGL_ID_INCAPSULE || len !== dataLen || readU32(ctx.sqe, SQE_PRP1 + SGL_ADDRESS) !== 0) return null; // dropped; answered by capsule()
    const max = this.qid > 0 && this.ctrl?.subsystem ? this.ctrl.subsystem.inCapsuleDataSize : this.services.settings.adminInCapsuleSize;
    if (dataLen > max) {
      this.framer.fail(Fes.DataTransferLimitExceeded, 4);
      return null;
    }
    const st = this.allocData(ctx, dataLen);
    if (st !== 0) {
      ctx.pendingStatus = st; // the data is read and dropped; capsule() answers
      return null;
    }
    ctx.dataState = 'ready';
    return ctx.buf;
  }

  private capsule(_h: Buffer, dataLen: number, digestBad: boolean): void {
    const ctx = this.pendingCapsule!;
    this.pendingCapsule = undefined;
    this.stats.commands++;
    const s = ctx.sqe;
    ctx.opcode = s[SQE_OPC]!;
    ctx.cid = readU16(s, SQE_CID);
    ctx.nsid = readU32(s, SQE_NSID);
    this.ctrl?.sawCommand();
    if (DEBUG && this.qid <= 0) this.services.log(`${this.remote}: qid ${this.qid} cid ${ctx.cid} opcode 0x${ctx.opcode.toString(16)}${ctx.opcode === FABRICS_OPC ? ` fctype ${s[FAB_FCTYPE]}` : ''} cdw10 0x${readU32(s, 40).toString(16)}`);
    if (this.byCid.has(ctx.cid)) {
      // The host reused a command ID still in flight.
      this.releaseData(ctx);
      return this.answerWithoutTracking(ctx, sf(Sct.Generic, GenericSc.CommandIdConflict));
    }
    this.byCid.set(ctx.cid, ctx);
    ctx.busy = true;
    if (digestBad) return this.complete(ctx, sf(Sct.Generic, GenericSc.TransientTransportError, false));
    const sglId = s[SQE_PRP1 + SGL_ID]!;
    const sglLen = readU32(s, SQE_PRP1 + SGL_LENGTH);
    const dir = ctx.opcode === FABRICS_OPC ? s[FAB_FCTYPE]! & 3 : ctx.opcode & 3; // 01b host to controller, 10b controller to host
    ctx.dataLen = sglLen;
    if (ctx.pendingStatus >= 0) return this.complete(ctx, ctx.pendingStatus);
    if (dataLen > 0) {
      if (ctx.dataState !== 'ready') {
        this.releaseData(ctx);
        return this.complete(ctx, sglId !== SGL_ID_INCAPSULE ? sf(Sct.Generic, GenericSc.SglDescriptorTypeInvalid) : readU32(s, SQE_PRP1 + SGL_ADDRESS) !== 0 ? sf(Sct.Generic, GenericSc.SglOffsetInvalid) : sf(Sct.Generic, GenericSc.DataSglLengthInvalid));
      }
      return dispatch(this, ctx);
    }
    if (sglLen === 0 || dir === 0) return dispatch(this, ctx);
    if (sglId === SGL_ID_INCAPSULE) return this.complete(ctx, sf(Sct.Generic, GenericSc.DataSglLengthInvalid)); // said in-capsule, brought none
    if (sglId !== SGL_ID_TRANSPORT) return this.complete(ctx, sf(Sct.Generic, GenericSc.SglDescriptorTypeInvalid));
    if (dir === 2) return dispatch(this, ctx); // the handler sends C2HData
    // Host to controller beyond the capsule: ask for it with R2Ts.
    if (this.qid <= 0) return this.complete(ctx, sf(Sct.Generic, GenericSc.DataSglLengthInvalid)); // admin data comes in-capsule
    const st = this.allocData(ctx, sglLen);
    if (st !== 0) return this.complete(ctx, st);
    ctx.dataState = 'in';
    this.sendR2t(ctx);
  }

  /** Allocate the command's data buffer (DMA memory on I/O queues): 0, or the status to answer with. */
  private allocData(ctx: CommandContext, len: number): number {
    if (this.qid > 0 && this.dmaCache) return this.takeDma(ctx, len);
    ctx.buf = Buffer.alloc(len);
    return 0;
  }

  /** A DMA buffer of exactly `len` bytes for `ctx` from this connection's cache: 0, or the status to answer with. */
  takeDma(ctx: CommandContext, len: number): number {
    const cache = this.dmaCache;
    if (!cache || len > (this.deviceQp?.maxTransfer ?? 0)) return sf(Sct.Generic, GenericSc.InvalidField);
    let base: DmaBuffer;
    try {
      base = cache.take(len);
    } catch (e) {
      if (!(e instanceof ResourceError)) throw e;
      return sf(Sct.Generic, GenericSc.NamespaceNotReady, false); // out of DMA memory for now: the host retries
    }
    ctx.dmaBase = base;
    ctx.dma = base.length === len ? base : base.subarray(0, len);
    ctx.buf = ctx.dma.bytes;
    return 0;
  }

  // ---- R2T (TCP 3.6.2.10) and H2CData (3.6.2.8) ----

  private sendR2t(ctx: CommandContext): void {
    const off = ctx.received;
    const len = Math.min(ctx.dataLen - off, this.services.settings.maxH2CData);
    ctx.r2tEnd = off + len;
    ctx.r2tOpen = true;
    encodeR2T(ctx.r2t, ctx.cid, ctx.index, off, len, this.dig);
    this.write(ctx.r2tView);
  }

  private h2cCtx: CommandContext | undefined;

  private h2cHeader(h: Buffer, dataLen: number): Uint8Array | null {
    const ctx = this.byCid.get(readU16(h, DATA_CCCID));
    if (!ctx || !ctx.r2tOpen || readU16(h, DATA_TTAG) !== ctx.index) {
      this.framer.fail(Fes.PduSequenceError, DATA_TTAG); // H2CData no R2T asked for
      return null;
    }
    const datao = readU32(h, DATA_DATAO);
    if (datao !== ctx.received || datao + dataLen > ctx.r2tEnd) {
      this.framer.fail(Fes.DataTransferOutOfRange, datao !== ctx.received ? DATA_DATAO : 16);
      return null;
    }
    this.h2cCtx = ctx;
    // Straight into the command's buffer, at its offset. (A view per PDU: the one allocation of the write path.)
    return ctx.buf!.subarray(datao, datao + dataLen);
  }

  private h2cDone(h: Buffer, dataLen: number, digestBad: boolean): void {
    const ctx = this.h2cCtx;
    this.h2cCtx = undefined;
    if (!ctx) return;
    if (digestBad) ctx.digestBad = true;
    ctx.received += dataLen;
    const last = (h[CH_FLAGS]! & FLAG_LAST_PDU) !== 0;
    if (ctx.received < ctx.r2tEnd) {
      if (last) this.framer.fail(Fes.DataTransferOutOfRange, 16); // LAST_PDU before the R2T's data was all there
      return;
    }
    if (!last) return this.framer.fail(Fes.PduSequenceError, CH_FLAGS);
    ctx.r2tOpen = false;
    if (ctx.received < ctx.dataLen) return this.sendR2t(ctx);
    ctx.dataState = 'ready';
    if (ctx.digestBad) return this.complete(ctx, sf(Sct.Generic, GenericSc.TransientTransportError, false));
    dispatch(this, ctx);
  }

  // ---- answers ----

  /** Note a command went to the device (for closing and polling). */
  deviceSubmitted(): void {
    this.onDevice++;
    this.onDeviceWork?.();
  }

  /** A read or write the device completed: the data (reads) and the CapsuleResp go out. */
  private deviceDone(ctx: CommandContext, err: Error | null, dw0: number): void {
    this.onDevice--;
    if (err) this.complete(ctx, statusOf(err));
    else if ((ctx.opcode & 3) === 2) this.sendData(ctx, ctx.buf!, ctx.dataLen);
    else this.complete(ctx, 0, dw0);
    if (this.state === 'closed') this.maybeRelease();
  }

  complete(ctx: CommandContext, status: number, dw0 = 0, dw1 = 0): void {
    this.byCid.delete(ctx.cid);
    ctx.busy = false;
    if (this.state === 'closed') return this.written(ctx);
    this.fillCqe(ctx, status, dw0, dw1);
    if (DEBUG && this.qid <= 0) this.services.log(`${this.remote}: qid ${this.qid} cid ${ctx.cid} status 0x${status.toString(16)} dw0 0x${(dw0 >>> 0).toString(16)}`);
    ctx.answered = true;
    this.write(ctx.respView, ctx.onWritten);
  }

  private answerWithoutTracking(ctx: CommandContext, status: number): void {
    if (this.state === 'closed') return this.written(ctx);
    this.fillCqe(ctx, status, 0, 0);
    this.write(ctx.respView, ctx.onWritten);
  }

  private fillCqe(ctx: CommandContext, status: number, dw0: number, dw1: number): void {
    const r = ctx.resp;
    writeU32(r, 8, dw0);
    writeU32(r, 12, dw1);
    this.sqhd = this.sqsize > 0 ? (this.sqhd + 1) % (this.sqsize + 1) : 0;
    writeU16(r, 16, this.sqhd);
    writeU16(r, 18, Math.max(this.qid, 0));
    writeU16(r, 20, ctx.cid);
    writeU16(r, 22, (status << 1) & 0xfffe);
    encodeCapsuleResp(r, this.dig);
  }

  sendData(ctx: CommandContext, data: Uint8Array, len: number): void {
    if (this.state === 'closed') {
      this.byCid.delete(ctx.cid);
      return this.written(ctx);
    }
    const view = len === data.length ? data : data.subarray(0, len);
    encodeC2HData(ctx.c2h, ctx.cid, 0, len, true, false, this.dig);
    const corked = this.io.corkIfQueued(); // straight to the socket: MSG_MORE instead
    this.write(ctx.c2hView, undefined, true);
    this.write(view, undefined, true);
    if (this.dig.ddgst) {
      writeU32(ctx.dg, 0, crc32c(view));
      this.write(ctx.dg, undefined, true);
    }
    this.complete(ctx, 0);
    if (corked) this.io.uncork();
  }

  private write(b: Uint8Array, cb?: () => void, more = false): void {
    this.stats.bytesOut += b.length;
    this.io.write(b, cb, more);
  }

  /** The socket took the answer (or the connection is gone): free the data buffer, reuse the context. */
  private written(ctx: CommandContext): void {
    this.releaseData(ctx);
    ctx.answered = false;
    this.free.push(ctx);
    if (this.state === 'closed') this.maybeRelease();
  }

  private releaseData(ctx: CommandContext): void {
    if (ctx.dmaBase) {
      if (this.released || !this.dmaCache) ctx.dmaBase.free();
      else this.dmaCache.give(ctx.dmaBase);
    }
    ctx.dmaBase = null;
    ctx.dma = null;
    ctx.buf = null;
  }

  // ---- binding (Connect) ----

  bindAdmin(ctrl: FabricsController, sqsize: number): void {
    this.qid = 0;
    this.sqsize = sqsize;
    this.ctrl = ctrl;
    this.state = 'ready';
    this.framer.limits.maxCapsuleData = this.services.settings.adminInCapsuleSize;
  }

  bindIo(ctrl: FabricsController, qid: number, sqsize: number, qp: IoQueuePair): void {
    this.qid = qid;
    this.sqsize = sqsize;
    this.ctrl = ctrl;
    this.deviceQp = qp;
    this.dmaCache = new DmaCache(ctrl.subsystem!.device!, DMA_CACHE_BYTES);
    this.state = 'ready';
    this.framer.limits.maxCapsuleData = ctrl.subsystem?.inCapsuleDataSize ?? 0;
    ctrl.ioConnections.set(qid, this);
  }

  /** Connect arrived on this connection (before bind*): the state machine's check. */
  get awaitingConnect(): boolean {
    return this.state === 'connect';
  }

  // ---- closing ----

  /**
   * Close: the socket goes; commands still on the device finish (their
   * answers dropped), then the device queue pair and the buffers are given
   * back. `endAssociation`: an admin queue's closing ends its association.
   */
  close(reason: string, destroy = true): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    if (DEBUG || reason.includes('stalled') || reason.includes('ICReq')) this.services.log(`${this.remote}: qid ${this.qid}: ${reason}: closed${DEBUG ? ` (${JSON.stringify(this.io.counts)})` : ''}`);
    if (destroy) this.io.destroy();
    const ctrl = this.ctrl;
    if (ctrl) {
      if (this.qid === 0) ctrl.end(reason);
      else if (ctrl.ioConnections.get(this.qid) === this) ctrl.ioConnections.delete(this.qid);
    }
    // Commands waiting for data or in a handler: nothing more will come.
    for (const c of this.ctxs) if (c.busy && c.dataState === 'in') this.complete(c, 0);
    this.maybeRelease();
  }

  closeGracefully(reason: string): void {
    if (this.state === 'closed') return;
    this.io.end();
    this.close(reason, false);
  }

  private maybeRelease(): void {
    if (this.released || this.onDevice > 0) return;
    this.released = true;
    const qp = this.deviceQp;
    const done = () => {
      for (const c of this.ctxs) this.releaseData(c);
      this.dmaCache?.clear();
      this.dmaCache = undefined;
      this.onClosed?.(this);
    };
    if (qp) {
      this.deviceQp = undefined;
      qp.delete().then(done, (e: unknown) => {
        this.services.log(`${this.remote}: deleting device queue ${qp.qid}: ${(e as Error).message}`);
        done();
      });
    } else {
      done();
    }
  }
}

