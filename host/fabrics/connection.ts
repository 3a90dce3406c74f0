// One NVMe/TCP connection of the host (TCP 1.0 chapter 3): one queue, its
// socket, the PDU framer (host/nvmf/pdu, shared with the target), ICReq /
// ICResp, and two kinds of commands:
//   - the ring's (QueueRing): SQEs the Wasm core built, sent as CapsuleCmd
//     with the data in-capsule (writes up to the in-capsule size) or by
//     R2T/H2CData, reads landing by C2HData straight in the region (a DMA
//     buffer) or in the caller's own Node Buffer (ring.dest); each CapsuleResp
//     becomes a CQE in the CQ ring. Per command: no allocation beyond a
//     view of in-capsule or H2C data and the socket's own.
//   - its own (control): Connect, Property Get/Set, Keep Alive, Number of
//     Queues, Get Log Page: Promises, cids from OWN_CID up.
// A polled queue (FabricsOptions.poll) also writes without Node: the PDUs of
// one kick (every command the core rang), or of one R2T's answer, go in one
// sendmsg (hal/sendmsg.ts) whenever Node holds none of the socket's bytes;
// what the kernel does not take goes through Node's write, in order. The
// per-slot headers live in a SharedArrayBuffer for it (memory that never
// moves); the data is in the region.
import net from 'node:net';
import {
  PduType, Fes, CH_FLAGS, FLAG_LAST_PDU, FLAG_SUCCESS, ICRESP_PFV, ICRESP_CPDA, ICRESP_DGST, ICRESP_MAXH2CDATA, DGST_HDGST_ENABLE,
  DGST_DDGST_ENABLE, DATA_CCCID, DATA_DATAO, DATA_DATAL, R2T_CCCID, R2T_TTAG, R2T_R2TO, R2T_R2TL, TERMREQ_FES, TERMREQ_FEI,
  CAPCMD_HLEN, CAPCMD_SQE, CAPRESP_CQE, DATA_HLEN, DIGEST_SIZE, MAXH2CDATA_MIN, HPDA_MAX, TERMREQ_PLEN_MAX, PFV_1_0,
} from '../../assembly/nvme/tcp.js';
import { SGL_ID_INCAPSULE, SGL_ID_TRANSPORT, PSDT_SGL, SGL_LENGTH, SGL_ID, FABRICS_OPC } from '../../assembly/nvme/fabrics.js';
import { SQE_SIZE, SQE_FLAGS, SQE_CID, SQE_PRP1, CQE_DW3_SF_SHIFT } from '../../assembly/nvme/cmd.js';
import { Sct, GenericSc, statusField } from '../../assembly/nvme/status.js';
import { PduFramer, type PduSink } from '../nvmf/pdu/framer.js';
import { encodeICReq, encodeCapsuleCmd, encodeH2CData, encodeTermReq, readU16, readU32, writeU32, type PduDigests } from '../nvmf/pdu/encode.js';
import { crc32c } from '../nvmf/crc32c.js';
import { NvmfProtocolError } from '../nvmf/errors.js';
import { NvmfConnectError } from './errors.js';
import type { QueueRing } from './ring.js';

/**
 * poll:1: sched_yield(2) after a read that found nothing (NVME_WASM_FABRICS_YIELD=1;
 * an experiment for bench:nvmf-host, off by default).
 */
const SPIN_YIELD = process.env.NVME_WASM_FABRICS_YIELD === '1';
import { recvNonBlocking, RECV_NOTHING, Gather, gatherable, yieldCpu } from '../../hal/index.js';

/** Cids the connection's own commands use (host slots stay below). */
export const OWN_CID = 0xfff0;
const OWN_MAX = 16;

/** A completion of an own command. */
export interface OwnCompletion {
  /** Status field (15 bits; 0 success). */
  sf: number;
  dw0: number;
  dw1: number;
}

interface Own {
  resolve: (c: OwnCompletion) => void;
  reject: (e: Error) => void;
  read?: Buffer;
  write?: Buffer;
  timer?: NodeJS.Timeout;
}

