// A fabrics controller: the association one host makes with a subsystem
// (NVMe-oF 3.3) through an admin queue Connect, its I/O queues, its
// properties (CAP, VS, CC, CSTS) and its Keep Alive timer.
import { REG_CAP, REG_VS, REG_CC, REG_CSTS, CC_EN_MASK, CC_EN_SHIFT, CC_SHN_SHIFT, CC_SHN_MASK, CSTS_RDY_SHIFT } from '../../../assembly/nvme/regs.js';
import type { Subsystem as SubsystemOf } from './subsystem.js';

/** A subsystem of the target, with its associations (controllers). */
export type Subsystem = SubsystemOf<FabricsController>;
import type { IoQueuePair } from '../../index.js';
import type { CommandContext } from './command.js';
import type { CompletionMode } from '../../interrupts.js';

const CSTS_SHST_SHIFT = 2; // NVMe 1.4 3.1.6: 00b normal, 01b occurring, 10b complete
const CSTS_SHST_COMPLETE = 2;
/** Target-wide settings (see NvmfTargetOptions for each). */
export interface TargetSettings {
  maxH2CData: number;
  stallTimeoutMs: number;
  icTimeoutMs: number;
  adminInCapsuleSize: number;
  deviceQueueTimeoutMs: number;
  deviceCompletionMode: CompletionMode;
  pollSockets: boolean;
  pollWait: boolean;
  spinYield: boolean;
}

/** What the target does for its connections' handlers. */
export interface TargetServices {
  readonly settings: TargetSettings;
  findSubsystem(nqn: string): Subsystem | undefined;
  /** The discovery log page (70h) as `hostNqn` sees it. */
  discoveryLog(hostNqn: string): Buffer;
  /** CAP (8 bytes) of a controller of `sub` (undefined: discovery). */
  capFor(sub: Subsystem | undefined): bigint;
  /** A new association's controller ID for the discovery subsystem. */
  allocDiscoveryCntlid(): number;
  log(message: string): void;
}

/** What a command handler may do with the connection (queue) a command came on. */
export interface QueueConnection {
  /** 0 for an admin queue, the I/O queue's ID, -1 before Connect. */
  readonly qid: number;
  readonly services: TargetServices;
  /** The association this queue belongs to (after Connect). */
  readonly ctrl: FabricsController | undefined;
  /** The device queue pair of an I/O queue. */
  readonly deviceQp: IoQueuePair | undefined;
  /** Send the CapsuleResp of `ctx`: status field `sf` (15 bits, NVMe 1.4 4.6.1), dwords 0 and 1. */
  complete(ctx: CommandContext, sf: number, dw0?: number, dw1?: number): void;
  /** Send `len` bytes of `data` in C2HData, then a successful CapsuleResp. */
  sendData(ctx: CommandContext, data: Uint8Array, len: number): void;
  /** Make this connection the admin queue of `ctrl`. */
  bindAdmin(ctrl: FabricsController, sqsize: number): void;
  /** Make this connection I/O queue `qid` of `ctrl`, served by `qp`. */
  bindIo(ctrl: FabricsController, qid: number, sqsize: number, qp: IoQueuePair): void;
  /** Give `ctx` a DMA buffer of exactly `len` bytes (I/O queues): 0, or the status to answer with. */
  takeDma(ctx: CommandContext, len: number): number;
  /** A command went to the device queue pair (its poll group polls it). */
  deviceSubmitted(): void;
  /** Close at once (socket destroyed); the device queue is given back once its commands are done. */
  close(reason: string): void;
  /** Close after what was written is sent (Disconnect). */
  closeGracefully(reason: string): void;
  /** Connect may come (ICReq done, not yet connected). */
  readonly awaitingConnect: boolean;
  readonly isClosed: boolean;
  readonly remote: string;
}

/** The version this target's controllers report (NVMe 1.4). */
export const FABRICS_VS = 0x10400;

