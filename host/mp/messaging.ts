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
// a Unix stream socket in the group's run directory (socket-dir.ts). A sender connects to a peer's socket once and keeps the connection;
// requests and their replies travel on that connection (frames in
// protocol.ts). Sockets are event-loop I/O: nothing here polls or blocks.
// A peer that dies closes its end (the kernel does it), which ends at once
// its share of every request waiting on it; a peer that hangs is bounded by
// the request's timeout. A peer whose socket cannot be reached (still
// starting, or gone) was not sent to and is not counted in nbSent; a peer
// with no handler for the name answers "ignore" and is not counted either.
//
// This file is the endpoint: handlers, sending, the socket server and the
// connections. Alongside: types.ts (the public types), payload.ts (names
// and payloads checked), requests.ts (requests waiting on answers),
// conn.ts (one connection), protocol.ts (frames), socket-dir.ts (where).
import net from 'node:net';
import { peerCredentials } from '../../hal/index.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Group } from '../group.js';
import { ProcState } from '../../assembly/abi/region.js';
import { InvalidArgumentError, ControllerError } from '../errors.js';
import { FrameType, encodeFrame, type Frame } from './protocol.js';
import { checkName, checkRequest, encodePayload, parsePayload } from './payload.js';
import { PendingRequests, emptyReply } from './requests.js';
import { Conn } from './conn.js';
import { socketName, removeStaleSockets, ensurePrivateDir, DIR_REMAKES } from './socket-dir.js';
import type { MpHandler, MpPeer, MpReply, MpRequestOptions } from './types.js';

/** How long closing waits, at most, for the peers to have read what this process sent them (flush). */
const FLUSH_MS = 1000;

export { runDir, groupSocketDir } from './socket-dir.js';
export type { MpPeer, MpAnswer, MpReply, MpHandler, MpRequestOptions } from './types.js';

/**
 * Bounds on what peers can make this process hold (issue 16 D): incoming
 * connections in all and per member, how long a frame may stay partial, and
 * how many bytes of replies a peer that does not read may leave queued
 * (conn.ts). Worst case: MAX_INCOMING x (MP_MAX_FRAME buffered + the write
 * cap) = 128 x (64 KiB + 1 MiB), about 136 MiB, for at most PARTIAL_FRAME_MS.
 */
const MAX_INCOMING = 128;
const MAX_CONNS_PER_PEER = 8;
const PARTIAL_FRAME_MS = 5000;

