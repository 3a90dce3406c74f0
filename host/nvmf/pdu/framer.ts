// The NVMe/TCP stream framer: socket chunks in, whole PDUs out, with a
// bounded buffer. It keeps at most one PDU header (132 bytes, a buffer of
// its own, reused) and writes data straight into the destination the
// consumer names when the header is complete (a DMA buffer, for the
// target), so nothing is allocated per PDU and the data is copied once,
// from the socket's chunk to its destination.
//
//   state      bytes it waits for                 then
//   CH         8 (common header)                  check TYPE, HLEN, FLAGS, PLEN
//   HEADER     HLEN - 8 (+ 4 header digest)       check HDGST, consumer header()
//   PAD        PDO - (HLEN + HDGST)               (skipped)
//   DATA       PLEN - PDO - DDGST                 into the consumer's buffer
//   DDGST      4                                  check, consumer pdu()
//
// Fatal errors (TCP 7.4.7: the receiver sends a TermReq and closes) stop the
// framer and are reported once, with the FES and FEI the TermReq carries and
// the offending header. A data digest error is not fatal (TCP 7.4.6.2: the
// command completes with Transient Transport Error): reported, and framing
// goes on.
import {
  PduType, CH_TYPE, CH_FLAGS, CH_HLEN, CH_PDO, CH_PLEN, CH_SIZE, FLAG_HDGSTF, FLAG_DDGSTF, DIGEST_SIZE, Fes,
  PDU_HEADER_MAX, TERMREQ_PLEN_MAX, DATA_DATAL, pduHlen, pduHasHdgst, pduHasData,
} from '../../../assembly/nvme/tcp.js';
import { crc32c, crc32cJs } from '../crc32c.js';
import { readU32 } from './encode.js';

/** Which end of the connection the framer reads for: the PDU types it accepts. */
export type PduRole = 'target' | 'host';

/** What the framer tells its consumer. `hdr` is the framer's header buffer: valid during the call only. */
export interface PduSink {
  /**
   * A PDU header arrived, checked (lengths, flags, header digest). For a
   * PDU with data, return where its `dataLen` bytes go (at least that long;
   * written from index 0), or null to have them read and dropped. The
   * consumer may call `framer.fail()` here instead.
   */
  header(hdr: Buffer, type: PduType, dataLen: number): Uint8Array | null;
  /** The whole PDU arrived (data in the buffer header() returned; digests good). */
  pdu(hdr: Buffer, type: PduType, data: Uint8Array | null, dataLen: number): void;
  /** The data digest did not match (the data arrived, but is bad). Framing goes on. */
  dataDigestError(hdr: Buffer, type: PduType): void;
  /** A fatal framing error: send a TermReq with `fes`/`fei` (and `hdr`'s first bytes), then close. */
  fatal(fes: Fes, fei: number, hdr: Buffer, hdrLen: number): void;
}

/** Limits the framer enforces before any data is accepted. */
export interface FramerLimits {
  /** Most in-capsule data in a CapsuleCmd, in bytes (target role). */
  maxCapsuleData: number;
  /** Most data in one H2CData (target: the MAXH2CDATA it announced) or C2HData (host), in bytes. */
  maxDataPdu: number;
}

const enum St {
  Ch,
  Header,
  Pad,
  Data,
  Ddgst,
  Dead,
}

const TARGET_TYPES = (1 << PduType.ICReq) | (1 << PduType.H2CTermReq) | (1 << PduType.CapsuleCmd) | (1 << PduType.H2CData);
const HOST_TYPES = (1 << PduType.ICResp) | (1 << PduType.C2HTermReq) | (1 << PduType.CapsuleResp) | (1 << PduType.C2HData) | (1 << PduType.R2T);

/** Splits a byte stream into PDUs (see the file comment). */
export class PduFramer {
  /** Header digests expected (set once ICReq/ICResp negotiated them). */
  hdgst = false;
  /** Data digests expected. */
  ddgst = false;
  private readonly accept: number;
  private readonly hdr = Buffer.alloc(PDU_HEADER_MAX);
  private readonly termData = Buffer.alloc(TERMREQ_PLEN_MAX);
  private readonly dgst = Buffer.alloc(DIGEST_SIZE);
  private st = St.Ch;
  private have = 0; // bytes of the current state's unit received
  private need = CH_SIZE; // bytes the current state waits for
  private type: PduType = PduType.ICReq;
  private hd = false;
  private dd = false;
  private dataLen = 0;
  private dest: Uint8Array | null = null;
  private destAt = 0;
  private pduBytes = 0;
  /**
   * Where in the buffer header() returns the data goes (default 0). A
   * consumer that lands data in one large buffer (the initiator: the region)
   * sets it inside header() instead of returning a subarray per PDU; it
   * applies to that PDU only.
   */
  destOffset = 0;

