// A small raw NVMe/TCP host for the target's tests: ICReq, capsules with
// in-capsule data or R2T/H2CData, C2HData, TermReq, on the shared PDU layer.
// It also sends arbitrary bytes, for the hostile-peer tests.
import net from 'node:net';
import { PduType, Fes, CH_FLAGS, FLAG_LAST_PDU, ICRESP_DGST, ICRESP_MAXH2CDATA, ICRESP_CPDA, DATA_CCCID, DATA_DATAO, R2T_CCCID, R2T_TTAG, R2T_R2TO, R2T_R2TL, TERMREQ_FES, TERMREQ_FEI } from '../../assembly/nvme/tcp.js';
import { FABRICS_OPC, FcType, SGL_ID_INCAPSULE, SGL_ID_TRANSPORT, CONNECT_DATA_SIZE, PSDT_SGL } from '../../assembly/nvme/fabrics.js';
import { PduFramer, type PduSink } from '../../host/nvmf/pdu/framer.js';
import { encodeICReq, encodeCapsuleCmd, encodeH2CData, readU16, readU32, type PduDigests } from '../../host/nvmf/pdu/encode.js';
import { crc32c } from '../../host/nvmf/crc32c.js';

export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555';
export const HOSTID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

export interface Completion {
  /** Status field (15 bits): sc | sct << 8 | dnr << 14. */
  status: number;
  sc: number;
  sct: number;
  dw0: number;
  dw1: number;
  sqhd: number;
  data?: Buffer;
}

interface Pending {
  resolve: (c: Completion) => void;
  reject: (e: Error) => void;
  read?: Buffer;
  write?: Buffer;
}

export class RawNvmfClient implements PduSink {
  readonly framer: PduFramer;
  readonly dig: PduDigests = { hdgst: false, ddgst: false, pda: 0 };
  maxH2CData = 0;
  cpda = -1;
  termReq: { fes: number; fei: number } | undefined;
  /** Resolves when the socket closes. */
  readonly closed: Promise<void>;
  inCapsuleMax = 8192;
  private readonly pending = new Map<number, Pending>();
  private nextCid = 1;
  private icWait: ((ok: boolean) => void) | undefined;
  private readonly hdr = Buffer.alloc(160);

