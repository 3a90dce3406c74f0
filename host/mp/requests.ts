// The requests this process waits on: per request, the peers still
// expected to answer, the reply record being filled, and its timeout. A
// request ends when every peer answered, went away, or the timeout fired.
import type { Conn } from './conn.js';
import { FrameType, type Frame } from './protocol.js';
import { parsePayload } from './payload.js';
import type { MpAnswer, MpReply } from './types.js';

interface Pending {
  name: string;
  reply: MpReply;
  /** Peers ('slot:pid') still expected to answer. */
  waiting: Set<string>;
  timer: NodeJS.Timeout;
  done: (r: MpReply) => void;
  conns: Conn[];
}

/** A reply record with nothing in it yet. */
export function emptyReply(): MpReply {
  return { nbSent: 0, nbReceived: 0, replies: [], timedOut: false };
}

/** The table of requests under way, by id. */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /**
   * Wait for an answer on each of `conns` (connections we opened), or for
   * `timeoutMs`; `done` gets the reply record. Returns the request's id.
   */
  start(name: string, conns: Conn[], timeoutMs: number, done: (r: MpReply) => void): number {
    const id = this.nextId++;
    const reply = emptyReply();
    const p: Pending = { name, reply, waiting: new Set(), timer: setTimeout(() => {
      reply.timedOut = true;
      this.finish(id);
    }, timeoutMs), done, conns: [] };
    this.pending.set(id, p);
    for (const conn of conns) {
      p.waiting.add(conn.key!);
      p.conns.push(conn);
      reply.nbSent++;
      conn.hold(); // the timer keeps the process alive anyway; this keeps the socket read
    }
    return id;
  }

  /** A reply (or ignore) to one of our requests, on `conn`. */
  answer(conn: Conn, f: Frame): void {
    const p = f.id === undefined ? undefined : this.pending.get(f.id);
    if (!p || !conn.key || !p.waiting.delete(conn.key)) return; // late (timed out) or unknown
    if (f.t === FrameType.Ignore) {
      p.reply.nbSent--; // no handler there: as DPDK, it does not count
    } else {
      const a: MpAnswer = { slot: f.s, pid: f.pid, payload: f.e === undefined ? parsePayload(f.p) : undefined };
      if (f.e !== undefined) a.error = f.e;
      p.reply.replies.push(a);
      p.reply.nbReceived++;
    }
    if (p.waiting.size === 0) this.finish(f.id!);
  }

  /** Request `id` could not be written to `conn`: that peer was not sent to. */
  notSent(id: number, conn: Conn): void {
    const p = this.pending.get(id);
    if (p) this.dropPeer(p, id, conn, true);
  }

  /**
   * A connection we opened ended. Requests waiting on it end their wait for
   * it: not counted as sent if the connection never opened (the peer was
   * not listening), else as sent but unanswered.
   */
  connectionClosed(conn: Conn): void {
    for (const [id, p] of [...this.pending]) if (p.waiting.has(conn.key!) && p.conns.includes(conn)) this.dropPeer(p, id, conn, !conn.connected);
  }

  /** End every request with the answers it has. */
  finishAll(): void {
    for (const id of [...this.pending.keys()]) this.finish(id);
  }

  private dropPeer(p: Pending, id: number, conn: Conn, notSent: boolean): void {
    if (!p.waiting.delete(conn.key!)) return;
    if (notSent) p.reply.nbSent--;
    if (p.waiting.size === 0) this.finish(id);
  }

  private finish(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    for (const c of p.conns) c.release();
    p.done(p.reply);
  }
}