  constructor(
    private readonly sink: PduSink,
    role: PduRole,
    /** Limits; the consumer may change them between PDUs (after Connect, for one). */
    readonly limits: FramerLimits,
  ) {
    this.accept = role === 'target' ? TARGET_TYPES : HOST_TYPES;
  }

  /** True while a PDU is partly received (for a stall timeout). */
  get midPdu(): boolean {
    return this.st !== St.Dead && (this.st !== St.Ch || this.have > 0);
  }

  /** True once a fatal error stopped the framer. */
  get stopped(): boolean {
    return this.st === St.Dead;
  }

  /** Bytes of the PDU being received so far. */
  get partialBytes(): number {
    return this.pduBytes;
  }

  /** Stop with a fatal error (the consumer's, e.g. a PDU out of sequence): reported through sink.fatal. */
  fail(fes: Fes, fei: number): void {
    if (this.st === St.Dead) return;
    this.st = St.Dead;
    this.sink.fatal(fes, fei, this.hdr, Math.min(this.hdr[CH_HLEN]! || CH_SIZE, this.hdr.length));
  }

  /** Feed a chunk from the socket (its first `n` bytes: a reused read buffer needs no view per read). */
  push(chunk: Uint8Array, n = chunk.length): void {
    const buf = chunk as Buffer;
    let i = 0;
    while (i < n && this.st !== St.Dead) {
      switch (this.st) {
        case St.Ch:
        case St.Header: {
          const take = Math.min(this.need - this.have, n - i);
          const at = this.st === St.Ch ? this.have : CH_SIZE + this.have;
          buf.copy(this.hdr, at, i, i + take);
          this.have += take;
          this.pduBytes += take;
          i += take;
          if (this.have < this.need) break;
          if (this.st === St.Ch) this.commonHeader();
          else this.headerDone();
          break;
        }
        case St.Pad: {
          const take = Math.min(this.need - this.have, n - i);
          this.have += take;
          this.pduBytes += take;
          i += take;
          if (this.have === this.need) this.startData();
          break;
        }
        case St.Data: {
          const take = Math.min(this.need - this.have, n - i);
          if (this.dest) buf.copy(this.dest, this.destAt + this.have, i, i + take);
          this.have += take;
          this.pduBytes += take;
          i += take;
          if (this.have === this.need) this.dataDone();
          break;
        }
        case St.Ddgst: {
          const take = Math.min(this.need - this.have, n - i);
          buf.copy(this.dgst, this.have, i, i + take);
          this.have += take;
          this.pduBytes += take;
          i += take;
          if (this.have === this.need) this.ddgstDone();
          break;
        }
      }
    }
  }

  private to(st: St, need: number): void {
    this.st = st;
    this.have = 0;
    this.need = need;
  }

