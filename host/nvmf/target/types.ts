// The interfaces the command handlers see: what a connection offers them and
// what the target does for them. (They import these, never the classes, so
// the modules form no cycle.)
import type { IoQueuePair } from '../../index.js';
import type { CommandContext } from './command.js';
import type { Subsystem } from './subsystem.js';
import type { FabricsController } from './association.js';

/** Target-wide settings (see NvmfTargetOptions for each). */
export interface TargetSettings {
  maxH2CData: number;
  stallTimeoutMs: number;
  icTimeoutMs: number;
  adminInCapsuleSize: number;
  deviceQueueTimeoutMs: number;
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
