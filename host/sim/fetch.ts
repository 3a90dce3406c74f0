// Arbitration (NVMe 1.4 4.11: round robin, ARB_BURST commands per turn) and
// command fetch: take the command at an SQ's head, apply the fault rule that
// matches it, run its handler (admin.ts or nvm.ts), then post, hold (latency
// model, Delay fault) or drop its completion. Allocates nothing per command.
import { SQE_SIZE, SQE_FLAGS, SQE_CID, FLAGS_FUSE_MASK, FLAGS_PSDT_MASK, FLAGS_PSDT_SHIFT } from '../../assembly/nvme/cmd.js';
import { statusField } from '../../assembly/nvme/status.js';
import { Malformation, CTL_FAULT_SEQ, FaultKind } from './ctl.js';
import type { SimContext } from './context.js';
import { FaultTable } from './faults.js';
import { SIM_ARB_BURST_LOG2 } from './identify-data.js';
import { ReqState, type SubmissionQueue } from './queues.js';
import { adminCommand } from './admin.js';
import { nvmCommand } from './nvm.js';
import { SF_INVALID_FIELD, NO_COMPLETION } from './status-codes.js';

const ARB_BURST = 1 << SIM_ARB_BURST_LOG2;
const FLAGS_REJECTED = FLAGS_FUSE_MASK | (FLAGS_PSDT_MASK << FLAGS_PSDT_SHIFT);
// CDW0 fields as bit positions of their dword (cmd.ts gives byte offsets).
const BITS_PER_BYTE = 8;
const SQE_FLAGS_SHIFT = SQE_FLAGS * BITS_PER_BYTE; // FUSE / PSDT byte
const SQE_CID_SHIFT = SQE_CID * BITS_PER_BYTE;
const SQE_OPC_MASK = 0xff; // a byte

enum Latency {
  None,
  Fixed,
  Random,
}

/** Fetches and executes the commands of one controller's SQs. */
export class CommandFetcher {
  readonly faults: FaultTable;
  private lastFaultSeq = 0;
  private readonly latency: Latency;

  constructor(
    private readonly c: SimContext,
    /** The ctl page (fault rules). */
    private readonly ctl: Uint32Array,
  ) {
    this.faults = new FaultTable(ctl);
    const mode = c.cfg.latency.mode;
    this.latency = mode === 'fixed' ? Latency.Fixed : mode === 'random' ? Latency.Random : Latency.None;
  }

  /** Re-read the fault rules if a client changed them (CTL_FAULT_SEQ). */
  checkFaults(): void {
    if (Atomics.load(this.ctl, CTL_FAULT_SEQ >>> 2) !== this.lastFaultSeq) this.reloadFaults();
  }

  private reloadFaults(): void {
    this.lastFaultSeq = Atomics.load(this.ctl, CTL_FAULT_SEQ >>> 2);
    this.faults.reload();
  }

  /** One turn of `sq`: up to ARB_BURST commands; returns how many were fetched. */
  service(sq: SubmissionQueue): number {
    if (sq.deleted) return 0;
    const db = Atomics.load(this.c.queues.bar, sq.doorbell);
    if (db !== sq.lastDoorbell) {
      sq.lastDoorbell = db;
      if (db < sq.size) sq.tail = db; // 4.1: an out-of-range tail is ignored
    }
    let n = 0;
    while (sq.head !== sq.tail && sq.freeCount > 0 && n < ARB_BURST) {
      this.fetch(sq);
      n++;
    }
    return n;
  }

  /** Fetch the command at the SQ head, execute it, complete or hold it. */
  private fetch(sq: SubmissionQueue): void {
    const c = this.c;
    const req = sq.free[--sq.freeCount]!;
    const e = (sq.offset + sq.head * SQE_SIZE) >>> 2;
    sq.head = sq.head + 1 === sq.size ? 0 : sq.head + 1;
    const u = c.win.u32;
    const dw0 = u[e]!;
    req.opcode = dw0 & SQE_OPC_MASK;
    req.cid = dw0 >>> SQE_CID_SHIFT;
    req.nsid = u[e + 1]!;
    req.lba = 0;
    req.dw0 = 0;
    req.malform = 0;
    req.state = ReqState.Active;

    // A rule injected before the host rang this doorbell applies to this command.
    this.checkFaults();
    const rule = this.faults.active ? this.faults.match(sq.sqid, req.opcode, req.nsid) : undefined;
    if (rule !== undefined && rule.kind === FaultKind.Status) {
      req.status = rule.status; // not executed
      c.completions.post(req);
      return;
    }
    let status: number;
    if (((dw0 >>> SQE_FLAGS_SHIFT) & FLAGS_REJECTED) !== 0) {
      status = SF_INVALID_FIELD; // fused commands and SGLs are not supported
    } else {
      status = sq.sqid === 0 ? adminCommand(c, req, e) : nvmCommand(c, req, e);
    }
    if (status === NO_COMPLETION) return; // an AER, completed by an event
    req.status = status;
    if (rule !== undefined) {
      if (rule.kind === FaultKind.DropCompletion) {
        req.state = ReqState.Dropped;
        return;
      }
      if (rule.kind === FaultKind.Delay) {
        c.completions.hold(req, performance.now() + rule.param / 1000);
        return;
      }
      if (rule.kind === FaultKind.Malformed) {
        req.malform = rule.param;
        if (rule.param === Malformation.ReservedStatus) req.status = statusField(4, 0xaa, false);
      }
    }
    if (this.latency !== Latency.None && sq.sqid !== 0) {
      c.completions.hold(req, performance.now() + this.latencyMs());
      return;
    }
    c.completions.post(req);
  }

  private latencyMs(): number {
    const l = this.c.cfg.latency;
    if (this.latency === Latency.Fixed) return l.us / 1000;
    return (l.minUs + Math.random() * (l.maxUs - l.minUs)) / 1000;
  }
}
