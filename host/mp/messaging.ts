// Messages between the processes of a group, in the model of DPDK's rte_mp
// IPC (reference 002): named actions registered per process; a message
// (no reply), a request awaited (`request`) or with a callback
// (`requestAsync`), answered by the receivers' handlers, with a reply record
// { nbSent, nbReceived, replies }.
//
// Routing is DPDK's: what the primary sends goes to every live secondary;
// what a secondary sends goes to the primary. Peers are the live slots of
// the group's process table (pid + start time), read at send time, so a
// process that joins or leaves meanwhile is simply in or out.
//
// Transport: Node has no Unix datagram sockets, so each process listens on
// a Unix stream socket in the group's run directory (like DPDK's
// /var/run/dpdk/<prefix>/mp_socket_<pid>):
//
//   <run dir>/<prefix>_<shmId>/mp_socket_<slot>_<pid>
//
// A sender connects to a peer's socket once and keeps the connection;
// requests and their replies travel on that connection (frames in
// protocol.ts). Sockets are event-loop I/O: nothing here polls or blocks.
// A peer that dies closes its end (the kernel does it), which ends at once
// its share of every request waiting on it; a peer that hangs is bounded by
// the request's timeout. A peer whose socket cannot be reached (still
// starting, or gone) was not sent to and is not counted in nbSent; a peer
// with no handler for the name answers "ignore" and is not counted either.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Group } from '../group.js';
import { InvalidArgumentError, MessageTooLargeError, ControllerError } from '../errors.js';
import { checkInt } from '../validate.js';
import {
  FrameDecoder, FrameType, encodeFrame, MP_MAX_PAYLOAD, MP_NAME_PATTERN, MP_RESERVED_PREFIX, MP_DEFAULT_TIMEOUT_MS, type Frame,
} from './protocol.js';

/** The process on the other side. */
export interface MpPeer {
  /** Its slot in the group's process table. */
  slot: number;
  pid: number;
  /** It was the group's primary when it sent this. */
  primary: boolean;
}

/** One peer's answer to a request. */
export interface MpAnswer {
  slot: number;
  pid: number;
  /** What the peer's handler returned (resolved), JSON round-tripped; undefined when it threw. */
  payload: unknown;
  /** The message of what the handler threw, if it did. */
  error?: string;
}

/** The outcome of a request (DPDK's rte_mp_reply). */
export interface MpReply {
  /** Peers the request reached (live, listening and with a handler for the name). */
  nbSent: number;
  /** Peers that answered before the timeout (nbSent - nbReceived timed out or died). */
  nbReceived: number;
  /** The answers, in arrival order. */
  replies: MpAnswer[];
  /** The timeout ended the wait (some peer neither answered nor went away). */
  timedOut: boolean;
}

/**
 * A handler: called with the payload and the sender. For a request, what it
 * returns (or resolves to) is the answer; if it throws, the requester gets
 * the error's message in its reply record. For a message the result is ignored.
 */
export type MpHandler = (payload: unknown, peer: MpPeer) => unknown;

export interface MpRequestOptions {
  /** Stop waiting after this many ms (1 .. 3,600,000; default 5000). */
  timeoutMs?: number;
}

/** Where the groups' sockets live: $NVME_WASM_RUN_DIR, else <tmpdir>/nvme-wasm. */
export function runDir(): string {
  return process.env.NVME_WASM_RUN_DIR ?? path.join(os.tmpdir(), 'nvme-wasm');
}

/** The socket directory of a group named `groupName` (its region file's name without '.region'). */
export function groupSocketDir(groupName: string): string {
  const dir = path.join(runDir(), groupName);
  // sun_path holds 107 bytes: a long prefix gets a hashed directory name.
  return dir.length <= 72 ? dir : path.join(runDir(), createHash('sha1').update(groupName).digest('hex').slice(0, 16));
}

const SOCKET_RE = /^mp_socket_(\d+)_(\d+)$/;
const socketName = (slot: number, pid: number) => `mp_socket_${slot}_${pid}`;

/** A connection to a peer (we connected) or from one (it connected). */
class Conn {
  readonly decoder = new FrameDecoder();
  connected: boolean;
  /** Writes and requests under way: while > 0 the socket keeps the process alive. */
  private busy = 0;

  constructor(
    readonly sock: net.Socket,
    /** 'slot:pid' of the peer for connections we opened. */
    readonly key: string | undefined,
    incoming: boolean,
  ) {
    this.connected = incoming;
    sock.unref();
  }

  hold(): void {
    if (this.busy++ === 0) this.sock.ref();
  }

  release(): void {
    if (--this.busy === 0) this.sock.unref();
  }