  private commonHeader(): void {
    const h = this.hdr;
    const type = h[CH_TYPE]!;
    if (type > 31 || ((1 << type) & this.accept) === 0) return this.fail(Fes.InvalidPduHeaderField, CH_TYPE);
    this.type = type;
    const hlen = h[CH_HLEN]!;
    if (hlen !== pduHlen(type)) return this.fail(Fes.InvalidPduHeaderField, CH_HLEN);
    const flags = h[CH_FLAGS]!;
    this.hd = this.hdgst && pduHasHdgst(type);
    if (((flags & FLAG_HDGSTF) !== 0) !== this.hd) return this.fail(Fes.InvalidPduHeaderField, CH_FLAGS);
    const plen = readU32(h, CH_PLEN);
    const head = hlen + (this.hd ? DIGEST_SIZE : 0);
    const isTerm = type === PduType.H2CTermReq || type === PduType.C2HTermReq;
    if (isTerm) {
      if (plen < hlen || plen > TERMREQ_PLEN_MAX) return this.fail(Fes.InvalidPduHeaderField, CH_PLEN);
    } else if (!pduHasData(type)) {
      if (plen !== head) return this.fail(Fes.InvalidPduHeaderField, CH_PLEN);
    } else if (plen < head) {
      return this.fail(Fes.InvalidPduHeaderField, CH_PLEN);
    } else if (type === PduType.H2CData || type === PduType.C2HData) {
      if (plen === head) return this.fail(Fes.InvalidPduHeaderField, CH_PLEN); // a data PDU without data
    }
    if (plen > head && !isTerm) {
      // PDU with data: PDO at or past the header (and its digest), dword aligned.
      const pdo = h[CH_PDO]!;
      const dd = this.ddgst;
      if (((flags & FLAG_DDGSTF) !== 0) !== dd) return this.fail(Fes.InvalidPduHeaderField, CH_FLAGS);
      if (pdo < head || pdo % 4 !== 0 || pdo >= plen) return this.fail(Fes.InvalidPduHeaderField, CH_PDO);
      const len = plen - pdo - (dd ? DIGEST_SIZE : 0);
      if (len <= 0) return this.fail(Fes.InvalidPduHeaderField, CH_PLEN);
      const max = type === PduType.CapsuleCmd ? this.limits.maxCapsuleData : this.limits.maxDataPdu;
      if (len > max) return this.fail(Fes.DataTransferLimitExceeded, CH_PLEN);
      this.dd = dd;
      this.dataLen = len;
    } else {
      if ((flags & FLAG_DDGSTF) !== 0) return this.fail(Fes.InvalidPduHeaderField, CH_FLAGS);
      this.dd = false;
      this.dataLen = isTerm ? plen - hlen : 0;
    }
    this.to(St.Header, head - CH_SIZE);
    if (this.need === 0) this.headerDone();
  }

  private headerDone(): void {
    const h = this.hdr;
    const hlen = h[CH_HLEN]!;
    if (this.hd) {
      const got = readU32(h, hlen);
      if (crc32cJs(h, 0, 0, hlen) !== got) return this.fail(Fes.HeaderDigestError, got);
    }
    const type = this.type;
    if ((type === PduType.H2CData || type === PduType.C2HData) && readU32(h, DATA_DATAL) !== this.dataLen) {
      return this.fail(Fes.InvalidPduHeaderField, DATA_DATAL);
    }
    if (type === PduType.H2CTermReq || type === PduType.C2HTermReq) {
      this.dest = this.termData;
      if (this.dataLen === 0) return this.complete();
      return this.to(St.Data, this.dataLen);
    }
    this.destOffset = 0;
    const dest = this.sink.header(h, type, this.dataLen);
    if (this.st === St.Dead) return;
    if (this.dataLen === 0) return this.complete();
    const at = this.destOffset;
    this.destOffset = 0;
    if (dest && dest.length - at < this.dataLen) return this.fail(Fes.DataTransferOutOfRange, DATA_DATAL);
    this.dest = dest;
    this.destAt = at;
    const pad = h[CH_PDO]! - hlen - (this.hd ? DIGEST_SIZE : 0);
    if (pad > 0) return this.to(St.Pad, pad);
    this.startData();
  }

  private startData(): void {
    this.to(St.Data, this.dataLen);
  }

  private dataDone(): void {
    if (this.dd) return this.to(St.Ddgst, DIGEST_SIZE);
    this.complete();
  }

  private ddgstDone(): void {
    if (this.dest) {
      const d = this.dest;
      const at = this.destAt;
      const crc = at === 0 && d.length === this.dataLen ? crc32c(d) : crc32c(d.subarray(at, at + this.dataLen));
      if (crc !== readU32(this.dgst, 0)) {
        this.reset();
        this.sink.dataDigestError(this.hdr, this.type);
        return;
      }
    }
    this.complete();
  }

  private complete(): void {
    const dest = this.dest;
    const len = this.dataLen;
    this.reset();
    this.sink.pdu(this.hdr, this.type, dest, len);
  }

  private reset(): void {
    this.dest = null;
    this.destAt = 0;
    this.pduBytes = 0;
    if (this.st !== St.Dead) this.to(St.Ch, CH_SIZE);
  }
}
