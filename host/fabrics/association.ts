// The association with one NVMe/TCP controller, as the Linux host makes it
// (drivers/nvme/host/tcp.c, fabrics.c): an admin connection (ICReq, Connect
// with KATO and CNTLID FFFFh, Property Get CAP/VS/CC/CSTS), Keep Alive every
// KATO/2, and one connection per I/O queue (Connect with the CNTLID the
// admin Connect returned). It plays the device for the host stack:
//   - the admin queue's SQEs go to the target, except those that make no
//     sense over a fabric, answered here: Create I/O CQ (recorded), Create
//     I/O SQ (a new connection and its Connect), Delete I/O SQ (the
//     connection closed), Delete I/O CQ, Doorbell Buffer Config (refused);
//   - registers are properties (registers.ts).
// Connection loss (a socket closes or errs, a TermReq, a Keep Alive not
// answered within KATO): every command in flight on any queue completes
// with Host Pathing Error (SCT 3h, SC 70h; what Linux's
// nvme_host_path_error reports), 'disconnected' is emitted, and the
// association is made again every reconnect_delay seconds, as Linux does,
// until it is back ('reconnected': the queues resume, commands submitted
// meanwhile are sent then) or ctrl_loss_tmo seconds have passed since the
// loss (CSTS then reads all ones: the Controller fails everything with
// ControllerError 'removed').
import { AdminOpc, SQE_CDW10, SQE_CDW11, SQE_OPC, FeatureId } from '../../assembly/nvme/cmd.js';
import { REG_CAP, REG_VS, REG_CC, REG_CSTS, CC_EN_SHIFT, CC_EN_MASK, CSTS_RDY_SHIFT, CSTS_RDY_MASK, regField } from '../../assembly/nvme/regs.js';
import { Sct, GenericSc, PathSc, statusField, sfCode } from '../../assembly/nvme/status.js';
import { CNTLID_DYNAMIC, IDC_IOCCSZ, CAPSULE_UNIT, ADMIN_INCAPSULE_SIZE, FabricsSc } from '../../assembly/nvme/fabrics.js';
import { SQE_SIZE } from '../../assembly/nvme/cmd.js';
import { TcpConnection, type ConnectionOwner, type OwnCompletion } from './connection.js';
import type { QueueWire } from '../qpair-types.js';
import { QueueRing } from './ring.js';
import { FabricRegisters, type PropertyPort } from './registers.js';
import { connectSqe, connectData, propertyGetSqe, propertySetSqe, keepAliveSqe, setQueueCountSqe } from './capsules.js';
import { NvmfConnectError } from './errors.js';
import type { FabricsOptions, TcpTransportId } from './options.js';

/** Status field of commands a connection loss ended (retryable: DNR clear). */
export const SF_HOST_PATH_ERROR = statusField(Sct.PathRelated, PathSc.HostPathingError, false);
const SF_INVALID_OPCODE = statusField(Sct.Generic, GenericSc.InvalidOpcode, false);
const SQE_CNS_MASK = 0xff;
const CNS_CONTROLLER = 1;

/** What an association reports (the Controller re-emits them). */
export type FabricEvent =
  | { kind: 'disconnected'; error: Error; failed: number }
  | { kind: 'reconnected'; attempts: number; downMs: number }
  | { kind: 'lost'; error: Error };

type State = 'live' | 'reconnecting' | 'lost' | 'closed';

function describeReject(sf: number, id: TcpTransportId, hostnqn: string, qid: number): string {
  const sct = (sf >>> 8) & 7;
  const sc = sf & 0xff;
  if (sct === Sct.CommandSpecific && sc === FabricsSc.ConnectInvalidHost) return `subsystem ${id.subnqn} does not allow host ${hostnqn}`;
  if (sct === Sct.CommandSpecific && sc === FabricsSc.ConnectInvalidParameters) return qid === 0 ? `no subsystem ${id.subnqn} at ${id.traddr}:${id.trsvcid} (or it does not allow host ${hostnqn}): Connect Invalid Parameters` : `I/O queue ${qid} refused: Connect Invalid Parameters`;
  return `Connect (qid ${qid}) failed with status SCT ${sct} SC 0x${sc.toString(16)}`;
}