  /** Write a frame; `done` learns whether it was handed to the kernel. */
  write(buf: Buffer, done?: (ok: boolean) => void): void {
    if (this.sock.destroyed) {
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

interface Pending {
  name: string;
  reply: MpReply;
  /** Peers ('slot:pid') still expected to answer. */
  waiting: Set<string>;
  timer: NodeJS.Timeout;
  done: (r: MpReply) => void;
  conns: Conn[];
}

export class Messaging {
  private readonly handlers = new Map<string, MpHandler>();
  private readonly out = new Map<string, Conn>();
  private readonly incoming = new Set<Conn>();
  private readonly pending = new Map<number, Pending>();
  private server: net.Server | undefined;
  private socketPath: string | undefined;
  private nextId = 1;
  private closed = false;
  /** Called when a handler of a message (not a request) throws: a process warning by default. */
  onHandlerError: (err: unknown, name: string) => void = (err, name) => {
    process.emitWarning(`nvme-wasm: handler of '${name}' threw: ${err instanceof Error ? err.message : String(err)}`);
  };

  constructor(
    private readonly group: Group,
    /** The group's socket directory; undefined for a private driver (no peers ever). */
    readonly dir: string | undefined,
  ) {}

  // ---- the public API ----

  /** Call `handler` for messages and requests named `name`. Names beginning with 'nvme-wasm:' are the driver's. */
  register(name: string, handler: MpHandler): void {
    this.checkName(name, false);
    this.registerAction(name, handler);
  }

  /** Stop handling `name`: from now on, requests for it are answered "ignore". Returns whether it was registered. */
  unregister(name: string): boolean {
    this.checkName(name, false);
    return this.handlers.delete(name);
  }

  /**
   * Send a message (no reply): to every secondary from the primary, to the
   * primary from a secondary. Resolves with the number of peers it was
   * handed to.
   */
  send(name: string, payload?: unknown): Promise<number> {
    this.checkName(name, false);
    this.assertOpen();
    return this.sendAction(name, payload);
  }

  /**
   * Send a request and wait for the answers of every peer it reached, or
   * for `timeoutMs`, whichever comes first. Never rejects for a peer's
   * sake: a peer that times out or dies is in nbSent but not nbReceived.
   */
  request(name: string, payload?: unknown, opts: MpRequestOptions = {}): Promise<MpReply> {
    this.checkName(name, false);
    this.assertOpen();
    const { text, timeoutMs } = this.checkRequest(payload, opts);
    return new Promise((resolve) => this.startRequest(name, text, timeoutMs, resolve));
  }

  /** As request(), but `callback` receives the reply record (all answered, or timed out). */
  requestAsync(name: string, payload: unknown, opts: MpRequestOptions, callback: (reply: MpReply) => void): void {
    this.checkName(name, false);
    if (typeof callback !== 'function') throw new InvalidArgumentError('callback', 'a function', callback);
    this.assertOpen();
    const { text, timeoutMs } = this.checkRequest(payload, opts);
    this.startRequest(name, text, timeoutMs, (r) => {
      try {
        callback(r);
      } catch (e) {
        queueMicrotask(() => {
          throw e; // the caller's bug: an uncaught exception, as any callback's
        });
      }
    });
  }

  /** Names with a handler in this process. */
  get actions(): string[] {
    return [...this.handlers.keys()];
  }

  // ---- for the driver's own actions (names beginning with 'nvme-wasm:') ----

  registerAction(name: string, handler: MpHandler): void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', handler);
    if (this.handlers.has(name)) throw new InvalidArgumentError('name', 'an action name not registered yet in this process', name);
    this.handlers.set(name, handler);
  }

  sendAction(name: string, payload: unknown): Promise<number> {
    const text = this.encodePayload('payload', payload);
    const peers = this.peers();
    if (peers.length === 0 || this.closed) return Promise.resolve(0);
    const frame = encodeFrame(this.frame(FrameType.Message, name, text));
    return new Promise((resolve) => {
      let left = peers.length;
      let sent = 0;
      for (const p of peers) {
        this.connect(p.slot, p.pid).write(frame, (ok) => {
          if (ok) sent++;
          if (--left === 0) resolve(sent);
        });
      }
    });
  }

  // ---- lifecycle ----

  /**
   * Listen on this process's socket (a group member, after joining). A
   * socket file left by a process that is gone (a dead pid in that slot,
   * or one recycled) is removed first.
   */
  start(): void {
    if (!this.dir || this.server || this.closed) return;
    const file = path.join(this.dir, socketName(this.group.self, process.pid));
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.removeStale();
      fs.rmSync(file, { force: true });
    } catch (e) {
      // The driver works without messaging: say so, do not fail the open.
      process.emitWarning(`nvme-wasm: no messaging socket in ${this.dir}: ${(e as Error).message} (set NVME_WASM_RUN_DIR)`);
      return;
    }
    const server = net.createServer((sock) => this.accept(sock));
    server.on('error', (e) => process.emitWarning(`nvme-wasm: messaging socket ${file}: ${e.message}`));
    server.listen(file);
    server.unref();
    this.server = server;
    this.socketPath = file;
  }

  /** Remove socket files whose process is not the live member of that slot. */
  removeStale(): void {
    if (!this.dir) return;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = SOCKET_RE.exec(n);
      if (!m) continue;
      const slot = Number(m[1]);
      const pid = Number(m[2]);
      if (slot === this.group.self && pid === process.pid) continue;
      if (slot < 0 || slot >= 64 || !this.group.slotAlive(slot) || this.group.procPid(slot) !== pid) fs.rmSync(path.join(this.dir, n), { force: true });
    }
  }