/** What a connection needs of its controller. */
export interface ConnectionOwner {
  /** The connection is gone (after the handshake): `err` says why. */
  lost(c: TcpConnection, err: Error): void;
  /** A ring command completed successfully (the admin queue looks at Identify data). */
  completed?(ring: QueueRing, slot: number): void;
  /** A ring command (already marked sent) to handle locally instead of sending: true if it did. */
  local?(ring: QueueRing, slot: number, sqe: number): boolean;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  hdgst: boolean;
  ddgst: boolean;
  /** Bound on the TCP connect and the ICReq/ICResp exchange. */
  timeoutMs: number;
  /** An I/O queue's socket is read by kick() (FabricsOptions.poll), not by Node. */
  poll?: boolean;
}

/** PDUs one sendmsg carries at most (a polled queue's gathered writes). */
const GATHER_PIECES = 128;
const align8 = (n: number) => (n + 7) & ~7;
const SENT = (): void => {};

/** Bytes the socket reads at once into the connection's buffer. */
const READ_BUFFER = 256 * 1024;
const DATA_DIR_WRITE = 1; // opcode bits 1:0 = 01b: host to controller
const sfTransient = statusField(Sct.Generic, GenericSc.TransientTransportError, false);

export class TcpConnection implements PduSink {
  readonly framer: PduFramer;
  readonly dig: PduDigests = { hdgst: false, ddgst: false, pda: 0 };
  /** The target's MAXH2CDATA. */
  maxH2CData = 0;
  /** Most write data sent in-capsule (0: none). */
  inCapsule = 0;
  /** The ring this connection serves (bound once the queue exists). */
  ring: QueueRing | undefined;
  readonly address: string;
  private readonly socket: net.Socket;
  private readonly own: Array<Own | undefined> = new Array(OWN_MAX).fill(undefined);
  private readonly ownHdr = Buffer.alloc(CAPCMD_HLEN + DIGEST_SIZE + 128 + 8192 + DIGEST_SIZE);
  private hdrs: Buffer[] = [];
  /** Per slot: the capsule header without data (its length is fixed once digests are known): no view per command. */
  private hdrOnly: Buffer[] = [];
  private h2cHdrs: Buffer[] = [];
  private ddgsts: Buffer[] = [];
  private ddErr: Uint8Array = new Uint8Array(0);
  private readonly sqeAt = { slot: 0, sqe: 0 };
  private icDone: ((err?: Error) => void) | undefined;
  private dead: Error | undefined;
  private completedAny = false;
  private readonly termBuf = Buffer.alloc(TERMREQ_PLEN_MAX);
  /** Where the socket's bytes are read into, reused (Node's onread, or recv when polled). */
  private readonly readBuf = Buffer.allocUnsafe(READ_BUFFER);
  private readonly pollAsked: boolean;
  /** The socket's fd while kick() reads it (FabricsOptions.poll, an I/O queue); -1: Node reads it. */
  private polledFd = -1;
  /** A polled queue's gathered writes (undefined: Node writes everything). */
  private gather: Gather | undefined;
  /** sendmsg calls, and PDUs they carried (a figure for tests). */
  readonly sends = { gathers: 0, pieces: 0, throughNode: 0 };

  private constructor(private readonly owner: ConnectionOwner, o: ConnectionOptions) {
    this.address = `${o.host}:${o.port}`;
    this.pollAsked = o.poll === true;
    this.framer = new PduFramer(this, 'host', { maxCapsuleData: 0, maxDataPdu: 1 << 30 });
    // onread: the socket reads into one buffer of ours, reused, and calls us
    // without the stream machinery (no Buffer per read).
    this.socket = net.connect({
      host: o.host,
      port: o.port,
      onread: {
        buffer: this.readBuf,
        callback: (n: number, buf: Uint8Array): boolean => {
          this.received(buf, n);
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.die(this.icDone
      ? new NvmfConnectError(`${this.address}: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}`, 'unreachable', this.address)
      : new NvmfConnectError(`${this.address}: connection lost: ${e.message}`, 'closed', this.address)));
    this.socket.on('close', () => this.die(new NvmfConnectError(`${this.address}: connection closed by the peer`, 'closed', this.address)));
  }

  /** Connect and exchange ICReq / ICResp (TCP 3.6.2.2-3). */
  static async open(owner: ConnectionOwner, o: ConnectionOptions): Promise<TcpConnection> {
    const c = new TcpConnection(owner, o);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => c.die(new NvmfConnectError(`${c.address}: no ICResp within ${o.timeoutMs} ms`, 'timeout', c.address)), o.timeoutMs);
      c.icDone = (err) => {
        clearTimeout(timer);
        c.icDone = undefined;
        if (err) reject(err);
        else resolve();
      };
      c.socket.once('connect', () => {
        const buf = Buffer.alloc(128);
        encodeICReq(buf, { hpda: 0, hdgst: o.hdgst, ddgst: o.ddgst, maxr2t: 0 });
        c.socket.write(buf);
      });
    });
    return c;
  }