export class FabricAssociation implements ConnectionOwner, PropertyPort {
  readonly registers: FabricRegisters;
  /** The controller ID the admin Connect returned. */
  cntlid = 0;
  onEvent: (e: FabricEvent) => void = () => {};

  /** How the I/O queues' connections wrote so far: sendmsg calls, the PDU pieces in them, writes through Node (poll:1 gathers; see connection.ts). */
  get socketSends(): { gathers: number; pieces: number; throughNode: number } {
    const t = { gathers: 0, pieces: 0, throughNode: 0 };
    for (const c of this.io.values()) {
      t.gathers += c.sends.gathers;
      t.pieces += c.sends.pieces;
      t.throughNode += c.sends.throughNode;
    }
    return t;
  }

  private admin: TcpConnection | undefined;
  private readonly io = new Map<number, TcpConnection>();
  private readonly rings = new Map<number, QueueRing>();
  /** Create I/O SQ waits here for its descriptor (bound by the queue pair lifecycle first). */
  private readonly pendingDesc = new Map<number, number>();
  private state: State = 'live';
  private kaTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lostAt = 0;
  private attempts = 0;
  private ioInCapsule = 0;
  private identifySlot = -1;
  private queueCount = 0;
  readonly address: string;
  private dv: DataView | undefined;
  private u8: Buffer | undefined;
  private toOffset: (a: bigint) => number = () => 0;

  private constructor(readonly id: TcpTransportId, readonly opts: FabricsOptions, private readonly hostid: Buffer, private readonly adminDepth: number) {
    this.address = `${id.traddr}:${id.trsvcid}`;
    this.registers = new FabricRegisters(this, () => this.readyTimeoutMs);
  }

  /** CAP.TO in ms. */
  get readyTimeoutMs(): number {
    return Math.max(1, (this.registers.read32(REG_CAP) >>> 24) & 0xff) * 500;
  }

  /** Make the admin connection and read the registers. */
  static async open(id: TcpTransportId, opts: FabricsOptions, hostid: Buffer, adminDepth: number): Promise<FabricAssociation> {
    const a = new FabricAssociation(id, opts, hostid, adminDepth);
    await a.connectAdmin();
    a.startKeepAlive();
    return a;
  }

  /** The region the rings and buffers live in (after the transport mapped it). */
  attachRegion(u8: Uint8Array, dv: DataView, toOffset: (a: bigint) => number): void {
    this.u8 = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    this.dv = dv;
    this.toOffset = toOffset;
  }

  private openConnection(): Promise<TcpConnection> {
    return TcpConnection.open(this, { host: this.id.traddr, port: this.id.trsvcid, hdgst: this.opts.hdgst, ddgst: this.opts.ddgst, timeoutMs: this.opts.connectTimeoutMs, poll: this.opts.poll });
  }

