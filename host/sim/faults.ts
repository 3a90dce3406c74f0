// Per-command fault rules from the ctl page (ctl.ts CTL_FAULTS). The table
// is copied into plain fields when CTL_FAULT_SEQ changes; `active` is false
// when no rule can match, so the I/O path pays one boolean test.
import {
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
} from './ctl.js';

export class FaultRule {
  kind = FaultKind.None;
  qid = FAULT_ANY;
  opcode = FAULT_ANY;
  remaining = 0;
  status = 0;
  param = 0;
  nsid = 0;
}

export class FaultTable {
  readonly rules: FaultRule[] = [];
  active = false;

  constructor(private readonly ctl: Uint32Array) {
    for (let i = 0; i < CTL_FAULT_COUNT; i++) this.rules.push(new FaultRule());
  }

  /** Re-read every rule (after CTL_FAULT_SEQ changed). */
  reload(): void {
    for (let i = 0; i < CTL_FAULT_COUNT; i++) {
      const w = (CTL_FAULTS + i * CTL_FAULT_SIZE) >>> 2;
      const r = this.rules[i]!;
      r.qid = Atomics.load(this.ctl, w + (FAULT_QID >>> 2));
      r.opcode = Atomics.load(this.ctl, w + (FAULT_OPCODE >>> 2));
      r.remaining = Atomics.load(this.ctl, w + (FAULT_REMAINING >>> 2));
      r.status = Atomics.load(this.ctl, w + (FAULT_STATUS >>> 2));
      r.param = Atomics.load(this.ctl, w + (FAULT_PARAM >>> 2));
      r.nsid = Atomics.load(this.ctl, w + (FAULT_NSID >>> 2));
      r.kind = Atomics.load(this.ctl, w + (FAULT_KIND >>> 2));
    }
    this.updateActive();
  }

  /**
   * The first live rule matching a fetched command, its REMAINING count
   * consumed (and written back so the client sees it), or undefined.
   */
  match(qid: number, opcode: number, nsid: number): FaultRule | undefined {
    for (let i = 0; i < CTL_FAULT_COUNT; i++) {
      const r = this.rules[i]!;
      if (r.kind === FaultKind.None || r.remaining === 0) continue;
      if (r.qid !== FAULT_ANY && r.qid !== qid) continue;
      if (r.opcode !== FAULT_ANY && r.opcode !== opcode) continue;
      if (r.nsid !== 0 && r.nsid !== FAULT_ANY && r.nsid !== nsid) continue;
      if (r.remaining !== FAULT_ANY) {
        r.remaining--;
        const w = (CTL_FAULTS + i * CTL_FAULT_SIZE + FAULT_REMAINING) >>> 2;
        Atomics.store(this.ctl, w, r.remaining);
        if (r.remaining === 0) this.updateActive();
      }
      return r;
    }
    return undefined;
  }

  private updateActive(): void {
    this.active = this.rules.some((r) => r.kind !== FaultKind.None && r.remaining !== 0);
  }
}