  get isDead(): boolean {
    return this.dead !== undefined;
  }

  /** Close the socket; pending own commands fail with `err`. */
  close(err: Error = new NvmfConnectError(`${this.address}: closed`, 'closed', this.address)): void {
    this.die(err, true);
  }

  /** `n` bytes of the socket in `buf`: through the framer; the queue pair is told of completions. */
  private received(buf: Uint8Array, n: number): void {
    this.completedAny = false;
    this.framer.push(buf, n);
    if (this.completedAny) {
      this.completedAny = false;
      this.ring?.notify();
    }
  }

  /**
   * A polled socket: one read of what has arrived, without blocking (a full
   * buffer's worth at most; the rest at the next poll). Its completions are
   * delivered before the next read, so an end of stream right behind them is
   * seen only at the next poll, as Node's reads would see it.
   */
  private pollIn(): void {
    let n: number;
    try {
      n = recvNonBlocking(this.polledFd, this.readBuf, READ_BUFFER);
    } catch (e) {
      return this.die(new NvmfConnectError(`${this.address}: connection lost: ${(e as Error).message}`, 'closed', this.address));
    }
    if (n === RECV_NOTHING) {
      if (SPIN_YIELD) yieldCpu(); // the target's side may be waiting for this CPU
      return;
    }
    if (n === 0) return this.die(new NvmfConnectError(`${this.address}: connection closed by the peer`, 'closed', this.address));
    this.received(this.readBuf, n);
  }

  private die(err: Error, quiet = false): void {
    if (this.dead) return;
    this.dead = err;
    this.polledFd = -1; // the fd is the socket's: it goes with destroy()
    this.socket.destroy();
    const ic = this.icDone;
    if (ic) ic(err);
    for (let i = 0; i < OWN_MAX; i++) {
      const o = this.own[i];
      if (!o) continue;
      this.own[i] = undefined;
      clearTimeout(o.timer);
      o.reject(err);
    }
    if (!ic && !quiet) this.owner.lost(this, err);
  }

  // ---- the ring ----

  /** Serve `ring`: per-slot PDU buffers sized for its depth. */
  bind(ring: QueueRing): void {
    this.ring = ring;
    if (this.pollAsked && ring.qid > 0) this.startPolling();
    const n = ring.nslots;
    // Per slot, in one arena that never moves (gathered writes): capsule, H2CData header, data digest.
    const capLen = align8(CAPCMD_HLEN + DIGEST_SIZE + 128 + this.inCapsule + DIGEST_SIZE);
    const h2cLen = align8(DATA_HLEN + DIGEST_SIZE + 128);
    const per = capLen + h2cLen + 8;
    const arena = new SharedArrayBuffer(n * per);
    this.hdrs = Array.from({ length: n }, (_, i) => Buffer.from(arena, i * per, capLen));
    const bare = CAPCMD_HLEN + (this.dig.hdgst ? DIGEST_SIZE : 0);
    this.hdrOnly = this.hdrs.map((b) => b.subarray(0, bare));
    this.h2cHdrs = Array.from({ length: n }, (_, i) => Buffer.from(arena, i * per + capLen, h2cLen));
    this.ddgsts = Array.from({ length: n }, (_, i) => Buffer.from(arena, i * per + capLen + h2cLen, DIGEST_SIZE));
    this.ddErr = new Uint8Array(n);
  }

