// The driver's (and tests') handle on a running simulated controller: its
// ctl page, mapped read/write. Through it a client learns where BAR0 is,
// asks the sim to map its DMA region (the IOMMU's job on real hardware),
// injects faults and events, and asks the sim to stop.
import fs from 'node:fs';
import { createSharedMemory, alignedOffset, mapFixed, unmapFixed } from '../../hal/mmap.js';
import { pidRunning } from '../../hal/proc.js';
import { simAlive } from './device-files.js';
import { openFile, closeFd, tryFlockExclusive, O_RDWR, O_RDONLY, O_NOFOLLOW } from '../../hal/fd.js';
import { HalError } from '../../hal/errors.js';
import { ControllerError, InvalidArgumentError, ResourceError, UnsafePathError } from '../errors.js';
import { openTrusted } from '../trust.js';
import { PAGE_SIZE } from '../../assembly/nvme/regs.js';
import { statusField } from '../../assembly/nvme/status.js';
import {
  CTL_SIZE,
  CTL_MAGIC,
  CTL_MAGIC_VALUE,
  CTL_SIM_PID,
  ctlSimStart,
  CTL_HEARTBEAT,
  CTL_STATE,
  CTL_STOP,
  CTL_DMA_PATH_LEN,
  CTL_FAULT_COUNT,
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
  CTL_DMA_OWNER_PID,
  CTL_DMA_OWNER_TOKEN,
  SimState,
  simBarPath,
  simCtlPath,
} from './ctl.js';
import { SimInterruptSource, simIrqVectors } from './irq.js';
import { postDmaRequest, dmaAck, dmaResult, readDmaRequest } from './ctl-dma.js';
import { faultRuleFree, writeFaultRule, clearFaultRules } from './faults.js';
import { AEN_DW0_CONSUMED } from './ctl-protocol.js';
import type { SimConfig } from './config.js';

const DMA_TIMEOUT_MS = 5000;
const AEN_TIMEOUT_MS = 5000;