  /** ICReq, then Connect for `qid`; returns the connection and Connect's dword 0. */
  private async connectQueue(qid: number, sqsize: number): Promise<TcpConnection> {
    const c = await this.openConnection();
    try {
      c.inCapsule = qid === 0 ? ADMIN_INCAPSULE_SIZE : this.ioInCapsule;
      const sqe = Buffer.alloc(SQE_SIZE);
      connectSqe(sqe, qid, sqsize, this.opts.katoMs);
      const data = connectData(this.hostid, qid === 0 ? CNTLID_DYNAMIC : this.cntlid, this.id.subnqn, this.opts.hostnqn);
      const r = await c.command(sqe, { write: data, timeoutMs: this.opts.connectTimeoutMs });
      if (r.sf !== 0) {
        throw new NvmfConnectError(`${this.address}: ${describeReject(r.sf, this.id, this.opts.hostnqn, qid)}`, 'rejected', this.address, (r.sf >>> 8) & 7, r.sf & 0xff);
      }
      if (qid === 0) this.cntlid = r.dw0 & 0xffff;
      return c;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  private async connectAdmin(): Promise<void> {
    const c = await this.connectQueue(0, this.adminDepth);
    this.admin = c;
    try {
      const cap = await this.prop(c, REG_CAP, true);
      const vs = await this.prop(c, REG_VS, false);
      const cc = await this.prop(c, REG_CC, false);
      const csts = await this.prop(c, REG_CSTS, false);
      this.registers.load(cap, Number(vs), Number(cc), Number(csts));
    } catch (e) {
      c.close();
      this.admin = undefined;
      throw e;
    }
  }

  private async prop(c: TcpConnection, ofst: number, eight: boolean): Promise<bigint> {
    const sqe = Buffer.alloc(SQE_SIZE);
    propertyGetSqe(sqe, ofst, eight);
    const r = await c.command(sqe, { timeoutMs: this.opts.connectTimeoutMs });
    if (r.sf !== 0) throw new NvmfConnectError(`${this.address}: Property Get 0x${ofst.toString(16)} failed (status 0x${r.sf.toString(16)})`, 'rejected', this.address, (r.sf >>> 8) & 7, r.sf & 0xff);
    return BigInt(r.dw0 >>> 0) | (eight ? BigInt(r.dw1 >>> 0) << 32n : 0n);
  }

  // ---- PropertyPort (registers.ts) ----

  async setProperty(ofst: number, value: number): Promise<void> {
    const c = this.liveAdmin();
    const sqe = Buffer.alloc(SQE_SIZE);
    propertySetSqe(sqe, ofst, value);
    await c.command(sqe, { timeoutMs: this.opts.connectTimeoutMs });
  }

  async getProperty(ofst: number): Promise<number> {
    return Number(await this.prop(this.liveAdmin(), ofst, false));
  }

  async ccWritten(cc: number, old: number): Promise<void> {
    const en = regField(cc, CC_EN_SHIFT, CC_EN_MASK);
    const was = regField(old, CC_EN_SHIFT, CC_EN_MASK);
    if (was && !en) {
      // A controller reset: the I/O queues go with it (recreated by Create I/O SQ).
      for (const c of this.io.values()) c.close();
      this.io.clear();
    }
    if (!was && en) this.rings.get(0)?.reset(); // the core reset the admin rings (qpInit or qpReset)
  }

  private liveAdmin(): TcpConnection {
    if (!this.admin || this.admin.isDead) throw new NvmfConnectError(`${this.address}: not connected`, 'closed', this.address);
    return this.admin;
  }

  // ---- the rings ----

  /** The queue pair lifecycle binds queue `qid`'s descriptor before creating it (admin: qid 0 at once). */
  bindQueue(qid: number, desc: number): void {
    if (qid === 0) {
      const ring = this.newRing(0, desc);
      this.admin?.bind(ring);
      return;
    }
    this.pendingDesc.set(qid, desc);
  }

  private newRing(qid: number, desc: number): QueueRing {
    const ring = new QueueRing(qid, desc, this.dv!, this.u8!, this.toOffset);
    const w = this.wire(qid);
    ring.notify = () => w.notify();
    this.rings.set(qid, ring);
    return ring;
  }

  private readonly wires = new Map<number, QueueWire>();

  /**
   * The wire of queue `qid` (QueuePairInit.wire): kick sends what the core
   * rang; the queue pair sets notify; an I/O queue's reads may land in the
   * caller's buffer (attachRead).
   */
  wire(qid: number): QueueWire {
    let w = this.wires.get(qid);
    if (!w) {
      const ring = (): QueueRing | undefined => this.rings.get(qid);
      w = {
        kick: () => (qid === 0 ? this.admin : this.io.get(qid))?.kick(),
        notify: () => {},
        polled: qid !== 0 && this.opts.poll, // FabricsOptions.poll: the socket is read when the queue pair polls
        readsInPlace: () => qid !== 0 && ring() !== undefined,
        attachRead: (slot, dest) => {
          const r = ring()!; // readsInPlace() said so in this very turn
          r.dest[slot] = dest;
        },
        detachRead: (slot) => {
          const r = ring();
          if (r && slot < r.nslots) r.dest[slot] = undefined;
        },
      };
      this.wires.set(qid, w);
    }
    return w;
  }

  /** ConnectionOwner: the admin queue's commands handled here rather than on the wire. */
  local(ring: QueueRing, slot: number, sqe: number): boolean {
    if (ring.qid !== 0) return false;
    const u8 = this.u8!;
    const opc = u8[sqe + SQE_OPC]!;
    const cdw10 = this.dv!.getUint32(sqe + SQE_CDW10, true);
    const done = (sf: number) => {
      ring.complete(slot, 0, 0, sf);
      ring.notify();
    };
    switch (opc) {
      case AdminOpc.Identify:
        if ((cdw10 & SQE_CNS_MASK) === CNS_CONTROLLER) this.identifySlot = slot;
        return false;
      case AdminOpc.SetFeatures:
        if ((cdw10 & 0xff) === FeatureId.NumberOfQueues) this.queueCount = (this.dv!.getUint32(sqe + SQE_CDW11, true) & 0xffff) + 1;
        return false;
      case AdminOpc.CreateIoCq:
      case AdminOpc.DeleteIoCq:
        queueMicrotask(() => done(0));
        return true;
      case AdminOpc.DoorbellBufferConfig:
        queueMicrotask(() => done(SF_INVALID_OPCODE));
        return true;
      case AdminOpc.DeleteIoSq: {
        const qid = cdw10 & 0xffff;
        this.io.get(qid)?.close();
        this.io.delete(qid);
        this.rings.delete(qid);
        this.wires.delete(qid);
        queueMicrotask(() => done(0));
        return true;
      }
      case AdminOpc.CreateIoSq: {
        const qid = cdw10 & 0xffff;
        const qsize = (cdw10 >>> 16) + 1;
        this.createIoQueue(qid, qsize).then(() => done(0), (e: unknown) => done(e instanceof NvmfConnectError && e.reason === 'rejected' ? statusField(e.sct, e.sc, true) : SF_HOST_PATH_ERROR));
        return true;
      }
      default:
        return false;
    }
  }

  private async createIoQueue(qid: number, qsize: number): Promise<void> {
    const desc = this.pendingDesc.get(qid) ?? this.rings.get(qid)?.desc;
    if (desc === undefined) throw new NvmfConnectError(`queue ${qid} has no descriptor`, 'closed', this.address);
    this.pendingDesc.delete(qid);
    const ring = this.rings.get(qid) ?? this.newRing(qid, desc);
    ring.reset();
    const c = await this.connectQueue(qid, qsize);
    this.io.get(qid)?.close();
    this.io.set(qid, c);
    c.bind(ring);
  }

  /** ConnectionOwner: a ring command succeeded (Identify Controller gives IOCCSZ). */
  completed(ring: QueueRing, slot: number): void {
    if (ring.qid !== 0 || slot !== this.identifySlot) return;
    this.identifySlot = -1;
    const ioccsz = this.dv!.getUint32(ring.dataOff[slot]! + IDC_IOCCSZ, true);
    const most = Math.max(0, ioccsz * CAPSULE_UNIT - SQE_SIZE);
    this.ioInCapsule = this.opts.inCapsule >= 0 ? Math.min(this.opts.inCapsule, most) : most;
  }

  // ---- Keep Alive ----

  private startKeepAlive(): void {
    clearInterval(this.kaTimer);
    const kato = this.opts.katoMs;
    if (kato <= 0) return;
    this.kaTimer = setInterval(() => {
      const c = this.admin;
      if (!c || c.isDead || this.state !== 'live') return;
      const sqe = Buffer.alloc(SQE_SIZE);
      keepAliveSqe(sqe);
      c.command(sqe, { timeoutMs: kato }).catch(() => {});
    }, Math.max(100, Math.floor(kato / 2)));
    this.kaTimer.unref();
  }

  // ---- connection loss and reconnection ----

  lost(_c: TcpConnection, err: Error): void {
    if (this.state !== 'live') return;
    this.state = 'reconnecting';
    this.lostAt = performance.now();
    this.attempts = 0;
    clearInterval(this.kaTimer);
    this.admin?.close(err);
    for (const c of this.io.values()) c.close(err);
    this.io.clear();
    let failed = 0;
    for (const ring of this.rings.values()) failed += ring.failInFlight(SF_HOST_PATH_ERROR);
    this.onEvent({ kind: 'disconnected', error: err, failed });
    this.scheduleReconnect(err);
  }

  private scheduleReconnect(err: Error): void {
    const tmo = this.opts.ctrlLossTmoS;
    const elapsed = performance.now() - this.lostAt;
    if (tmo >= 0 && elapsed >= tmo * 1000) {
      this.state = 'lost';
      this.registers.gone = true;
      this.onEvent({ kind: 'lost', error: err });
      for (const ring of this.rings.values()) ring.notify(); // the pollers look, and see CSTS all ones
      return;
    }
    const delay = Math.min(this.opts.reconnectDelayS * 1000, tmo >= 0 ? tmo * 1000 - elapsed : Infinity);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnect().catch((e: Error) => {
        if (this.state === 'reconnecting') this.scheduleReconnect(e);
      });
    }, Math.max(0, delay));
  }

