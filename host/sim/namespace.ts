// Namespaces of the simulated controller: the logical blocks (RAM or a
// file), the allocation map behind NUSE and deallocation, the per-namespace
// counters of the SMART / Health log, and the namespace-specific feature
// (Error Recovery).
import fs from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { SimNamespaceConfig } from './config.js';
import { AllocationMap } from './alloc-map.js';
import { InvalidArgumentError } from '../errors.js';

/** Where a namespace's bytes live. Positions and lengths are in bytes. */
export interface Backing {
  read(dst: Buffer, dstOff: number, len: number, pos: number): void;
  write(src: Buffer, srcOff: number, len: number, pos: number): void;
  zero(pos: number, len: number): void;
  /** Make written data durable (Flush, FUA, write cache disabled). */
  flush(): void;
  close(): void;
}

class RamBacking implements Backing {
  private readonly bytes: Buffer;
  constructor(size: number) {
    if (size > bufferConstants.MAX_LENGTH) {
      throw new InvalidArgumentError('RAM namespace size', `at most ${bufferConstants.MAX_LENGTH} bytes (use backing 'file')`, `${size} bytes`);
    }
    this.bytes = Buffer.alloc(size); // zero-filled, pages committed on first touch
  }
  read(dst: Buffer, dstOff: number, len: number, pos: number): void {
    this.bytes.copy(dst, dstOff, pos, pos + len);
  }
  write(src: Buffer, srcOff: number, len: number, pos: number): void {
    src.copy(this.bytes, pos, srcOff, srcOff + len);
  }
  zero(pos: number, len: number): void {
    this.bytes.fill(0, pos, pos + len);
  }
  flush(): void {}
  close(): void {}
}

const ZERO_CHUNK = 1 << 20;

class FileBacking implements Backing {
  private zeroes: Buffer | undefined;
  constructor(private readonly fd: number) {}
  read(dst: Buffer, dstOff: number, len: number, pos: number): void {
    while (len > 0) {
      const n = fs.readSync(this.fd, dst, dstOff, len, pos);
      if (n <= 0) {
        dst.fill(0, dstOff, dstOff + len); // cannot happen: the file is sized to the namespace
        return;
      }
      dstOff += n;
      pos += n;
      len -= n;
    }
  }
  write(src: Buffer, srcOff: number, len: number, pos: number): void {
    while (len > 0) {
      const n = fs.writeSync(this.fd, src, srcOff, len, pos);
      srcOff += n;
      pos += n;
      len -= n;
    }
  }
  zero(pos: number, len: number): void {
    this.zeroes ??= Buffer.alloc(ZERO_CHUNK);
    while (len > 0) {
      const n = Math.min(len, ZERO_CHUNK);
      this.write(this.zeroes, 0, n, pos);
      pos += n;
      len -= n;
    }
  }
  flush(): void {
    fs.fdatasyncSync(this.fd);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Counters of the SMART / Health Information log (5.14.1.2). */
export class NamespaceStats {
  bytesRead = 0;
  bytesWritten = 0;
  readCommands = 0;
  writeCommands = 0;
}

export class Namespace {
  readonly lbaShift: number;
  readonly bytes: number;
  /** Metadata bytes per block of the format in use (described only: no metadata is moved). */
  metadataSize: number = 0;
  extendedLba = false;
  readonly stats = new NamespaceStats();
  /** Error Recovery feature (5.21.1.5), namespace specific. */
  tler = 0;
  dulbe = false;

  private constructor(
    readonly nsid: number,
    readonly lbaSize: number,
    readonly blocks: number,
    readonly backing: Backing,
    readonly alloc: AllocationMap,
  ) {
    this.lbaShift = Math.log2(lbaSize);
    this.bytes = blocks * lbaSize;
  }

  /**
   * Open a namespace. A file backing is created if missing and sized to the
   * namespace; a file that already held data counts as fully allocated
   * (the map of which blocks were written is not persisted).
   */
  static open(nsid: number, cfg: SimNamespaceConfig): Namespace {
    const ns = Namespace.openData(nsid, cfg);
    ns.metadataSize = cfg.metadataSize ?? 0;
    ns.extendedLba = ns.metadataSize !== 0 && cfg.extendedLba === true;
    return ns;
  }

  private static openData(nsid: number, cfg: SimNamespaceConfig): Namespace {
    const bytes = cfg.blocks * cfg.lbaSize;
    if (cfg.backing === 'ram') {
      return new Namespace(nsid, cfg.lbaSize, cfg.blocks, new RamBacking(bytes), new AllocationMap(cfg.blocks, false));
    }
    const path = cfg.path!;
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    try {
      const hadData = fs.fstatSync(fd).size > 0;
      fs.ftruncateSync(fd, bytes);
      return new Namespace(nsid, cfg.lbaSize, cfg.blocks, new FileBacking(fd), new AllocationMap(cfg.blocks, hadData));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** EUI-64 and NGUID (Identify Namespace), stable per serial number and NSID. */
  identifiers(serial: string): { eui64: Buffer; nguid: Buffer } {
    const h = createHash('sha256').update(`nvme-wasm-sim:${serial}:${this.nsid}`).digest();
    return { eui64: h.subarray(0, 8), nguid: h.subarray(8, 24) };
  }

  close(): void {
    this.backing.close();
  }
}
