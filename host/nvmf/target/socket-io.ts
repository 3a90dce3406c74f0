// A target connection's socket: how its bytes come in and go out.
//
//   accepted socket (paused on connect, never read)
//        |  dupSocket(fd): the same TCP socket, a descriptor of its own
//        v
//   net.Socket({ fd, onread })   Node's reads, into one buffer every
//        |                       connection shares (no Buffer per chunk,
//        |                       no Readable stream); writes, when queued
//   cold  <---- spun out ----  hot
//   Node reads (libuv's        the poll group reads it (recv, MSG_DONTWAIT)
//   readiness wakes us)        on each tick; Node's reading paused
//
// Writes go straight to the socket whenever Node holds none of this socket's
// bytes. Pieces in memory that never moves (the region's data buffers, the
// contexts' header arenas) are gathered and sent by one sendmsg (hal/
// sendmsg.ts): at the end of their answer, or, inside a batch (a poll
// group's poll, a Node read), at the batch's end, every answer of the batch
// at once. Other pieces flush what is gathered, then go by send(). What the
// kernel does not take at once (a full send buffer) goes to Node's queue,
// and everything after it too, so the byte order is kept. Why: in a QEMU guest a Node `net` server's round trip
// was 400 to 600 us against 120 to 200 us for JavaScript polling the socket
// through the HAL (bench/socket-rtt, docs/nvmf-target.md), and half the
// target's JavaScript per I/O was Node's stream machinery.
//
// Without a descriptor to adopt (not a TCP handle) the accepted socket is
// used as it is: Node's 'data' events, Node's writes.
import net from 'node:net';
import { recvNonBlocking, sendNonBlocking, dupSocket, RECV_NOTHING, Gather, gatherable } from '../../../hal/index.js';

/** Bytes one read takes at most: what every connection's reads share. */
export const RECV_BUFFER_SIZE = 256 * 1024;
const shared = Buffer.alloc(RECV_BUFFER_SIZE);
/** Pieces one socket gathers before it sends them (a send when full). */
const GATHER_PIECES = 96;
/** NVME_WASM_NVMF_GATHER=0: one send per PDU piece, nothing gathered (a benchmark's baseline: bench:nvmf --variants projectNoGather). */
const GATHER = process.env.NVME_WASM_NVMF_GATHER !== '0';

/** Open batches (beginBatch without endBatch), and the sockets with gathered pieces. */
let batchDepth = 0;
const dirty: TargetSocket[] = [];

/** What the socket tells its connection. */
export interface SocketSink {
  /** `n` bytes arrived at the start of `buf` (valid during the call only). */
  received(buf: Buffer, n: number): void;
  /** The socket is gone: the peer closed it, or it broke. */
  gone(reason: string): void;
}

export class TargetSocket {
  /** The socket in use (the adopted one, or the accepted one without an fd). */
  readonly socket: net.Socket;
  /** Its descriptor; -1: none (Node does all its I/O). */
  readonly fd: number;
  /** 'ADDR:PORT' of the peer. */
  readonly remote: string;
  /** Read by pollIn() now, Node's reading paused. */
  hot = false;
  /** Write straight to the socket when Node holds none of its bytes (pollSockets). */
  direct: boolean;
  /** Writes handed to Node and not yet done. */
  private queued = 0;
  /** Counters: reads by poll, reads by Node, writes straight, writes through Node. */
  readonly counts = { polledReads: 0, nodeReads: 0, directWrites: 0, queuedWrites: 0, gathers: 0, gatheredPieces: 0 };
  /** Pieces waiting for one sendmsg, and their callbacks (same index). */
  private readonly gather: Gather | undefined;
  private readonly pieceCbs: Array<(() => void) | undefined> = [];
  private isDirty = false;
  /** The last flush's sendmsg failed: the connection is broken. */
  private broken = false;