  private async reconnect(): Promise<void> {
    this.attempts++;
    const conns: TcpConnection[] = [];
    try {
      const admin = await this.connectQueue(0, this.adminDepth);
      conns.push(admin);
      if (this.state !== 'reconnecting') throw new NvmfConnectError('closed', 'closed', this.address);
      this.admin = admin;
      const cc = this.registers.read32(REG_CC);
      await this.setProperty(REG_CC, cc);
      const end = performance.now() + this.readyTimeoutMs;
      for (;;) {
        const csts = await this.getProperty(REG_CSTS);
        if (regField(csts, CSTS_RDY_SHIFT, CSTS_RDY_MASK) === regField(cc, CC_EN_SHIFT, CC_EN_MASK)) {
          this.registers.csts = csts;
          break;
        }
        if (performance.now() > end) throw new NvmfConnectError(`${this.address}: CSTS.RDY did not follow CC.EN after reconnecting`, 'timeout', this.address);
        await new Promise((r) => setTimeout(r, 1));
      }
      if (this.queueCount > 0) {
        const sqe = Buffer.alloc(SQE_SIZE);
        setQueueCountSqe(sqe, this.queueCount);
        await admin.command(sqe, { timeoutMs: this.opts.connectTimeoutMs });
      }
      const io = new Map<number, TcpConnection>();
      for (const [qid, ring] of this.rings) {
        if (qid === 0) continue;
        const c = await this.connectQueue(qid, ring.qsize);
        conns.push(c);
        io.set(qid, c);
      }
      if (this.state !== 'reconnecting') throw new NvmfConnectError('closed', 'closed', this.address);
      for (const [qid, c] of io) {
        this.io.set(qid, c);
        c.bind(this.rings.get(qid)!);
      }
      const adminRing = this.rings.get(0);
      if (adminRing) admin.bind(adminRing);
      this.state = 'live';
      this.startKeepAlive();
      this.onEvent({ kind: 'reconnected', attempts: this.attempts, downMs: Math.round(performance.now() - this.lostAt) });
      admin.kick();
      for (const c of this.io.values()) c.kick();
    } catch (e) {
      for (const c of conns) c.close();
      if (this.admin && conns.includes(this.admin)) this.admin = undefined;
      throw e;
    }
  }