  private constructor(readonly socket: net.Socket) {
    this.framer = new PduFramer(this, 'host', { maxCapsuleData: 0, maxDataPdu: 64 << 20 });
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.framer.push(d));
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.once('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`connection closed${this.termReq ? ` by TermReq FES ${this.termReq.fes}` : ''}`));
      this.pending.clear();
      this.icWait?.(false);
      r();
    }));
  }

  /** Open a TCP connection (no ICReq yet). */
  static open(port: number, host = '127.0.0.1'): Promise<RawNvmfClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new RawNvmfClient(s)));
      s.once('error', reject);
    });
  }

  /** Open and exchange ICReq / ICResp. */
  static async connect(port: number, o: { hdgst?: boolean; ddgst?: boolean; hpda?: number } = {}): Promise<RawNvmfClient> {
    const c = await RawNvmfClient.open(port);
    await c.initialize(o);
    return c;
  }

  async initialize(o: { hdgst?: boolean; ddgst?: boolean; hpda?: number } = {}): Promise<void> {
    const b = Buffer.alloc(128);
    encodeICReq(b, { hdgst: o.hdgst, ddgst: o.ddgst, hpda: o.hpda ?? 0, maxr2t: 0 });
    const ok = new Promise<boolean>((r) => (this.icWait = r));
    this.socket.write(b);
    if (!(await ok)) throw new Error('no ICResp');
  }

  send(b: Uint8Array): void {
    this.socket.write(b);
  }

  // ---- PduSink ----

  header(h: Buffer, type: PduType, dataLen: number): Uint8Array | null {
    if (type === PduType.C2HData) {
      const p = this.pending.get(readU16(h, DATA_CCCID));
      const off = readU32(h, DATA_DATAO);
      if (!p?.read || off + dataLen > p.read.length) throw new Error('C2HData out of range');
      return p.read.subarray(off, off + dataLen);
    }
    return null;
  }

  pdu(h: Buffer, type: PduType, data: Uint8Array | null, dataLen: number): void {
    switch (type) {
      case PduType.ICResp:
        this.dig.hdgst = (h[ICRESP_DGST]! & 1) !== 0;
        this.dig.ddgst = (h[ICRESP_DGST]! & 2) !== 0;
        this.framer.hdgst = this.dig.hdgst;
        this.framer.ddgst = this.dig.ddgst;
        this.maxH2CData = readU32(h, ICRESP_MAXH2CDATA);
        this.cpda = h[ICRESP_CPDA]!;
        this.icWait?.(true);
        this.icWait = undefined;
        return;
      case PduType.CapsuleResp: {
        const cid = readU16(h, 8 + 12);
        const p = this.pending.get(cid);
        if (!p) return;
        this.pending.delete(cid);
        const st = readU16(h, 8 + 14) >>> 1;
        p.resolve({ status: st, sc: st & 0xff, sct: (st >>> 8) & 7, dw0: readU32(h, 8), dw1: readU32(h, 12), sqhd: readU16(h, 16), data: p.read });
        return;
      }
      case PduType.R2T: {
        const p = this.pending.get(readU16(h, R2T_CCCID));
        if (!p?.write) throw new Error('R2T for no write');
        const ttag = readU16(h, R2T_TTAG);
        const off = readU32(h, R2T_R2TO);
        const len = readU32(h, R2T_R2TL);
        for (let at = off; at < off + len; at += this.maxH2CData) {
          const n = Math.min(this.maxH2CData, off + len - at);
          this.sendH2C(readU16(h, R2T_CCCID), ttag, at, p.write.subarray(at, at + n), at + n === off + len);
        }
        return;
      }
      case PduType.C2HTermReq:
        this.termReq = { fes: readU16(h, TERMREQ_FES), fei: readU32(h, TERMREQ_FEI) };
        void data;
        void dataLen;
        return;
    }
  }

  dataDigestError(): void {
    throw new Error('data digest error from the target');
  }

  fatal(fes: Fes, fei: number): void {
    throw new Error(`the target sent a bad PDU: ${Fes[fes]} FEI ${fei}`);
  }

  /** Send H2CData (exposed for hostile tests). */
  sendH2C(cccid: number, ttag: number, datao: number, data: Uint8Array, last: boolean, flags?: number): void {
    const n = encodeH2CData(this.hdr, cccid, ttag, datao, data.length, last, this.dig);
    if (flags !== undefined) this.hdr[CH_FLAGS] = flags;
    const parts = [Buffer.from(this.hdr.subarray(0, n)), Buffer.from(data)];
    if (this.dig.ddgst) {
      const d = Buffer.alloc(4);
      d.writeUInt32LE(crc32c(data));
      parts.push(d);
    }
    this.socket.write(Buffer.concat(parts));
  }

  /** A new command ID. */
  cid(): number {
    const c = this.nextCid;
    this.nextCid = (this.nextCid + 1) & 0xffff || 1;
    return c;
  }

  /**
   * Send `sqe` (its CID set here) as a capsule. `write`: data to the
   * controller (in-capsule up to inCapsuleMax, else by R2T); `readLen`: bytes
   * from it (C2HData).
   */
  command(sqe: Buffer, o: { write?: Buffer; readLen?: number; forceInCapsule?: boolean } = {}): Promise<Completion> {
    const cid = this.cid();
    sqe.writeUInt16LE(cid, 2);
    sqe[1] = (sqe[1]! & 0x3f) | (PSDT_SGL << 6);
    const len = o.write?.length ?? o.readLen ?? 0;
    const inCapsule = o.write !== undefined && (o.forceInCapsule || o.write.length <= this.inCapsuleMax);
    sqe.fill(0, 24, 40);
    sqe.writeUInt32LE(len, 24 + 8);
    sqe[24 + 15] = len === 0 ? 0 : inCapsule ? SGL_ID_INCAPSULE : SGL_ID_TRANSPORT;
    const p = new Promise<Completion>((resolve, reject) => this.pending.set(cid, { resolve, reject, read: o.readLen ? Buffer.alloc(o.readLen) : undefined, write: o.write }));
    this.hdr.fill(0, 0, 160);
    sqe.copy(this.hdr, 8);
    const n = encodeCapsuleCmd(this.hdr, inCapsule ? o.write!.length : 0, this.dig);
    const parts: Buffer[] = [Buffer.from(this.hdr.subarray(0, n))];
    if (inCapsule && o.write!.length > 0) {
      parts.push(o.write!);
      if (this.dig.ddgst) {
        const d = Buffer.alloc(4);
        d.writeUInt32LE(crc32c(o.write!));
        parts.push(d);
      }
    }
    this.socket.write(Buffer.concat(parts));
    return p;
  }

  // ---- commands ----

  connectCmd(o: { qid: number; sqsize: number; kato?: number; cntlid?: number; subnqn: string; hostnqn?: string; hostid?: Buffer; recfmt?: number }): Promise<Completion> {
    const sqe = Buffer.alloc(64);
    sqe[0] = FABRICS_OPC;
    sqe[4] = FcType.Connect;
    sqe.writeUInt16LE(o.recfmt ?? 0, 40);
    sqe.writeUInt16LE(o.qid, 42);
    sqe.writeUInt16LE(o.sqsize, 44);
    sqe.writeUInt32LE(o.kato ?? 0, 48);
    const d = Buffer.alloc(CONNECT_DATA_SIZE);
    (o.hostid ?? HOSTID).copy(d, 0);
    d.writeUInt16LE(o.cntlid ?? 0xffff, 16);
    d.write(o.subnqn, 256);
    d.write(o.hostnqn ?? HOSTNQN, 512);
    if (o.qid > 0) this.inCapsuleMax = 16384;
    return this.command(sqe, { write: d, forceInCapsule: true });
  }

  propGet(offset: number, size8: boolean): Promise<Completion> {
    const sqe = Buffer.alloc(64);
    sqe[0] = FABRICS_OPC;
    sqe[4] = FcType.PropertyGet;
    sqe[40] = size8 ? 1 : 0;
    sqe.writeUInt32LE(offset, 44);
    return this.command(sqe);
  }

  propSet(offset: number, value: number): Promise<Completion> {
    const sqe = Buffer.alloc(64);
    sqe[0] = FABRICS_OPC;
    sqe[4] = FcType.PropertySet;
    sqe.writeUInt32LE(offset, 44);
    sqe.writeBigUInt64LE(BigInt(value), 48);
    return this.command(sqe);
  }

  disconnect(): Promise<Completion> {
    const sqe = Buffer.alloc(64);
    sqe[0] = FABRICS_OPC;
    sqe[4] = FcType.Disconnect;
    return this.command(sqe);
  }

  admin(opcode: number, o: { nsid?: number; cdw10?: number; cdw11?: number; cdw12?: number; cdw13?: number; readLen?: number; write?: Buffer } = {}): Promise<Completion> {
    const sqe = Buffer.alloc(64);
    sqe[0] = opcode;
    sqe.writeUInt32LE(o.nsid ?? 0, 4);
    sqe.writeUInt32LE(o.cdw10 ?? 0, 40);
    sqe.writeUInt32LE(o.cdw11 ?? 0, 44);
    sqe.writeUInt32LE(o.cdw12 ?? 0, 48);
    sqe.writeUInt32LE(o.cdw13 ?? 0, 52);
    return this.command(sqe, { readLen: o.readLen, write: o.write });
  }

  identify(cns: number, nsid = 0): Promise<Completion> {
    return this.admin(0x06, { nsid, cdw10: cns, readLen: 4096 });
  }

  getLogPage(lid: number, len: number, offset = 0): Promise<Completion> {
    const numd = len / 4 - 1;
    return this.admin(0x02, { nsid: 0xffffffff, cdw10: lid | ((numd & 0xffff) << 16), cdw11: numd >>> 16, cdw12: offset, readLen: len });
  }

  rw(write: boolean, nsid: number, lba: number, blocks: number, data?: Buffer, blockSize = 512): Promise<Completion> {
    const sqe = Buffer.alloc(64);
    sqe[0] = write ? 0x01 : 0x02;
    sqe.writeUInt32LE(nsid, 4);
    sqe.writeUInt32LE(lba >>> 0, 40);
    sqe.writeUInt32LE(Math.floor(lba / 2 ** 32), 44);
    sqe.writeUInt32LE(blocks - 1, 48);
    return this.command(sqe, write ? { write: data! } : { readLen: blocks * blockSize });
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** ICReq, admin Connect, CC.EN = 1 (CSTS.RDY): a ready admin queue. Returns the client and the controller ID. */
export async function adminAssociation(port: number, subnqn: string, o: { hdgst?: boolean; ddgst?: boolean; kato?: number; hostnqn?: string } = {}): Promise<{ admin: RawNvmfClient; cntlid: number }> {
  const admin = await RawNvmfClient.connect(port, o);
  const c = await admin.connectCmd({ qid: 0, sqsize: 31, kato: o.kato ?? 0, subnqn, hostnqn: o.hostnqn });
  if (c.status !== 0) throw new Error(`admin Connect failed: status 0x${c.status.toString(16)}`);
  const cntlid = c.dw0 & 0xffff;
  const en = await admin.propSet(0x14, 0x460001);
  if (en.status !== 0) throw new Error('CC.EN failed');
  return { admin, cntlid };
}

/** An I/O queue of association `cntlid`. */
export async function ioQueue(port: number, subnqn: string, cntlid: number, qid: number, o: { hdgst?: boolean; ddgst?: boolean; sqsize?: number; hostnqn?: string; hostid?: Buffer } = {}): Promise<RawNvmfClient> {
  const q = await RawNvmfClient.connect(port, o);
  const c = await q.connectCmd({ qid, sqsize: o.sqsize ?? 31, cntlid, subnqn, hostnqn: o.hostnqn, hostid: o.hostid });
  if (c.status !== 0) throw new Error(`I/O Connect failed: status 0x${c.status.toString(16)}`);
  return q;
}

export { FLAG_LAST_PDU };
