// The driver's (and tests') handle on a running simulated controller: its
// ctl page, mapped read/write. Through it a client learns where BAR0 is,
// asks the sim to map its DMA region (the IOMMU's job on real hardware),
// injects faults and events, and asks the sim to stop.
import fs from 'node:fs';
import { createSharedMemory, alignedOffset, mapFixed, unmapFixed } from '../../hal/mmap.js';
import { openFile, closeFd, O_RDWR } from '../../hal/fd.js';
import { processStartTime } from '../../hal/proc.js';
import { HalError } from '../../hal/errors.js';
import { ControllerError } from '../errors.js';
import { PAGE_SIZE } from '../../assembly/nvme/regs.js';
import { statusField } from '../../assembly/nvme/status.js';
import {
  CTL_SIZE,
  CTL_MAGIC,
  CTL_MAGIC_VALUE,
  CTL_SIM_PID,
  CTL_HEARTBEAT,
  CTL_STATE,
  CTL_STOP,
  CTL_DMA_SEQ,
  CTL_DMA_ACK,
  CTL_DMA_RESULT,
  CTL_DMA_IOVA_LO,
  CTL_DMA_IOVA_HI,
  CTL_DMA_LEN,
  CTL_DMA_PATH,
  CTL_DMA_PATH_LEN,
  CTL_FAULT_SEQ,
  CTL_FAULTS,
  CTL_FAULT_COUNT,
  CTL_FAULT_SIZE,
  FAULT_KIND,
  FAULT_QID,
  FAULT_OPCODE,
  FAULT_REMAINING,
  FAULT_STATUS,
  FAULT_PARAM,
  FAULT_NSID,
  FAULT_ANY,
  FaultKind,
  Malformation,
  FLAG_FATAL,
  FLAG_NEVER_READY,
  FLAG_REMOVED,
  AEN_SEQ,
  AEN_DW0,
  CTL_BAR_SIZE,
  CTL_CONFIG,
  CTL_CONFIG_LEN,
  SimState,
  simBarPath,
  simCtlPath,
} from './ctl.js';
import { AEN_DW0_CONSUMED } from './ctl-protocol.js';
import type { SimConfig } from './config.js';

const DMA_TIMEOUT_MS = 5000;
const AEN_TIMEOUT_MS = 5000;

