// One socket connection between two processes of a group: the frame
// decoder of what arrives, and a count of writes and requests under way
// that keeps the process alive only while there is one.
import type net from 'node:net';
import { FrameDecoder } from './protocol.js';

/** Bytes of frames a peer may leave unread in our send queue. */
export const MAX_WRITE_BACKLOG = 1024 * 1024;

/** A connection to a peer (we connected) or from one (it connected). */
export class Conn {
  readonly decoder = new FrameDecoder();
  connected: boolean;
  /** The peer's pid as the kernel recorded it (SO_PEERCRED), once checked. */
  peerPid: number | undefined;
  /** The group slot that pid held when last looked up (messaging.ts memberOf). */
  peerSlot: number | undefined;
  /** Writes and requests under way: while > 0 the socket keeps the process alive. */
  private busy = 0;
  private stall: NodeJS.Timeout | undefined;

  constructor(
    readonly sock: net.Socket,
    /** 'slot:pid' of the peer for connections we opened. */
    readonly key: string | undefined,
    incoming: boolean,
  ) {
    this.connected = incoming;
    sock.unref();
  }

  /** Something is under way on this connection: keep the process alive. */
  hold(): void {
    if (this.busy++ === 0) this.sock.ref();
  }

  /** What hold() announced is done. */
  release(): void {
    if (--this.busy === 0) this.sock.unref();
  }

  /** A frame became partial: `onStall` runs unless it completes within `ms`. */
  armStall(ms: number, onStall: () => void): void {
    if (this.stall) return;
    this.stall = setTimeout(onStall, ms).unref();
  }

  /** Nothing partial any more. */
  clearStall(): void {
    if (this.stall) clearTimeout(this.stall);
    this.stall = undefined;
  }

  /**
   * Write a frame; `done` learns whether it was handed to the kernel. A
   * peer that leaves more than MAX_WRITE_BACKLOG bytes unread loses the
   * connection (and the frame is not sent).
   */
  write(buf: Buffer, done?: (ok: boolean) => void): void {
    if (this.sock.destroyed || this.sock.writableLength + buf.length > MAX_WRITE_BACKLOG) {
      if (!this.sock.destroyed) this.sock.destroy();
      done?.(false);
      return;
    }
    this.hold();
    this.sock.write(buf, (err) => {
      this.release();
      done?.(!err);
    });
  }
}