  /**
   * Stop: pending requests end with the answers they have, connections
   * close, the socket file goes (and the directory, if it was the last).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.finish(id);
    this.server?.close();
    this.server = undefined;
    for (const c of this.out.values()) c.sock.destroy();
    for (const c of this.incoming) c.sock.destroy();
    this.out.clear();
    this.incoming.clear();
    if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
    if (this.dir) {
      this.removeStale();
      try {
        fs.rmdirSync(this.dir); // only if empty: others still listen otherwise
      } catch {
        /* not empty, or gone */
      }
    }
  }

  // ---- internals ----

  private checkName(name: string, allowReserved: boolean): void {
    if (typeof name !== 'string' || !MP_NAME_PATTERN.test(name)) throw new InvalidArgumentError('name', 'an action name of 1 to 64 letters, digits, _ . : -', name);
    if (!allowReserved && name.startsWith(MP_RESERVED_PREFIX)) throw new InvalidArgumentError('name', `a name not beginning with '${MP_RESERVED_PREFIX}' (reserved for the driver)`, name);
  }

  private checkRequest(payload: unknown, opts: MpRequestOptions): { text: string; timeoutMs: number } {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('opts', 'an object such as { timeoutMs: 1000 }', opts);
    const timeoutMs = checkInt('timeoutMs', opts.timeoutMs ?? MP_DEFAULT_TIMEOUT_MS, 1, 3_600_000);
    return { text: this.encodePayload('payload', payload), timeoutMs };
  }

  /** JSON text of a payload, within the limit. */
  private encodePayload(what: string, payload: unknown): string {
    let text: string | undefined;
    try {
      text = JSON.stringify(payload ?? null);
    } catch (e) {
      throw new InvalidArgumentError(what, `a JSON-serialisable value (${(e as Error).message})`);
    }
    if (text === undefined) throw new InvalidArgumentError(what, 'a JSON-serialisable value', typeof payload);
    const size = Buffer.byteLength(text, 'utf8');
    if (size > MP_MAX_PAYLOAD) throw new MessageTooLargeError(what, size, MP_MAX_PAYLOAD);
    return text;
  }

  private frame(t: FrameType, n: string, p?: string, id?: number, e?: string): Frame {
    const f: Frame = { t, n, s: this.group.self, pid: process.pid, pri: this.group.primarySlot() === this.group.self };
    if (id !== undefined) f.id = id;
    if (p !== undefined) f.p = p;
    if (e !== undefined) f.e = e;
    return f;
  }

  /** Who gets what this process sends: every other live member from the primary, the primary from a secondary. */
  private peers(): Array<{ slot: number; pid: number }> {
    if (!this.dir) return [];
    const me = this.group.self;
    const primary = this.group.primarySlot();
    const slots = primary === me ? this.group.liveSlots().filter((s) => s !== me) : primary >= 0 && this.group.slotAlive(primary) ? [primary] : [];
    return slots.map((slot) => ({ slot, pid: this.group.procPid(slot) }));
  }

  /** The connection to a peer, opened on first use. */
  private connect(slot: number, pid: number): Conn {
    const key = `${slot}:${pid}`;
    const have = this.out.get(key);
    if (have && !have.sock.destroyed) return have;
    const sock = net.createConnection(path.join(this.dir!, socketName(slot, pid)));
    const conn = new Conn(sock, key, false);
    this.out.set(key, conn);
    sock.on('connect', () => {
      conn.connected = true;
    });
    this.wire(conn);
    return conn;
  }

  private accept(sock: net.Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    const conn = new Conn(sock, undefined, true);
    this.incoming.add(conn);
    this.wire(conn);
  }

  private wire(conn: Conn): void {
    conn.sock.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = conn.decoder.push(chunk);
      } catch {
        conn.sock.destroy(); // a peer that breaks the protocol loses its connection
        return;
      }
      for (const f of frames) this.onFrame(conn, f);
    });
    conn.sock.on('error', () => {}); // 'close' follows and does the work
    conn.sock.on('close', () => this.onClose(conn));
  }

  private onFrame(conn: Conn, f: Frame): void {
    switch (f.t) {
      case FrameType.Message:
      case FrameType.Request:
        this.handle(conn, f);
        break;
      case FrameType.Reply:
      case FrameType.Ignore:
        this.answer(conn, f);
        break;
      default:
        break; // unknown frame types from a newer peer: skip
    }
  }

  /** A message or request from a peer: run the handler; answer a request. */
  private handle(conn: Conn, f: Frame): void {
    const handler = this.handlers.get(f.n);
    const isRequest = f.t === FrameType.Request;
    if (!handler) {
      if (isRequest) conn.write(encodeFrame(this.frame(FrameType.Ignore, f.n, undefined, f.id)));
      return;
    }
    const peer: MpPeer = { slot: f.s, pid: f.pid, primary: f.pri === true };
    let payload: unknown = null;
    try {
      payload = f.p === undefined ? null : JSON.parse(f.p);
    } catch {
      /* the sender encoded it: cannot happen short of a broken peer */
    }
    if (!isRequest) {
      // A message: the handler's result is not awaited by anyone.
      try {
        const r = handler(payload, peer);
        if (r instanceof Promise) r.catch((e) => this.onHandlerError(e, f.n));
      } catch (e) {
        this.onHandlerError(e, f.n);
      }
      return;
    }
    conn.hold(); // until the answer is written
    new Promise((resolve) => resolve(handler(payload, peer))).then(
      (v) => {
        let text: string | undefined;
        let err: string | undefined;
        try {
          text = this.encodePayload('reply', v);
        } catch (e) {
          err = (e as Error).message;
        }
        conn.write(encodeFrame(this.frame(FrameType.Reply, f.n, text, f.id, err)));
      },
      (e: unknown) => conn.write(encodeFrame(this.frame(FrameType.Reply, f.n, undefined, f.id, e instanceof Error ? e.message : String(e)))),
    ).finally(() => conn.release());
  }

  /** A reply (or ignore) to one of our requests. */
  private answer(conn: Conn, f: Frame): void {
    const p = f.id === undefined ? undefined : this.pending.get(f.id);
    if (!p || !conn.key || !p.waiting.delete(conn.key)) return; // late (timed out) or unknown
    if (f.t === FrameType.Ignore) {
      p.reply.nbSent--; // no handler there: as DPDK, it does not count
    } else {
      let payload: unknown;
      if (f.e === undefined) {
        try {
          payload = f.p === undefined ? null : JSON.parse(f.p);
        } catch {
          payload = undefined;
        }
      }
      const a: MpAnswer = { slot: f.s, pid: f.pid, payload };
      if (f.e !== undefined) a.error = f.e;
      p.reply.replies.push(a);
      p.reply.nbReceived++;
    }
    if (p.waiting.size === 0) this.finish(f.id!);
  }

  private startRequest(name: string, text: string, timeoutMs: number, done: (r: MpReply) => void): void {
    const peers = this.closed ? [] : this.peers();
    const reply: MpReply = { nbSent: 0, nbReceived: 0, replies: [], timedOut: false };
    if (peers.length === 0) {
      queueMicrotask(() => done(reply)); // always asynchronous, as when there are peers
      return;
    }
    const id = this.nextId++;
    const frame = encodeFrame(this.frame(FrameType.Request, name, text, id));
    const p: Pending = { name, reply, waiting: new Set(), timer: setTimeout(() => {
      reply.timedOut = true;
      this.finish(id);
    }, timeoutMs), done, conns: [] };
    this.pending.set(id, p);
    for (const peer of peers) {
      const conn = this.connect(peer.slot, peer.pid);
      p.waiting.add(conn.key!);
      p.conns.push(conn);
      reply.nbSent++;
      conn.hold(); // the timer keeps the process alive anyway; this keeps the socket read
      conn.write(frame, (ok) => {
        if (!ok) this.dropPeer(p, id, conn, true);
      });
    }
  }

  /**
   * A peer's connection ended. Requests waiting on it end their wait for
   * it: not counted as sent if the connection never opened (the peer was
   * not listening), else as sent but unanswered.
   */
  private onClose(conn: Conn): void {
    if (conn.key) {
      if (this.out.get(conn.key) === conn) this.out.delete(conn.key);
      for (const [id, p] of [...this.pending]) if (p.waiting.has(conn.key) && p.conns.includes(conn)) this.dropPeer(p, id, conn, !conn.connected);
    } else {
      this.incoming.delete(conn);
    }
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

  /** Throw unless this endpoint is open (for callers that must not silently send nothing). */
  assertOpen(): void {
    if (this.closed) throw new ControllerError('messaging is closed (the controller was closed)', 'closed');
  }
}
