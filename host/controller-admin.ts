// The admin commands as a Controller offers them (Controller extends this
// class): thin, documented wrappers over the builders in admin-commands.ts,
// with the log pages parsed (identify.ts).
import { Cns, LogId } from '../assembly/nvme/cmd.js';
import { ERRLOG_ENTRY_SIZE, SMART_LOG_SIZE, FWSLOT_LOG_SIZE } from '../assembly/nvme/identify.js';
import { ControllerEvents } from './controller-events.js';
import { ADMIN_MAX_XFER, type AdminCommands } from './admin-commands.js';
import type { PassthroughCommand } from './passthrough.js';
import {
  parseControllerData, parseSmartLog, parseErrorLog, parseFirmwareSlotLog, type ControllerData, type SmartLog, type ErrorLogEntry,
  type FirmwareSlotLog,
} from './identify.js';
import { checkInt } from './validate.js';

export abstract class ControllerAdminApi extends ControllerEvents {
  /** The admin command builders (chapter 5) over the shared admin queue. */
  abstract readonly commands: AdminCommands;
  /** Identify Controller data. */
  data!: ControllerData;
  /** Bytes one command may transfer (MDTS and maxTransferBytes applied). */
  maxTransfer = 0;

  /** Identify (5.15) into a fresh Buffer. */
  identifyRaw(cns: number, nsid: number, cntid = 0): Promise<Buffer> {
    return this.commands.identify(cns, nsid, cntid);
  }

  async identifyController(): Promise<ControllerData> {
    this.data = parseControllerData(await this.identifyRaw(Cns.Controller, 0));
    return this.data;
  }

  /** Get Features (5.13) of feature `fid` (0 to 255): the completion's dword 0. */
  getFeature(
    fid: number,
    opts: {
      /** Select, 0 to 3: current (0, default), default (1), saved (2), supported capabilities (3). */
      sel?: number;
      /** Namespace ID, for namespace-specific features. Default 0. */
      nsid?: number;
      /** Command dword 11, for features that take one. Default 0. */
      cdw11?: number;
    } = {},
  ): Promise<number> {
    return this.commands.getFeature(fid, opts);
  }

  /** Set Features (5.21) of feature `fid` (0 to 255) to `cdw11` (a 32-bit value): the completion's dword 0. */
  setFeature(
    fid: number,
    cdw11: number,
    opts: {
      /** Save the value across resets (SV). Default false. */
      save?: boolean;
      /** Namespace ID, for namespace-specific features. Default 0. */
      nsid?: number;
      /** Command dword 12, for features that take one. Default 0. */
      cdw12?: number;
    } = {},
  ): Promise<number> {
    return this.commands.setFeature(fid, cdw11, opts);
  }

  /** Get Log Page (5.14) of log `lid` (0 to 255): `length` bytes (a multiple of 4, 4 to 16 MiB) from byte `offset`, split by the transfer limit. */
  getLogPage(
    lid: number,
    length: number,
    opts: {
      /** Namespace ID. Default 0xffffffff (all namespaces). */
      nsid?: number;
      /** Byte offset into the log page, a multiple of 4. Default 0. */
      offset?: number;
      /** Log Specific Field, 0 to 15. Default 0. */
      lsp?: number;
      /** Retain Asynchronous Event. Default false. */
      rae?: boolean;
    } = {},
  ): Promise<Buffer> {
    return this.commands.getLogPage(lid, length, this.maxTransfer || ADMIN_MAX_XFER, opts);
  }

  async smartLog(nsid = 0xffffffff): Promise<SmartLog> {
    return parseSmartLog(await this.getLogPage(LogId.SmartHealth, SMART_LOG_SIZE, { nsid }));
  }

  async errorLog(entries = this.data.errorLogPageEntries): Promise<ErrorLogEntry[]> {
    checkInt('entries', entries, 1, 256);
    return parseErrorLog(await this.getLogPage(LogId.ErrorInformation, entries * ERRLOG_ENTRY_SIZE));
  }

  async firmwareSlotLog(): Promise<FirmwareSlotLog> {
    return parseFirmwareSlotLog(await this.getLogPage(LogId.FirmwareSlot, FWSLOT_LOG_SIZE));
  }

  /** Abort (5.1) command `cid` of queue `sqid`. Resolves true if the controller aborted it. */
  abort(sqid: number, cid: number): Promise<boolean> {
    return this.commands.abort(sqid, cid);
  }

  /** Asynchronous Event Request (5.2): resolves with dword 0 when the controller reports an event. */
  asyncEventRequest(): Promise<number> {
    return this.commands.asyncEventRequest();
  }

  /**
   * An admin command with the given fields (passthrough, like nvme-cli's
   * admin-passthru). `data` (if any) is copied to and from a DMA buffer.
   */
  adminCommand(cmd: PassthroughCommand): Promise<{ dw0: number; data?: Uint8Array }> {
    return this.commands.passthrough(cmd);
  }

}