/** A fault rule to inject (SimClient.injectFault): what it matches and what it does. */
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
  /** For 'status' (required): the status to complete with: Status Code Type (0 to 7), Status Code (0 to 255), Do Not Retry. */
  status?: { sct: number; sc: number; dnr?: boolean };
  /** For 'delay': the delay in microseconds. */
  delayUs?: number;
  /** For 'malformed': what the completion gets wrong. */
  malformation?: 'unknownCid' | 'duplicate' | 'wrongSqid' | 'sqhdOutOfRange' | 'reservedStatus';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A handle on a running simulated controller, through its ctl page. */
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
      fd = openTrusted(path, O_RDWR);
    } catch (e) {
      if (e instanceof UnsafePathError) throw e;
      throw new ControllerError(`no simulated controller named ${name} in ${directory} (${path}: ${e instanceof HalError ? e.code : String(e)}): start one with nvme-wasm sim start`, 'removed');
    }
    try {
      if (fs.fstatSync(fd).size < CTL_SIZE) throw new ControllerError(`${path} is not a simulated controller's ctl file (too short)`, 'unsupported');
      const { memory, base } = createSharedMemory(CTL_SIZE + PAGE_SIZE);
      const off = alignedOffset(base, 0, PAGE_SIZE);
      mapFixed(base, off, CTL_SIZE, fd, 0);
      const client = new SimClient(name, directory, memory, base, off);
      if (client.word(CTL_MAGIC) !== CTL_MAGIC_VALUE) {
        client.close();
        throw new ControllerError(`${path} is not a simulated controller's ctl file (bad magic)`, 'unsupported');
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
    if (this.closed) throw new ControllerError(`the client of simulated controller ${this.name} is closed`, 'closed');
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

  /** The sim's process start time (clock ticks since boot; 0 if its page has none). */
  get startTime(): number {
    return ctlSimStart((off) => this.word(off));
  }

  /** The sim's process (that pid with that start time) exists and its state is Running. */
  isAlive(): boolean {
    return this.state === SimState.Running && simAlive(this.pid, this.startTime);
  }

  /**
   * Make `len` bytes of the file at `path` the device's DMA window at IOVA
   * `iova` (the sim maps the file; on real hardware the IOMMU does this).
   */
  async mapDma(path: string, iova: bigint, len: number): Promise<void> {
    const p = Buffer.from(path, 'utf8');
    if (p.length === 0 || p.length >= CTL_DMA_PATH_LEN) throw new InvalidArgumentError('DMA file path', `1 to ${CTL_DMA_PATH_LEN - 1} bytes`, path);
    if (!Number.isInteger(len) || len <= 0 || len > 0xffffffff) throw new InvalidArgumentError('DMA window length', '1 to 4 GiB - 1 bytes', len);
    if (iova < 0n || iova + BigInt(len) > 2n ** 53n) throw new InvalidArgumentError('DMA window', `an IOVA range below 2^53`, `0x${iova.toString(16)} + ${len}`);
    this.checkOpen();
    this.claimDma(path);
    const seq = postDmaRequest(this.ctl, this.bytes, p, iova, len);
    await this.dmaRequest(seq, `map ${path} at IOVA 0x${iova.toString(16)}`);
  }

  /**
   * A simulator serves one driver (or one group) at a time: taking its DMA
   * window from a live one would leave that one polling a device that no
   * longer sees its memory. The window is in use while the driver that
   * mapped it lives, or while processes hold the window's file (a group's
   * members keep a shared flock on their region file); otherwise it is
   * taken over, by compare-and-swap on the ctl page.
   */
  private claimDma(path: string): void {
    const me = process.pid;
    const PID = CTL_DMA_OWNER_PID >>> 2;
    const TOKEN = CTL_DMA_OWNER_TOKEN >>> 2;
    for (;;) {
      const cur = Atomics.load(this.ctl, PID);
      if (cur === me && Atomics.load(this.ctl, TOKEN) === this.token) return;
      // Another driver of this process, or a process that runs: in use. A dead one's window is free.
      if (cur !== 0 && (cur === me || pidRunning(cur) || this.windowHeld(path))) {
        throw new ControllerError(`simulated controller ${this.name} is in use by another driver (pid ${cur}): it serves one driver or group at a time; join that group (-i / shmId) or start another simulator`, 'state');
      }
      if (Atomics.compareExchange(this.ctl, PID, cur, me) === cur) break;
    }
    Atomics.store(this.ctl, TOKEN, this.token);
  }

  /** Which driver of this process claimed the DMA window (CTL_DMA_OWNER_TOKEN). */
  private readonly token = (Math.random() * 0xfffffffe + 1) >>> 0;

  /**
   * Do processes hold the file of the current DMA window (a group whose
   * primary moved on)? Not when it is the file being mapped now: a group
   * started afresh under the same name, by this process.
   */
  private windowHeld(next: string): boolean {
    const path = readDmaRequest(this.ctl, this.bytes).path;
    if (path === '' || path === next) return false;
    let fd: number;
    try {
      fd = openFile(path, O_RDONLY | O_NOFOLLOW);
    } catch {
      return false; // gone (a private driver's, unlinked): the owner check decides
    }
    try {
      return !tryFlockExclusive(fd);
    } finally {
      closeFd(fd);
    }
  }

  /** This process no longer needs the DMA window (it closes): another driver may have the simulator. */
  releaseDma(): void {
    if (this.closed || Atomics.load(this.ctl, CTL_DMA_OWNER_TOKEN >>> 2) !== this.token) return;
    Atomics.compareExchange(this.ctl, CTL_DMA_OWNER_PID >>> 2, process.pid, 0);
  }

  /** Drop the DMA window: every later DMA by the device faults. */
  async unmapDma(): Promise<void> {
    this.checkOpen();
    const seq = postDmaRequest(this.ctl, this.bytes, new Uint8Array(0), 0n, 0);
    await this.dmaRequest(seq, 'unmap the DMA window');
  }

  /** Wait for the sim to finish DMA request `seq`. */
  private async dmaRequest(seq: number, what: string): Promise<void> {
    const deadline = Date.now() + DMA_TIMEOUT_MS;
    for (;;) {
      this.checkOpen();
      if (dmaAck(this.ctl) === seq) break;
      // Its process gone (killed, crashed): say so at once rather than after the timeout.
      if (!this.isAlive()) throw new ControllerError(`simulated controller ${this.name} stopped (its process is gone) before it could ${what}`, 'removed');
      if (Date.now() > deadline) throw new ControllerError(`simulated controller ${this.name} did not ${what} within ${DMA_TIMEOUT_MS} ms (process ${this.pid} stopped or stuck)`, 'state');
      await sleep(1);
    }
    const errno = dmaResult(this.ctl);
    if (errno !== 0) throw new HalError('sim DMA map', errno, what);
  }

  /** Add a fault rule; returns its index in the table. */
  injectFault(spec: FaultSpec): number {
    const kinds = { status: FaultKind.Status, drop: FaultKind.DropCompletion, delay: FaultKind.Delay, malformed: FaultKind.Malformed } as const;
    const kind = kinds[spec.kind];
    if (kind === undefined) throw new InvalidArgumentError('fault kind', "'status', 'drop', 'delay' or 'malformed'", spec.kind);
    const malformations = {
      unknownCid: Malformation.UnknownCid, duplicate: Malformation.Duplicate, wrongSqid: Malformation.WrongSqid,
      sqhdOutOfRange: Malformation.SqhdOutOfRange, reservedStatus: Malformation.ReservedStatus,
    } as const;
    const malformation = spec.kind === 'malformed' ? malformations[spec.malformation ?? ('' as 'duplicate')] : Malformation.None;
    if (malformation === undefined) throw new InvalidArgumentError('malformation', Object.keys(malformations).join(', '), spec.malformation);
    if (spec.kind === 'status' && spec.status === undefined) throw new InvalidArgumentError('status', "a status for a 'status' fault");
    const count = spec.count ?? 1;
    if (count !== Infinity && (!Number.isInteger(count) || count < 1 || count >= FAULT_ANY)) throw new InvalidArgumentError('fault count', 'a positive integer or Infinity', count);
    this.checkOpen();
    for (let i = 0; i < CTL_FAULT_COUNT; i++) {
      if (!faultRuleFree(this.ctl, i)) continue;
      writeFaultRule(this.ctl, i, {
        kind,
        qid: spec.qid ?? FAULT_ANY,
        opcode: spec.opcode ?? FAULT_ANY,
        nsid: spec.nsid ?? 0,
        remaining: count === Infinity ? FAULT_ANY : count,
        status: spec.status ? statusField(spec.status.sct, spec.status.sc, spec.status.dnr ?? false) : 0,
        param: spec.kind === 'malformed' ? malformation : (spec.delayUs ?? 0),
      });
      return i;
    }
    throw new ResourceError(`all ${CTL_FAULT_COUNT} fault rules of simulated controller ${this.name} are in use`, 'slot');
  }

  /** Remove every fault rule. */
  clearFaults(): void {
    this.checkOpen();
    clearFaultRules(this.ctl);
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
    if (dw0 >>> 0 === AEN_DW0_CONSUMED) throw new InvalidArgumentError('event dword 0', 'not 0xffffffff (reserved)', dw0);
    const deadline = Date.now() + AEN_TIMEOUT_MS;
    // One event at a time: wait for the previous one to be taken.
    while (this.word(AEN_DW0) !== AEN_DW0_CONSUMED) {
      if (Date.now() > deadline) throw new ControllerError(`simulated controller ${this.name} did not take an event within ${AEN_TIMEOUT_MS} ms`, 'state');
      await sleep(1);
    }
    this.setWord(AEN_DW0, dw0);
    Atomics.add(this.ctl, AEN_SEQ >>> 2, 1);
    while (this.word(AEN_DW0) !== AEN_DW0_CONSUMED) {
      if (Date.now() > deadline) throw new ControllerError(`simulated controller ${this.name} did not take an event within ${AEN_TIMEOUT_MS} ms`, 'state');
      await sleep(1);
    }
  }

  /**
   * Interrupts of this simulator (irq.ts): vector `v` of the ctl page as an
   * InterruptSource, for a CQ created with IEN = 1 and IV = v. Undefined
   * when the simulator offers no vector `v`.
   */
  interruptSource(v: number): SimInterruptSource | undefined {
    this.checkOpen();
    if (v < 1 || v >= simIrqVectors(this.ctl)) return undefined;
    return new SimInterruptSource(v, this.ctl, this.base + BigInt(this.memOff));
  }

  /** Interrupt vectors the simulator signals (0: none). */
  get interruptVectors(): number {
    return simIrqVectors(this.ctl);
  }

  /** Ask the sim to exit (it removes its files). */
  requestStop(): void {
    this.setWord(CTL_STOP, 1);
  }

  /** Unmap the ctl page; the simulator keeps running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    unmapFixed(this.base, this.memOff, CTL_SIZE);
    void this.memory;
  }
}