/** This process's endpoint of its group's messaging. */
export class Messaging {
  private readonly handlers = new Map<string, MpHandler>();
  private readonly out = new Map<string, Conn>();
  private readonly incoming = new Set<Conn>();
  private readonly requests = new PendingRequests();
  private server: net.Server | undefined;
  private socketPath: string | undefined;
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
    checkName(name, false);
    this.registerAction(name, handler);
  }

  /** Stop handling `name`: from now on, requests for it are answered "ignore". Returns whether it was registered. */
  unregister(name: string): boolean {
    checkName(name, false);
    return this.handlers.delete(name);
  }

  /**
   * Send a message (no reply): to every secondary from the primary, to the
   * primary from a secondary. Resolves with the number of peers it was
   * handed to.
   */
  send(name: string, payload?: unknown): Promise<number> {
    checkName(name, false);
    this.assertOpen();
    return this.sendAction(name, payload);
  }

  /**
   * Send a request and wait for the answers of every peer it reached, or
   * for `timeoutMs`, whichever comes first. Never rejects for a peer's
   * sake: a peer that times out or dies is in nbSent but not nbReceived.
   */
  request(name: string, payload?: unknown, opts: MpRequestOptions = {}): Promise<MpReply> {
    checkName(name, false);
    this.assertOpen();
    const { text, timeoutMs } = checkRequest(payload, opts);
    return new Promise((resolve) => this.startRequest(name, text, timeoutMs, resolve));
  }

  /** As request(), but `callback` receives the reply record (all answered, or timed out). */
  requestAsync(name: string, payload: unknown, opts: MpRequestOptions, callback: (reply: MpReply) => void): void {
    checkName(name, false);
    if (typeof callback !== 'function') throw new InvalidArgumentError('callback', 'a function', callback);
    this.assertOpen();
    const { text, timeoutMs } = checkRequest(payload, opts);
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
    const text = encodePayload('payload', payload);
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
    // A directory another user planted or may write is refused (UnsafePathError): never used, nothing created in it.
    ensurePrivateDir(this.dir);
    try {
      this.removeStale();
      fs.rmSync(file, { force: true });
    } catch (e) {
      // The driver works without messaging: say so, do not fail the open.
      process.emitWarning(`nvme-wasm: no messaging socket in ${this.dir}: ${(e as Error).message} (set NVME_WASM_RUN_DIR)`);
      return;
    }
    const server = net.createServer((sock) => this.accept(sock));
    let relistens = 0;
    server.on('error', (e: NodeJS.ErrnoException) => {
      // The last member leaving removed the (then empty) directory between ensurePrivateDir and bind (the bind
      // then fails with ENOENT, or EACCES as libuv reports it): make it again.
      if (!this.closed && this.server === server && !fs.existsSync(this.dir!) && relistens++ < DIR_REMAKES) {
        try {
          ensurePrivateDir(this.dir!);
          server.listen(file);
          return;
        } catch (e2) {
          e = e2 as NodeJS.ErrnoException;
        }
      }
      process.emitWarning(`nvme-wasm: messaging socket ${file}: ${e.message}`);
    });
    server.on('listening', () => {
      try {
        fs.chmodSync(file, 0o600); // the directory (0700) already keeps others out; the socket says so too
      } catch {
        /* removed meanwhile: close() is under way */
      }
    });
    server.listen(file);
    server.unref();
    this.server = server;
    this.socketPath = file;
  }

  /** Remove socket files whose process is not the live member of that slot. */
  removeStale(): void {
    if (!this.dir) return;
    const g = this.group;
    removeStaleSockets(this.dir, { slot: g.self, pid: process.pid }, (slot, pid) => g.slotAlive(slot) && g.procPid(slot) === pid);
  }

  /**
   * Before this process leaves the group: half-close every connection it
   * opened and wait (at most FLUSH_MS in all) until each peer has closed its
   * side. A peer checks that a connection comes from a member when it
   * accepts it, then reads in order, so once it has closed its side it has
   * taken everything sent. Without this a frame sent just before close could
   * reach a peer that looked the sender up after it had left the group, and
   * be dropped as a stranger's (seen in CI: a secondary's message to the
   * primary lost).
   */
  async flush(): Promise<void> {
    const open = [...this.out.values()].filter((c) => !c.sock.destroyed);
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const closed = open.map((c) => new Promise<void>((resolve) => {
      c.sock.once('close', () => resolve());
      c.sock.end();
    }));
    await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_MS)))]);
    clearTimeout(timer);
  }

  /**
   * Stop: pending requests end with the answers they have, connections
   * close, the socket file goes (and the directory, if it was the last).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.requests.finishAll();
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
      this.checkPeer(conn);
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
    this.checkPeer(conn);
  }

  /**
   * Who is at the other end, from the kernel (SO_PEERCRED), not from what
   * the peer writes: another user is disconnected at once; the frames of a
   * process of this user get the identity of the group member with that
   * pid (onFrame), or are dropped if it is none.
   */
  private checkPeer(conn: Conn): void {
    let cred: { pid: number; uid: number };
    try {
      cred = peerCredentials(conn.sock);
    } catch {
      conn.sock.destroy(); // no credentials, no conversation
      return;
    }
    const uid = process.getuid?.() ?? cred.uid;
    if (cred.uid !== uid) return this.drop(conn, `a connection from uid ${cred.uid} (pid ${cred.pid}): not this user (uid ${uid})`);
    conn.peerPid = cred.pid;
    if (!conn.key) {
      // Incoming: only members may hold a connection here, and only a few each.
      if (!this.memberOf(conn)) return this.drop(conn, `a connection from pid ${cred.pid}, which is no member of the group`);
      let same = 0;
      for (const c of this.incoming) if (c.peerPid === cred.pid) same++;
      if (same > MAX_CONNS_PER_PEER) return this.drop(conn, `connection ${same} from pid ${cred.pid} (at most ${MAX_CONNS_PER_PEER} per member)`);
      if (this.incoming.size > MAX_INCOMING) return this.drop(conn, `connection ${this.incoming.size} (at most ${MAX_INCOMING} in all)`);
    }
  }

  /** Connections dropped since the last log line, and when that was. */
  private dropped = 0;
  private lastDropLog = 0;

  /** Close `conn` for a reason, with a log line (at most one a second, counting the others). */
  private drop(conn: Conn, why: string): void {
    conn.sock.destroy();
    this.dropped++;
    const now = Date.now();
    if (now - this.lastDropLog < 1000) return;
    this.lastDropLog = now;
    process.emitWarning(`nvme-wasm: messaging: dropped ${why}${this.dropped > 1 ? ` (${this.dropped} dropped since the last such line)` : ''}`);
    this.dropped = 0;
  }

  /** Connections to this process's socket now (for diagnostics and tests). */
  get incomingConnections(): number {
    return this.incoming.size;
  }

  /** The group member at the other end of `conn` (by the kernel's pid), or undefined. */
  private memberOf(conn: Conn): { slot: number; pid: number; primary: boolean } | undefined {
    const pid = conn.peerPid;
    if (pid === undefined) return undefined;
    const g = this.group;
    // The slot found once stays the peer's while the table says so (no /proc read per frame);
    // the kernel closes the connection when the peer dies.
    let slot = conn.peerSlot;
    if (slot === undefined || g.procState(slot) !== ProcState.Live || g.procPid(slot) !== pid) {
      slot = g.liveSlots().find((s) => g.procPid(s) === pid);
      conn.peerSlot = slot;
    }
    return slot === undefined ? undefined : { slot, pid, primary: g.primarySlot() === slot };
  }

  private wire(conn: Conn): void {
    conn.sock.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = conn.decoder.push(chunk);
      } catch (e) {
        this.drop(conn, `a connection that broke the protocol: ${(e as Error).message}`);
        return;
      }
      // A frame may stay partial for PARTIAL_FRAME_MS at most: a peer that stalls mid-frame loses its connection.
      if (conn.decoder.buffered === 0) conn.clearStall();
      else conn.armStall(PARTIAL_FRAME_MS, () => this.drop(conn, `a connection whose frame stayed partial for ${PARTIAL_FRAME_MS} ms (${conn.decoder.buffered} bytes buffered)`));
      for (const f of frames) this.onFrame(conn, f);
    });
    conn.sock.on('error', () => {}); // 'close' follows and does the work
    conn.sock.on('close', () => this.onClose(conn));
  }

  private onFrame(conn: Conn, f: Frame): void {
    // The sender's identity is the kernel's, whatever the frame claims.
    const who = this.memberOf(conn);
    if (!who) return; // not (or no longer) a member of the group
    f.s = who.slot;
    f.pid = who.pid;
    f.pri = who.primary;
    switch (f.t) {
      case FrameType.Message:
      case FrameType.Request:
        this.handle(conn, f);
        break;
      case FrameType.Reply:
      case FrameType.Ignore:
        this.requests.answer(conn, f);
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
    // Not JSON: cannot happen short of a broken peer; the handler gets null.
    const payload = parsePayload(f.p) ?? null;
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
          text = encodePayload('reply', v);
        } catch (e) {
          err = (e as Error).message;
        }
        conn.write(encodeFrame(this.frame(FrameType.Reply, f.n, text, f.id, err)));
      },
      (e: unknown) => conn.write(encodeFrame(this.frame(FrameType.Reply, f.n, undefined, f.id, e instanceof Error ? e.message : String(e)))),
    ).finally(() => conn.release());
  }

  private startRequest(name: string, text: string, timeoutMs: number, done: (r: MpReply) => void): void {
    const peers = this.closed ? [] : this.peers();
    if (peers.length === 0) {
      const reply = emptyReply();
      queueMicrotask(() => done(reply)); // always asynchronous, as when there are peers
      return;
    }
    const conns = peers.map((peer) => this.connect(peer.slot, peer.pid));
    const id = this.requests.start(name, conns, timeoutMs, done);
    const frame = encodeFrame(this.frame(FrameType.Request, name, text, id));
    for (const conn of conns) {
      conn.write(frame, (ok) => {
        if (!ok) this.requests.notSent(id, conn);
      });
    }
  }

  /** A connection ended: requests waiting on a peer we connected to stop waiting for it. */
  private onClose(conn: Conn): void {
    conn.clearStall();
    if (conn.key) {
      if (this.out.get(conn.key) === conn) this.out.delete(conn.key);
      this.requests.connectionClosed(conn);
    } else {
      this.incoming.delete(conn);
    }
  }

  /** Throw unless this endpoint is open (for callers that must not silently send nothing). */
  assertOpen(): void {
    if (this.closed) throw new ControllerError('messaging is closed (the controller was closed)', 'closed');
  }
}
