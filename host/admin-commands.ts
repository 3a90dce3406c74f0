// Admin command builders over the shared admin queue (like SPDK's
// nvme_ctrlr_cmd.c): one function per command of NVM Express Base
// Specification 1.4 chapter 5, each building its command in the core and
// resolving with what the completion (or the data it returned) says. Data
// comes back through DMA buffers freed when the command is done with them.
import { AdminOpc, IDENTIFY_DATA_SIZE, ABORT_NOT_ABORTED, FeatureId, numberOfQueues, nqSubmissionQueues, nqCompletionQueues } from '../assembly/nvme/cmd.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import type { CoreExports } from './core.js';
import type { AdminQueue } from './admin.js';
import type { DmaBuffer } from './dma.js';
import { passthrough, type PassthroughCommand } from './passthrough.js';
import { InvalidArgumentError } from './errors.js';
import { checkInt } from './validate.js';

export { ADMIN_MAX_XFER } from './admin.js';

export class AdminCommands {
  constructor(
    readonly queue: AdminQueue,
    private readonly core: CoreExports,
    private readonly allocDma: (bytes: number, opts?: { zero?: boolean }) => DmaBuffer,
  ) {}

  private get desc(): number {
    return this.queue.desc;
  }

  /** Identify (5.15) into a fresh Buffer. */
  identify(cns: number, nsid: number, cntid = 0): Promise<Buffer> {
    return this.queue.withData(IDENTIFY_DATA_SIZE, AdminOpc.Identify, `Identify CNS ${cns}`, (buf) =>
      this.core.submitIdentify(this.desc, cns, nsid, cntid, buf.regionOffset));
  }

  /** Get Features (5.13): the completion's dword 0. */
  getFeature(fid: number, opts: { sel?: number; nsid?: number; cdw11?: number } = {}): Promise<number> {
    checkInt('fid', fid, 0, 255);
    const sel = checkInt('sel', opts.sel ?? 0, 0, 3);
    return this.queue.run(AdminOpc.GetFeatures, `Get Features 0x${fid.toString(16)}`, () =>
      this.core.submitGetFeatures(this.desc, fid, sel, opts.nsid ?? 0, opts.cdw11 ?? 0, 0, 0));
  }

  /** Set Features (5.21): the completion's dword 0. */
  setFeature(fid: number, cdw11: number, opts: { save?: boolean; nsid?: number; cdw12?: number } = {}): Promise<number> {
    checkInt('fid', fid, 0, 255);
    checkInt('cdw11', cdw11, 0, 0xffffffff);
    return this.queue.run(AdminOpc.SetFeatures, `Set Features 0x${fid.toString(16)}`, () =>
      this.core.submitSetFeatures(this.desc, fid, opts.save ? 1 : 0, opts.nsid ?? 0, cdw11 >>> 0, opts.cdw12 ?? 0, 0, 0));
  }

  /**
   * Set Features Number of Queues (5.21.1.7): ask for `n` I/O SQs and CQs;
   * resolves with what the controller allocated (1's based).
   */
  async setNumberOfQueues(n: number): Promise<{ sq: number; cq: number }> {
    const dw0 = await this.setFeature(FeatureId.NumberOfQueues, numberOfQueues(n, n));
    return { sq: nqSubmissionQueues(dw0), cq: nqCompletionQueues(dw0) };
  }