export interface FaultSpec {
  /** 'status': complete with `status` without executing; 'drop': execute, never complete; 'delay': complete after `delayUs`. */
  kind: 'status' | 'drop' | 'delay' | 'malformed';
  /** Queue id to match (default: any queue, admin included). */
  qid?: number;
  /** Opcode to match (default: any; admin and NVM opcodes overlap, so give qid too). */
  opcode?: number;
  /** NSID to match (default: any). */
  nsid?: number;
  /** How many matching commands to hit (default 1; Infinity = every one). */
  count?: number;
  /** For 'status' (required): the status to complete with. */
  status?: { sct: number; sc: number; dnr?: boolean };
  /** For 'delay': microseconds. */
  delayUs?: number;
  /** For 'malformed': what the completion gets wrong. */
  malformation?: 'unknownCid' | 'duplicate' | 'wrongSqid' | 'sqhdOutOfRange' | 'reservedStatus';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SimClient {
  private readonly ctl: Uint32Array;
  private readonly bytes: Uint8Array;
  private closed = false;

  private constructor(
    readonly name: string,
    readonly directory: string,
    private readonly memory: WebAssembly.Memory,
    private readonly base: bigint,
    private readonly memOff: number,
  ) {
    this.ctl = new Uint32Array(memory.buffer, memOff, CTL_SIZE >>> 2);
    this.bytes = new Uint8Array(memory.buffer, memOff, CTL_SIZE);
  }

  /** Attach to the simulated controller `name`; throws if there is none. */
  static open(name: string, directory = '/dev/shm'): SimClient {
    const path = simCtlPath(directory, name);
    let fd: number;
    try {
      fd = openFile(path, O_RDWR);
    } catch (e) {
      throw new ControllerError(`no simulated controller named ${name} in ${directory} (${path}: ${e instanceof HalError ? e.code : String(e)}): start one with nvme-wasm sim start`, 'removed');
    }
    try {
      if (fs.fstatSync(fd).size < CTL_SIZE) throw new Error(`${path} is not a simulated controller's ctl file (too short)`);
      const { memory, base } = createSharedMemory(CTL_SIZE + PAGE_SIZE);
      const off = alignedOffset(base, 0, PAGE_SIZE);
      mapFixed(base, off, CTL_SIZE, fd, 0);
      const client = new SimClient(name, directory, memory, base, off);
      if (client.word(CTL_MAGIC) !== CTL_MAGIC_VALUE) {
        client.close();
        throw new Error(`${path} is not a simulated controller's ctl file (bad magic)`);
      }
      return client;
    } finally {
      closeFd(fd);
    }
  }

  private word(off: number): number {
    this.checkOpen();
    return Atomics.load(this.ctl, off >>> 2);
  }
  private setWord(off: number, v: number): void {
    this.checkOpen();
    Atomics.store(this.ctl, off >>> 2, v >>> 0);
  }
  private checkOpen(): void {
    if (this.closed) throw new Error(`the client of simulated controller ${this.name} is closed`);
  }

  get pid(): number {
    return this.word(CTL_SIM_PID);
  }
  get state(): SimState {
    return this.word(CTL_STATE);
  }
  get heartbeat(): number {
    return this.word(CTL_HEARTBEAT);
  }
  get barPath(): string {
    return simBarPath(this.directory, this.name);
  }
  get barSize(): number {
    return this.word(CTL_BAR_SIZE);
  }
  /** The effective configuration the sim runs with. */
  get config(): SimConfig {
    const len = this.word(CTL_CONFIG_LEN);
    return JSON.parse(Buffer.from(this.bytes.buffer, this.bytes.byteOffset + CTL_CONFIG, len).toString('utf8')) as SimConfig;
  }

  /** The sim's process exists and its state is Running. */
  isAlive(): boolean {
    return this.state === SimState.Running && processStartTime(this.pid) !== undefined;
  }

  /**
   * Make `len` bytes of the file at `path` the device's DMA window at IOVA
   * `iova` (the sim maps the file; on real hardware the IOMMU does this).
   */
  async mapDma(path: string, iova: bigint, len: number): Promise<void> {
    const p = Buffer.from(path, 'utf8');
    if (p.length === 0 || p.length >= CTL_DMA_PATH_LEN) throw new Error(`DMA file path must be 1 to ${CTL_DMA_PATH_LEN - 1} bytes: ${path}`);
    if (!Number.isInteger(len) || len <= 0 || len > 0xffffffff) throw new Error(`DMA window length must be 1 to 4 GiB - 1 bytes, got ${len}`);
    if (iova < 0n || iova + BigInt(len) > 2n ** 53n) throw new Error(`DMA window IOVA 0x${iova.toString(16)} + ${len} is beyond 2^53`);
    this.bytes.fill(0, CTL_DMA_PATH, CTL_DMA_PATH + CTL_DMA_PATH_LEN);
    this.bytes.set(p, CTL_DMA_PATH);
    this.setWord(CTL_DMA_IOVA_LO, Number(iova & 0xffffffffn));
    this.setWord(CTL_DMA_IOVA_HI, Number(iova >> 32n));
    this.setWord(CTL_DMA_LEN, len);
    await this.dmaRequest(`map ${path} at IOVA 0x${iova.toString(16)}`);
  }

  /** Drop the DMA window: every later DMA by the device faults. */
  async unmapDma(): Promise<void> {
    this.bytes.fill(0, CTL_DMA_PATH, CTL_DMA_PATH + CTL_DMA_PATH_LEN);
    this.setWord(CTL_DMA_LEN, 0);
    await this.dmaRequest('unmap the DMA window');
  }

  private async dmaRequest(what: string): Promise<void> {
    const seq = (Atomics.add(this.ctl, CTL_DMA_SEQ >>> 2, 1) + 1) >>> 0;
    const deadline = Date.now() + DMA_TIMEOUT_MS;
    while (this.word(CTL_DMA_ACK) !== seq) {
      // Its process gone (killed, crashed): say so at once rather than after the timeout.
      if (!this.isAlive()) throw new ControllerError(`simulated controller ${this.name} stopped (its process is gone) before it could ${what}`, 'removed');
      if (Date.now() > deadline) throw new ControllerError(`simulated controller ${this.name} did not ${what} within ${DMA_TIMEOUT_MS} ms (process ${this.pid} stopped or stuck)`, 'state');
      await sleep(1);
    }
    const errno = this.word(CTL_DMA_RESULT);
    if (errno !== 0) throw new HalError('sim DMA map', errno, what);
  }

  /** Add a fault rule; returns its index in the table. */
  injectFault(spec: FaultSpec): number {
    const kinds = { status: FaultKind.Status, drop: FaultKind.DropCompletion, delay: FaultKind.Delay, malformed: FaultKind.Malformed } as const;
    const kind = kinds[spec.kind];
    if (kind === undefined) throw new Error(`unknown fault kind ${String(spec.kind)}`);
    const malformations = {
      unknownCid: Malformation.UnknownCid, duplicate: Malformation.Duplicate, wrongSqid: Malformation.WrongSqid,
      sqhdOutOfRange: Malformation.SqhdOutOfRange, reservedStatus: Malformation.ReservedStatus,
    } as const;
    const malformation = spec.kind === 'malformed' ? malformations[spec.malformation ?? ('' as 'duplicate')] : Malformation.None;
    if (malformation === undefined) throw new Error(`unknown malformation ${String(spec.malformation)}`);
    if (spec.kind === 'status' && spec.status === undefined) throw new Error("a 'status' fault needs a status");
    const count = spec.count ?? 1;
    if (count !== Infinity && (!Number.isInteger(count) || count < 1 || count >= FAULT_ANY)) throw new Error(`fault count must be a positive integer or Infinity, got ${count}`);
    for (let i = 0; i < CTL_FAULT_COUNT; i++) {
      const at = CTL_FAULTS + i * CTL_FAULT_SIZE;
      if (this.word(at + FAULT_KIND) !== FaultKind.None && this.word(at + FAULT_REMAINING) !== 0) continue;
      this.setWord(at + FAULT_KIND, FaultKind.None); // not live while being written
      this.setWord(at + FAULT_QID, spec.qid ?? FAULT_ANY);
      this.setWord(at + FAULT_OPCODE, spec.opcode ?? FAULT_ANY);
      this.setWord(at + FAULT_NSID, spec.nsid ?? 0);
      this.setWord(at + FAULT_REMAINING, count === Infinity ? FAULT_ANY : count);
      this.setWord(at + FAULT_STATUS, spec.status ? statusField(spec.status.sct, spec.status.sc, spec.status.dnr ?? false) : 0);
      this.setWord(at + FAULT_PARAM, spec.kind === 'malformed' ? malformation : (spec.delayUs ?? 0));
      this.setWord(at + FAULT_KIND, kind);
      Atomics.add(this.ctl, CTL_FAULT_SEQ >>> 2, 1);
      return i;
    }
    throw new Error(`all ${CTL_FAULT_COUNT} fault rules of simulated controller ${this.name} are in use`);
  }

  /** Remove every fault rule. */
  clearFaults(): void {
    for (let i = 0; i < CTL_FAULT_COUNT; i++) this.setWord(CTL_FAULTS + i * CTL_FAULT_SIZE + FAULT_KIND, FaultKind.None);
    Atomics.add(this.ctl, CTL_FAULT_SEQ >>> 2, 1);
  }

  /** Make the controller fail: CSTS.CFS = 1 until the next reset. */
  setFatal(): void {
    this.setWord(FLAG_FATAL, 1);
  }

  /**
   * Surprise removal: from now on every BAR0 register reads all ones (as a
   * PCIe read of a device that is gone completes) and no command is
   * processed. There is no way back; stop the simulator to clean up.
   */
  setRemoved(): void {
    this.setWord(FLAG_REMOVED, 1);
  }

  /** While on, CC.EN = 1 never brings CSTS.RDY = 1. */
  setNeverReady(on: boolean): void {
    this.setWord(FLAG_NEVER_READY, on ? 1 : 0);
  }

  /**
   * Post an asynchronous event (completion DW0 of an AER, cmd.ts AER_*).
   * Resolves once the sim has taken it (queued or completed an AER).
   */
  async postAsyncEvent(dw0: number): Promise<void> {
    if (dw0 >>> 0 === AEN_DW0_CONSUMED) throw new Error('event dword 0 0xffffffff is reserved');
    const deadline = Date.now() + AEN_TIMEOUT_MS;
    // One event at a time: wait for the previous one to be taken.
    while (this.word(AEN_DW0) !== AEN_DW0_CONSUMED) {
      if (Date.now() > deadline) throw new Error(`simulated controller ${this.name} did not take an event within ${AEN_TIMEOUT_MS} ms`);
      await sleep(1);
    }
    this.setWord(AEN_DW0, dw0);
    Atomics.add(this.ctl, AEN_SEQ >>> 2, 1);
    while (this.word(AEN_DW0) !== AEN_DW0_CONSUMED) {
      if (Date.now() > deadline) throw new Error(`simulated controller ${this.name} did not take an event within ${AEN_TIMEOUT_MS} ms`);
      await sleep(1);
    }
  }

  /** Ask the sim to exit (it removes its files). */
  requestStop(): void {
    this.setWord(CTL_STOP, 1);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    unmapFixed(this.base, this.memOff, CTL_SIZE);
    void this.memory;
  }
}
