// One command in flight on a target connection: its SQE, its data buffer,
// the R2T state of a write, and the PDU headers its answer goes out in, all
// preallocated when the context is made and reused command after command.
//
// The headers live in an arena of their own, a SharedArrayBuffer, whose
// memory never moves: the socket can gather them with the data (in the
// region) into one sendmsg (hal/sendmsg.ts).
//
//   arena   0  CapsuleResp (+HDGST)   28
//          32  C2HData header          PDU_HEADER_MAX (HDGST, padding to PDA)
//         164  R2T (+HDGST)           28
//         192  data digest             4
import type { DmaBuffer, IoCallback } from '../../index.js';
import { PDU_HEADER_MAX } from '../../../assembly/nvme/tcp.js';

const RESP_AT = 0;
const C2H_AT = 32;
const R2T_AT = C2H_AT + PDU_HEADER_MAX;
const DG_AT = R2T_AT + 28;
const ARENA_SIZE = DG_AT + 4;

export class CommandContext {
  /** The command (a copy of the capsule's SQE). */
  readonly sqe = Buffer.alloc(64);
  cid = 0;
  opcode = 0;
  nsid = 0;
  /** Bytes of data the command moves (its SGL's length). */
  dataLen = 0;
  /** The data buffer: a DMA buffer (I/O queues) or a plain one (admin). */
  dma: DmaBuffer | null = null;
  /** The connection's cached buffer `dma` is a view of (given back after the answer). */
  dmaBase: DmaBuffer | null = null;
  buf: Uint8Array | null = null;
  /** R2T state: data received so far, the end of the current R2T, its tag. */
  received = 0;
  r2tEnd = 0;
  r2tOpen = false;
  /** A data digest failed on the data of this command: complete with Transient Transport Error. */
  digestBad = false;
  /** Where the data stands: 'none', 'in' (host to controller, awaited) or 'ready'. */
  dataState: 'none' | 'in' | 'ready' = 'none';
  /** Still answered by someone (the device, an admin handler)? */
  busy = false;
  /** A status decided before the capsule was whole (its data is dropped), or -1. */
  pendingStatus = -1;
  /** Answer sent; context waits for the socket to take it. */
  answered = false;
  private readonly arena = new SharedArrayBuffer(ARENA_SIZE);
  readonly resp = Buffer.from(this.arena, RESP_AT, 28);
  readonly c2h = Buffer.from(this.arena, C2H_AT, PDU_HEADER_MAX);
  readonly r2t = Buffer.from(this.arena, R2T_AT, 28);
  readonly dg = Buffer.from(this.arena, DG_AT, 4);
  /** Wire-length views of the headers above (made once the connection's digests are known). */
  respView: Buffer;
  c2hView: Buffer;
  r2tView: Buffer;
  /** Called by the device when a read or write completes (bound once). */
  readonly onDevice: IoCallback;
  /** Given to the socket's write of the answer: frees the buffer, returns the context (bound once). */
  readonly onWritten: () => void;

  constructor(
    /** Index in the connection's table: the TTAG of this command's R2Ts. */
    readonly index: number,
    respLen: number,
    c2hLen: number,
    r2tLen: number,
    device: (ctx: CommandContext, err: Error | null, dw0: number) => void,
    written: (ctx: CommandContext) => void,
  ) {
    this.respView = this.resp.subarray(0, respLen);
    this.c2hView = this.c2h.subarray(0, c2hLen);
    this.r2tView = this.r2t.subarray(0, r2tLen);
    this.onDevice = (err, dw0) => device(this, err, dw0);
    this.onWritten = () => written(this);
  }

  /** Forget the previous command (the buffers stay). */
  reset(): void {
    this.dma = null;
    this.dmaBase = null;
    this.buf = null;
    this.dataLen = 0;
    this.received = 0;
    this.r2tEnd = 0;
    this.r2tOpen = false;
    this.digestBad = false;
    this.dataState = 'none';
    this.busy = false;
    this.answered = false;
    this.pendingStatus = -1;
  }
}