  /** Get Log Page (5.14): `length` bytes from byte `offset`, in pieces of at most `maxTransfer`. */
  async getLogPage(lid: number, length: number, maxTransfer: number, opts: { nsid?: number; offset?: number; lsp?: number; rae?: boolean } = {}): Promise<Buffer> {
    checkInt('lid', lid, 0, 255);
    checkInt('length', length, 4, 16 * 1024 * 1024);
    if (length % 4) throw new InvalidArgumentError('length', 'a multiple of 4 bytes', length);
    const offset = checkInt('offset', opts.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
    if (offset % 4) throw new InvalidArgumentError('offset', 'a multiple of 4 bytes', offset);
    const chunk = Math.min(this.queue.maxTransfer, maxTransfer);
    const parts: Buffer[] = [];
    for (let done = 0; done < length; done += chunk) {
      const n = Math.min(chunk, length - done);
      parts.push(await this.queue.withData(n, AdminOpc.GetLogPage, `Get Log Page 0x${lid.toString(16)}`, (buf) =>
        this.core.submitGetLogPage(this.desc, lid, opts.nsid ?? 0xffffffff, opts.lsp ?? 0, opts.rae ? 1 : 0, offset + done, buf.regionOffset, n)));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Abort (5.1) command `cid` of queue `sqid`. Resolves true if the controller aborted it. */
  async abort(sqid: number, cid: number): Promise<boolean> {
    checkInt('sqid', sqid, 0, 65535);
    checkInt('cid', cid, 0, 65535);
    const dw0 = await this.queue.run(AdminOpc.Abort, 'Abort', () => this.core.submitAbort(this.desc, sqid, cid));
    return (dw0 & ABORT_NOT_ABORTED) === 0;
  }

  /** Asynchronous Event Request (5.2): resolves with dword 0 when the controller reports an event (no timeout). */
  asyncEventRequest(): Promise<number> {
    return this.queue.run(AdminOpc.AsyncEventRequest, 'Asynchronous Event Request', () =>
      this.core.submitAsyncEventRequest(this.desc), undefined, { timeoutMs: 0, background: true });
  }

  /**
   * Create I/O Completion Queue (5.3), then the Submission Queue bound to it
   * (5.4); the CQ is deleted again if the SQ fails. `vector` >= 0: the CQ
   * interrupts on it (IEN = 1, IV), for a queue pair that sleeps on it
   * (host/interrupts.ts). `check`, if given, runs as each of these commands
   * is posted (under the group lock) and may throw to refuse it: a
   * controller reset made them pointless (it deletes every queue), and a
   * command of the old attempt must not reach the controller after it.
   */
  async createIoQueues(qid: number, depth: number, cq: number, sq: number, vector = -1, check?: () => void): Promise<void> {
    const c = check;
    const post = (submit: () => number) => (c ? () => (c(), submit()) : submit);
    await this.queue.run(AdminOpc.CreateIoCq, `Create I/O CQ ${qid}`, post(() => this.core.submitCreateIoCq(this.desc, qid, depth, cq, vector >= 0 ? 1 : 0, Math.max(vector, 0))));
    try {
      await this.queue.run(AdminOpc.CreateIoSq, `Create I/O SQ ${qid}`, post(() => this.core.submitCreateIoSq(this.desc, qid, depth, sq, qid, 0)));
    } catch (e) {
      await this.queue.run(AdminOpc.DeleteIoCq, `Delete I/O CQ ${qid}`, post(() => this.core.submitDeleteIoCq(this.desc, qid))).catch(() => {});
      throw e;
    }
  }

  /**
   * Delete I/O Submission Queue (5.6), then Completion Queue (5.5): the SQ
   * must go first, its CQ may still receive its aborted commands'
   * completions (`afterSq` reaps them). `bestEffort`: errors are ignored
   * (cleaning up after a dead member, undoing a queue a reset deleted).
   * `check`: as for createIoQueues.
   */
  async deleteIoQueues(qid: number, opts: { afterSq?: () => void; bestEffort?: boolean; check?: () => void } = {}): Promise<void> {
    const quiet = <T>(p: Promise<T>): Promise<T | undefined> => (opts.bestEffort ? p.catch(() => undefined) : p);
    const c = opts.check;
    const post = (submit: () => number) => (c ? () => (c(), submit()) : submit);
    await quiet(this.queue.run(AdminOpc.DeleteIoSq, `Delete I/O SQ ${qid}`, post(() => this.core.submitDeleteIoSq(this.desc, qid))));
    opts.afterSq?.();
    await quiet(this.queue.run(AdminOpc.DeleteIoCq, `Delete I/O CQ ${qid}`, post(() => this.core.submitDeleteIoCq(this.desc, qid))));
  }

  /**
   * Doorbell Buffer Config (5.10): PRP1 the shadow doorbell page at region
   * offset `pages`, PRP2 the EventIdx page after it.
   */
  doorbellBufferConfig(pages: number): Promise<number> {
    return this.queue.run(AdminOpc.DoorbellBufferConfig, 'Doorbell Buffer Config', () =>
      this.core.submitRaw(this.desc, AdminOpc.DoorbellBufferConfig, 0, pages, 2 * PAGE_SIZE, 0, 0, 0, 0, 0, 0));
  }

  /** An admin command with the given fields (nvme-cli's admin-passthru). */
  async passthrough(cmd: PassthroughCommand): Promise<{ dw0: number; data?: Uint8Array }> {
    const dw0 = await passthrough(this.queue, this.core, (n) => this.allocDma(n), cmd, 'admin');
    return cmd.data && cmd.data.length > 0 ? { dw0, data: cmd.data } : { dw0 };
  }
}