  /** An admin command of the caller's own on the admin connection (discovery: Get Log Page). */
  adminCommand(sqe: Buffer, o: { read?: Buffer; write?: Buffer } = {}): Promise<OwnCompletion> {
    return this.liveAdmin().command(sqe, { ...o, timeoutMs: this.opts.connectTimeoutMs });
  }

  /** CC.EN = 1 with `cc` and wait for CSTS.RDY (a discovery controller, which no Controller drives). */
  async enable(cc: number): Promise<void> {
    await this.setProperty(REG_CC, cc);
    const end = performance.now() + this.readyTimeoutMs;
    for (;;) {
      if (regField(await this.getProperty(REG_CSTS), CSTS_RDY_SHIFT, CSTS_RDY_MASK) === 1) return;
      if (performance.now() > end) throw new NvmfConnectError(`${this.address}: CSTS.RDY did not follow CC.EN within CAP.TO`, 'timeout', this.address);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Is the association up (not reconnecting, not lost)? */
  get isLive(): boolean {
    return this.state === 'live';
  }

  /** Close every connection (after the Controller's shutdown); no event, no reconnect. */
  async close(): Promise<void> {
    this.state = 'closed';
    clearInterval(this.kaTimer);
    clearTimeout(this.reconnectTimer);
    await this.registers.settled();
    for (const c of this.io.values()) c.close();
    this.io.clear();
    this.admin?.close();
    this.admin = undefined;
  }
}

/** Is `sf` the status a connection loss gives commands? */
export function isHostPathError(sf: number): boolean {
  return sfCode(sf) === sfCode(SF_HOST_PATH_ERROR);
}