  /**
   * FabricsOptions.poll: Node stops reading this socket and kick() reads it
   * (recv, MSG_DONTWAIT) each time the queue pair polls. Node keeps the
   * socket (writes, close); ICResp came through Node's reads before this.
   */
  private startPolling(): void {
    const fd = (this.socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return; // no fd to read (not a TCP handle): Node reads, as without poll
    this.socket.pause();
    this.polledFd = fd;
    this.gather = new Gather(GATHER_PIECES);
  }

  /**
   * Write the first `len` bytes of `b` (kept by the caller until the
   * command completes): gathered when the socket is written without Node
   * now, else through Node.
   */
  private out(b: Buffer, len: number): void {
    const g = this.gather;
    if (g && this.socket.writableLength === 0 && gatherable(b)) {
      if (g.full) this.flush();
      if (this.socket.writableLength === 0) {
        g.add(b, len);
        return;
      }
    }
    this.sends.throughNode++;
    this.socket.write(len === b.length ? b : b.subarray(0, len));
  }

  /** Send what out() gathered, in one sendmsg; what the kernel does not take goes through Node's write. */
  private flush(): void {
    const g = this.gather;
    if (!g || g.count === 0) return;
    let n = 0;
    try {
      n = Math.max(g.send(this.polledFd), 0);
    } catch {
      n = 0; // broken: Node's write of the rest meets the error and the connection dies
    }
    this.sends.gathers++;
    this.sends.pieces += g.count;
    g.settle(n, SENT, this.writeRest);
  }

  private readonly writeRest = (rest: Uint8Array): void => {
    this.sends.throughNode++;
    this.socket.write(rest);
  };

  /**
   * Send what the core rang since the last look; a polled socket is then
   * read. In that order, as with Node's reads: commands the caller posted
   * after the last completions are on the wire before a close that follows
   * those completions is seen, so they fail with the loss (Host Pathing
   * Error) like any in flight, rather than wait for the reconnect.
   */
  kick(): void {
    this.send();
    if (this.polledFd >= 0) this.pollIn();
  }

  /** Send what the core rang since the last look (one corked batch). */
  private send(): void {
    const ring = this.ring;
    if (!ring || this.dead || ring.head === ring.tail) return;
    const at = this.sqeAt;
    const u8 = ring.u8;
    // One command: one write; several: corked into one writev (gathered into one sendmsg when polled).
    const corked = !this.gather && (ring.tail - ring.head + ring.qsize) % ring.qsize > 1;
    if (corked) this.socket.cork();
    while (ring.fetch(at)) {
      const slot = at.slot;
      if (slot >= ring.nslots) continue; // not a cid of this ring: nothing can complete it
      ring.send(slot);
      if (this.owner.local?.(ring, slot, at.sqe)) continue;
      const buf = this.hdrs[slot]!;
      (u8 as Buffer).copy(buf, CAPCMD_SQE, at.sqe, at.sqe + SQE_SIZE);
      buf[CAPCMD_SQE + SQE_FLAGS] = (buf[CAPCMD_SQE + SQE_FLAGS]! & 0x3f) | (PSDT_SGL << 6);
      buf.writeUInt16LE(slot, CAPCMD_SQE + SQE_CID);
      const len = ring.dataLen[slot]!;
      const sgl = CAPCMD_SQE + SQE_PRP1;
      buf.fill(0, sgl, sgl + 16);
      buf.writeUInt32LE(len, sgl + SGL_LENGTH);
      const opc = ring.opcode[slot]!;
      const write = len > 0 && (opc & 3) === DATA_DIR_WRITE && opc !== FABRICS_OPC;
      const inCap = write && len <= this.inCapsule;
      buf[sgl + SGL_ID] = inCap ? SGL_ID_INCAPSULE : SGL_ID_TRANSPORT;
      this.ddErr[slot] = 0;
      const pdo = encodeCapsuleCmd(buf, inCap ? len : 0, this.dig);
      if (!inCap) {
        this.out(this.hdrOnly[slot]!, this.hdrOnly[slot]!.length);
        continue;
      }
      const off = ring.dataOff[slot]!;
      (u8 as Buffer).copy(buf, pdo, off, off + len);
      let total = pdo + len;
      if (this.dig.ddgst) {
        writeU32(buf, total, crc32c(buf.subarray(pdo, total)));
        total += DIGEST_SIZE;
      }
      this.out(buf, total);
    }
    this.flush();
    if (corked) this.socket.uncork();
  }

  // ---- own commands ----

  /** Send an own command (`sqe` without cid and SGL) and resolve with its completion. */
  command(sqe: Buffer, o: { write?: Buffer; read?: Buffer; timeoutMs?: number } = {}): Promise<OwnCompletion> {
    if (this.dead) return Promise.reject(this.dead);
    const k = this.own.indexOf(undefined);
    if (k < 0) return Promise.reject(new NvmfConnectError(`${this.address}: too many control commands at once`, 'closed', this.address));
    return new Promise<OwnCompletion>((resolve, reject) => {
      const e: Own = { resolve, reject, ...(o.read ? { read: o.read } : {}), ...(o.write ? { write: o.write } : {}) };
      this.own[k] = e;
      if (o.timeoutMs) {
        e.timer = setTimeout(() => this.die(new NvmfConnectError(`${this.address}: no answer to a ${sqe[0] === FABRICS_OPC ? 'Fabrics' : 'admin'} command within ${o.timeoutMs} ms`, 'timeout', this.address)), o.timeoutMs);
      }
      const buf = this.ownHdr;
      sqe.copy(buf, CAPCMD_SQE, 0, SQE_SIZE);
      buf[CAPCMD_SQE + SQE_FLAGS] = (buf[CAPCMD_SQE + SQE_FLAGS]! & 0x3f) | (PSDT_SGL << 6);
      buf.writeUInt16LE(OWN_CID + k, CAPCMD_SQE + SQE_CID);
      const sgl = CAPCMD_SQE + SQE_PRP1;
      buf.fill(0, sgl, sgl + 16);
      const data = o.write ?? o.read;
      buf.writeUInt32LE(data?.length ?? 0, sgl + SGL_LENGTH);
      buf[sgl + SGL_ID] = o.write ? SGL_ID_INCAPSULE : SGL_ID_TRANSPORT;
      const pdo = encodeCapsuleCmd(buf, o.write?.length ?? 0, this.dig);
      const parts: Buffer[] = [Buffer.from(buf.subarray(0, pdo))];
      if (o.write) {
        parts.push(o.write);
        if (this.dig.ddgst) {
          const d = Buffer.alloc(DIGEST_SIZE);
          writeU32(d, 0, crc32c(o.write));
          parts.push(d);
        }
      }
      this.socket.write(Buffer.concat(parts));
    });
  }

  // ---- PduSink ----

  header(hdr: Buffer, type: PduType, dataLen: number): Uint8Array | null {
    if (type !== PduType.C2HData) return null;
    const cid = readU16(hdr, DATA_CCCID);
    const datao = readU32(hdr, DATA_DATAO);
    if (cid >= OWN_CID) {
      const o = this.own[cid - OWN_CID];
      if (!o?.read || datao + dataLen > o.read.length) {
        this.framer.fail(Fes.DataTransferOutOfRange, DATA_DATAO);
        return null;
      }
      this.framer.destOffset = datao;
      return o.read;
    }
    const ring = this.ring;
    if (!ring || cid >= ring.nslots || !ring.busy[cid] || datao + dataLen > ring.dataLen[cid]!) {
      this.framer.fail(Fes.DataTransferOutOfRange, DATA_DATAO);
      return null;
    }
    const dest = ring.dest[cid];
    if (dest) {
      this.framer.destOffset = datao; // a read into the caller's own buffer (no bounce)
      return dest;
    }
    this.framer.destOffset = ring.dataOff[cid]! + datao;
    return ring.u8;
  }

  pdu(hdr: Buffer, type: PduType): void {
    switch (type) {
      case PduType.ICResp:
        return this.icResp(hdr);
      case PduType.CapsuleResp:
        return this.capsuleResp(hdr);
      case PduType.C2HData: {
        const flags = hdr[CH_FLAGS]!;
        if ((flags & FLAG_SUCCESS) && (flags & FLAG_LAST_PDU)) this.finish(readU16(hdr, DATA_CCCID), 0, 0, 0);
        return;
      }
      case PduType.R2T:
        return this.r2t(hdr);
      case PduType.C2HTermReq: {
        const fes = readU16(hdr, TERMREQ_FES);
        this.die(new NvmfProtocolError(fes, readU32(hdr, TERMREQ_FEI), 'received', `${this.address} ended the connection`));
        return;
      }
      default:
        this.framer.fail(Fes.InvalidPduHeaderField, 0);
    }
  }

  dataDigestError(hdr: Buffer, type: PduType): void {
    // TCP 7.4.6.2: the command completes with Transient Transport Error.
    const cid = readU16(hdr, DATA_CCCID);
    if (type === PduType.C2HData && this.ring && cid < this.ring.nslots) this.ddErr[cid] = 1;
  }

  fatal(fes: Fes, fei: number, hdr: Buffer, hdrLen: number): void {
    const n = encodeTermReq(this.termBuf, PduType.H2CTermReq, fes, fei, hdr.subarray(0, hdrLen));
    this.socket.end(Buffer.from(this.termBuf.subarray(0, n)));
    this.die(new NvmfProtocolError(fes, fei, 'sent', `${this.address} sent a malformed or unexpected PDU`));
  }

  private icResp(hdr: Buffer): void {
    if (!this.icDone) return this.framer.fail(Fes.PduSequenceError, 0);
    const pfv = readU16(hdr, ICRESP_PFV);
    const cpda = hdr[ICRESP_CPDA]!;
    const dgst = hdr[ICRESP_DGST]!;
    const maxh2c = readU32(hdr, ICRESP_MAXH2CDATA);
    if (pfv !== PFV_1_0) return this.framer.fail(Fes.InvalidPduHeaderField, ICRESP_PFV);
    if (cpda > HPDA_MAX) return this.framer.fail(Fes.InvalidPduHeaderField, ICRESP_CPDA);
    if (maxh2c < MAXH2CDATA_MIN || maxh2c % 4 !== 0) return this.framer.fail(Fes.InvalidPduHeaderField, ICRESP_MAXH2CDATA);
    this.dig.hdgst = (dgst & DGST_HDGST_ENABLE) !== 0;
    this.dig.ddgst = (dgst & DGST_DDGST_ENABLE) !== 0;
    this.dig.pda = cpda;
    this.framer.hdgst = this.dig.hdgst;
    this.framer.ddgst = this.dig.ddgst;
    this.maxH2CData = maxh2c;
    this.icDone!();
  }

  private capsuleResp(hdr: Buffer): void {
    const cqe = CAPRESP_CQE;
    const cid = readU16(hdr, cqe + 12);
    const sf = readU32(hdr, cqe + 12) >>> CQE_DW3_SF_SHIFT;
    this.finish(cid, readU32(hdr, cqe), readU32(hdr, cqe + 4), sf);
  }

  private finish(cid: number, dw0: number, dw1: number, sf: number): void {
    if (cid >= OWN_CID) {
      const k = cid - OWN_CID;
      const o = this.own[k];
      if (!o) return this.framer.fail(Fes.InvalidPduHeaderField, CAPRESP_CQE + 12);
      this.own[k] = undefined;
      clearTimeout(o.timer);
      o.resolve({ sf, dw0, dw1 });
      return;
    }
    const ring = this.ring;
    if (!ring || cid >= ring.nslots || !ring.busy[cid]) return this.framer.fail(Fes.InvalidPduHeaderField, CAPRESP_CQE + 12);
    if (this.ddErr[cid]) sf = sfTransient;
    if (sf === 0) this.owner.completed?.(ring, cid);
    ring.complete(cid, dw0, dw1, sf);
    this.completedAny = true;
  }

  private r2t(hdr: Buffer): void {
    const cid = readU16(hdr, R2T_CCCID);
    const ttag = readU16(hdr, R2T_TTAG);
    const r2to = readU32(hdr, R2T_R2TO);
    const r2tl = readU32(hdr, R2T_R2TL);
    const ring = this.ring;
    if (!ring || cid >= ring.nslots || !ring.busy[cid]) return this.framer.fail(Fes.InvalidPduHeaderField, R2T_CCCID);
    if (r2tl === 0 || r2to + r2tl > ring.dataLen[cid]! || r2tl > this.maxH2CData) return this.framer.fail(Fes.DataTransferOutOfRange, R2T_R2TO);
    const h = this.h2cHdrs[cid]!;
    const off = ring.dataOff[cid]! + r2to;
    const data = ring.u8.subarray(off, off + r2tl);
    const last = r2to + r2tl === ring.dataLen[cid]!;
    const pdo = encodeH2CData(h, cid, ttag, r2to, r2tl, last, this.dig);
    if (this.gather) {
      this.out(h, pdo);
      this.out(data as Buffer, data.length);
      if (this.dig.ddgst) {
        const d = this.ddgsts[cid]!;
        writeU32(d, 0, crc32c(data));
        this.out(d, DIGEST_SIZE);
      }
      this.flush();
      return;
    }
    this.socket.cork();
    this.socket.write(h.subarray(0, pdo));
    this.socket.write(data);
    if (this.dig.ddgst) {
      const d = this.ddgsts[cid]!;
      writeU32(d, 0, crc32c(data));
      this.socket.write(d);
    }
    this.socket.uncork();
  }
}