export class FabricsController {
  cc = 0;
  csts = 0;
  /** I/O queues granted (Set Features Number of Queues, at most the subsystem's quota). */
  ioQueues: number;
  readonly ioConnections = new Map<number, QueueConnection>();
  private kaTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** Called once when the association ends (reason for the log). */
  onEnd: ((reason: string) => void) | undefined;

  constructor(
    readonly subsystem: Subsystem | undefined, // undefined: the discovery controller
    readonly cntlid: number,
    readonly hostNqn: string,
    readonly hostId: Buffer,
    /** Keep Alive Timeout from Connect, ms (0: none). */
    readonly katoMs: number,
    readonly admin: QueueConnection,
    /** CAP as the remote host sees it. */
    readonly cap: bigint,
  ) {
    this.ioQueues = subsystem?.maxIoQueuesPerHost ?? 0;
    if (katoMs > 0) {
      this.kaTimer = setTimeout(this.kaExpired, katoMs);
      this.kaTimer.unref();
    }
  }

  /** Commands other than Keep Alive came since the timer last fired (traffic-based keep alive, as NVMe 2.0 defines it and nvmet does with reset_tbkas). */
  private traffic = false;

  /** The Keep Alive timer fired: end the association, unless commands came since it was last set (then once more). */
  private readonly kaExpired = (): void => {
    if (this.ended) return;
    if (this.traffic) {
      this.traffic = false;
      this.kaTimer!.refresh();
      return;
    }
    this.end(`keep alive timeout (${this.katoMs} ms) expired`);
  };

  get isDiscovery(): boolean {
    return this.subsystem === undefined;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** A Keep Alive command arrived: restart the Keep Alive timer. */
  keepAlive(): void {
    this.traffic = false;
    this.kaTimer?.refresh();
  }

  /**
   * Any other command arrived: the association lives at least one more KATO
   * from the timer's next firing, so it ends between KATO and twice KATO
   * after the last command. A flag, not a timer restart: restarting a Node
   * timer per I/O command was 3% of the target's CPU at QD1 (a guest
   * profile, bench:nvmf --variants projectProfile, 2026-12-02).
   */
  sawCommand(): void {
    this.traffic = true;
  }

  /** Property Get (NVMe-oF 3.4): the value, or undefined for an unknown property or wrong size. */
  getProperty(offset: number, size8: boolean): bigint | undefined {
    if (size8) return offset === REG_CAP ? this.cap : undefined;
    switch (offset) {
      case REG_VS:
        return BigInt(FABRICS_VS);
      case REG_CC:
        return BigInt(this.cc);
      case REG_CSTS:
        return BigInt(this.csts);
      default:
        return undefined;
    }
  }

  /** Property Set (NVMe-oF 3.5): CC only. False for anything else. */
  setProperty(offset: number, size8: boolean, value: bigint): boolean {
    if (size8 || offset !== REG_CC) return false;
    const cc = Number(value & 0xffffffffn);
    const en = (cc >>> CC_EN_SHIFT) & CC_EN_MASK;
    const shn = (cc >>> CC_SHN_SHIFT) & CC_SHN_MASK;
    let csts = this.csts;
    csts = en ? csts | (1 << CSTS_RDY_SHIFT) : csts & ~(1 << CSTS_RDY_SHIFT);
    csts &= ~(3 << CSTS_SHST_SHIFT);
    if (shn !== 0) csts |= CSTS_SHST_COMPLETE << CSTS_SHST_SHIFT; // nothing to flush here: the device's writes are the device's
    this.cc = cc;
    this.csts = csts;
    return true;
  }

  /** End the association: every queue's connection closes, its device queues are given back. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.kaTimer) clearTimeout(this.kaTimer);
    this.subsystem?.controllers.delete(this.cntlid);
    for (const c of this.ioConnections.values()) c.close(reason);
    this.ioConnections.clear();
    this.admin.close(reason);
    this.onEnd?.(reason);
  }
}
