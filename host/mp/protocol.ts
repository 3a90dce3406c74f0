// Wire format of the messages between the processes of a group (DPDK's
// rte_mp model, over Unix stream sockets). A stream has no message
// boundaries, so each frame is length-prefixed:
//
//   frame
//   +0  u32 big-endian: length L of what follows (at most MP_MAX_FRAME)
//   +4  L bytes: UTF-8 JSON of a Frame
//
// A Frame carries the action name, the sender's process slot and pid, and
// the JSON payload (a message or request) or answer (a reply). Requests and
// their replies are matched by the requester's `id`.

import { InvalidArgumentError, MessageTooLargeError } from '../errors.js';

/** Largest payload of a message, request or reply: bytes of its JSON text (UTF-8). */
export const MP_MAX_PAYLOAD = 64 * 1024;
/** Action names: 1 to 64 of letters, digits and _ . : - */
export const MP_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Action names the driver keeps for itself (its own notifications). */
export const MP_RESERVED_PREFIX = 'nvme-wasm:';
/** Default bound of a request, in ms. */
export const MP_DEFAULT_TIMEOUT_MS = 5000;

const LEN_BYTES = 4;
/** The frame around the payload: name, ids, keys (the name is at most 64 bytes). */
const FRAME_OVERHEAD = 512;
export const MP_MAX_FRAME = MP_MAX_PAYLOAD + FRAME_OVERHEAD;

export enum FrameType {
  /** A message: no reply. */
  Message = 'm',
  /** A request: the receiver answers with Reply or Ignore. */
  Request = 'q',
  /** The answer of the receiver's handler (or the error it threw). */
  Reply = 'r',
  /** The receiver has no handler for the name: it does not count (DPDK's MP_IGN). */
  Ignore = 'i',
}

export interface Frame {
  t: FrameType;
  /** Action name. */
  n: string;
  /** Request id (requests, replies). */
  id?: number;
  /** Sender's process slot and pid, and whether it was the primary when sending. */
  s: number;
  pid: number;
  pri: boolean;
  /** Payload as JSON text (already measured against the limit). */
  p?: string;
  /** A handler's error message (replies). */
  e?: string;
}

/** Encode one frame (the payload is JSON text already). */
export function encodeFrame(f: Frame): Buffer {
  const body = Buffer.from(JSON.stringify(f), 'utf8');
  const out = Buffer.allocUnsafe(LEN_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, LEN_BYTES);
  return out;
}

/** Splits a byte stream into frames; throws on a frame above the limit or bad JSON (the caller drops the connection). */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** Bytes of a frame not complete yet. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    while (this.buf.length >= LEN_BYTES) {
      const len = this.buf.readUInt32BE(0);
      if (len > MP_MAX_FRAME) throw new MessageTooLargeError('frame', len, MP_MAX_FRAME);
      if (this.buf.length < LEN_BYTES + len) break;
      const f = JSON.parse(this.buf.toString('utf8', LEN_BYTES, LEN_BYTES + len)) as Frame;
      if (typeof f !== 'object' || f === null || typeof f.t !== 'string' || typeof f.n !== 'string') throw new InvalidArgumentError('frame', 'a JSON object with string t and n');
      out.push(f);
      this.buf = this.buf.subarray(LEN_BYTES + len);
    }
    return out;
  }
}