  constructor(accepted: net.Socket, private readonly sink: SocketSink, direct: boolean) {
    this.remote = `${accepted.remoteAddress}:${accepted.remotePort}`;
    const fd0 = (accepted as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    let fd = -1;
    if (typeof fd0 === 'number' && fd0 >= 0) {
      try {
        fd = dupSocket(fd0);
      } catch {
        fd = -1; // out of descriptors: Node's own reads
      }
    }
    if (fd >= 0) {
      accepted.destroy(); // its descriptor only: the socket stays open through fd
      this.socket = new net.Socket({
        fd,
        readable: true,
        writable: true,
        onread: { buffer: shared, callback: (n: number, buf: Uint8Array) => this.nodeRead(n, buf as Buffer) },
      } as net.SocketConstructorOpts);
      this.fd = fd;
    } else {
      this.socket = accepted;
      this.fd = -1;
      accepted.on('data', (d: Buffer) => sink.received(d, d.length));
      accepted.resume();
    }
    this.direct = direct && this.fd >= 0;
    if (this.direct && GATHER) this.gather = new Gather(GATHER_PIECES);
    this.socket.setNoDelay(true);
    this.socket.on('error', () => sink.gone('socket error'));
    this.socket.on('close', () => sink.gone('connection closed by the host'));
  }

  private nodeRead(n: number, buf: Buffer): boolean {
    this.counts.nodeReads++;
    TargetSocket.beginBatch();
    try {
      this.sink.received(buf, n);
    } finally {
      TargetSocket.endBatch();
    }
    return true;
  }

  /**
   * Gather the answers written from now on until endBatch (calls nest): each
   * socket sends what it gathered in one sendmsg then. Whoever begins must
   * end (try/finally).
   */
  static beginBatch(): void {
    batchDepth++;
  }

  static endBatch(): void {
    if (--batchDepth > 0) return;
    batchDepth = 0;
    // flush() may run callbacks that write again: they see no batch and flush themselves.
    while (dirty.length > 0) dirty.pop()!.flush();
  }

  /** Read it by pollIn() from now on (no-op without an fd). */
  goHot(): void {
    if (this.hot || this.fd < 0 || this.socket.destroyed) return;
    this.hot = true;
    this.socket.pause(); // an onread socket: readStop
  }

  /** Let Node read it again (libuv's readiness). */
  goCold(): void {
    if (!this.hot) return;
    this.hot = false;
    if (!this.socket.destroyed) this.socket.resume();
  }

  /**
   * One read of what has arrived, into `buf`: the bytes read (given to the
   * sink), 0 when nothing was there. End of stream or an error: the sink's
   * gone(), and 0.
   */
  pollIn(buf: Buffer): number {
    if (!this.hot) return 0;
    let n: number;
    try {
      n = recvNonBlocking(this.fd, buf, buf.length);
    } catch {
      this.sink.gone('socket error');
      return 0;
    }
    if (n === RECV_NOTHING) return 0;
    if (n === 0) {
      this.sink.gone('connection closed by the host');
      return 0;
    }
    this.counts.polledReads++;
    this.sink.received(buf, n);
    return n;
  }

  /** The shared receive buffer, for a poll group's reads. */
  static get recvBuffer(): Buffer {
    return shared;
  }

  /**
   * Write `b` (kept by the caller until `cb`); `more`: more bytes follow at
   * once. `cb` runs when the kernel has them (at once when written straight).
   */
  write(b: Uint8Array, cb?: () => void, more = false): void {
    const g = this.gather;
    if (g && this.queued === 0 && !this.socket.destroyed && gatherable(b)) {
      this.pieceCbs[g.count] = cb;
      g.add(b);
      if (g.full || (!more && batchDepth === 0)) this.flush();
      else if (!this.isDirty) {
        this.isDirty = true;
        dirty.push(this);
      }
      return;
    }
    this.flush(); // what was gathered goes first
    if (this.direct && this.queued === 0 && !this.socket.destroyed) {
      let n: number;
      try {
        n = sendNonBlocking(this.fd, b, more);
      } catch {
        this.sink.gone('socket error');
        cb?.();
        return;
      }
      if (n === b.length) {
        this.counts.directWrites++;
        cb?.();
        return;
      }
      if (n > 0) b = b.subarray(n);
    }
    this.queue(b, cb);
  }

  /**
   * Send what is gathered, in one sendmsg; what the kernel does not take
   * goes to Node's queue. Then each piece's callback (a piece queued: when
   * Node has written it).
   */
  flush(): void {
    this.isDirty = false;
    const g = this.gather;
    if (!g || g.count === 0) return;
    let n = 0;
    this.broken = false;
    if (!this.socket.destroyed) {
      try {
        n = Math.max(g.send(this.fd), 0);
      } catch {
        this.broken = true;
      }
    }
    this.counts.gathers++;
    this.counts.gatheredPieces += g.count;
    g.settle(n, this.pieceSent, this.pieceUnsent);
    if (this.broken) this.sink.gone('socket error');
  }

  /** settle(): piece `i` is the kernel's. */
  private readonly pieceSent = (i: number): void => {
    const cb = this.pieceCbs[i];
    this.pieceCbs[i] = undefined;
    cb?.();
  };

  /** settle(): `rest` of piece `i` goes to Node's queue (dropped when the socket is gone). */
  private readonly pieceUnsent = (rest: Uint8Array, i: number): void => {
    const cb = this.pieceCbs[i];
    this.pieceCbs[i] = undefined;
    if (this.broken || this.socket.destroyed) cb?.();
    else this.queue(rest, cb);
  };

  private queue(b: Uint8Array, cb?: () => void): void {
    this.queued++;
    this.counts.queuedWrites++;
    this.socket.write(b, () => {
      this.queued--;
      cb?.();
    });
  }

  /** Several writes in a row will go to Node's queue: cork it (undefined: they go straight). */
  corkIfQueued(): boolean {
    if (this.direct && this.queued === 0) return false;
    this.socket.cork(); // nothing is gathered: pieces gather only while Node holds none
    return true;
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Send `last` (after whatever is queued), then FIN. */
  end(last?: Uint8Array): void {
    this.flush();
    this.hot = false;
    if (last) this.socket.end(last);
    else this.socket.end();
  }

  destroy(): void {
    this.hot = false;
    this.flush(); // what was written before goes out first, as it would have unbatched (a Disconnect's answer)
    this.socket.destroy();
  }
}

