// Per-command fault rules in the ctl page (ctl.ts CTL_FAULTS), both ends:
// a client writes a rule record (writeFaultRule) and bumps CTL_FAULT_SEQ;
// the simulator copies the table into plain fields when CTL_FAULT_SEQ
// changes (FaultTable). `active` is false when no rule can match, so the
// I/O path pays one boolean test.
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
  CTL_FAULT_SEQ,
  FaultKind,
} from './ctl.js';

/** One rule as a client writes it (ctl.ts FAULT_*). */
export interface FaultRecord {
  kind: FaultKind;
  qid: number;
  opcode: number;
  nsid: number;
  remaining: number;
  status: number;
  param: number;
}

/** Dword index of field `field` (a FAULT_* byte offset) of rule `i`. */
function fieldIndex(i: number, field: number): number {
  return (CTL_FAULTS + i * CTL_FAULT_SIZE + field) >>> 2;
}

/** Rule `i` can be written: it is empty or spent. */
export function faultRuleFree(ctl: Uint32Array, i: number): boolean {
  return Atomics.load(ctl, fieldIndex(i, FAULT_KIND)) === FaultKind.None || Atomics.load(ctl, fieldIndex(i, FAULT_REMAINING)) === 0;
}

/** Write rule `i` (its kind last, so it is not live half written) and bump CTL_FAULT_SEQ. */
export function writeFaultRule(ctl: Uint32Array, i: number, r: FaultRecord): void {
  Atomics.store(ctl, fieldIndex(i, FAULT_KIND), FaultKind.None);
  Atomics.store(ctl, fieldIndex(i, FAULT_QID), r.qid >>> 0);
  Atomics.store(ctl, fieldIndex(i, FAULT_OPCODE), r.opcode >>> 0);
  Atomics.store(ctl, fieldIndex(i, FAULT_NSID), r.nsid >>> 0);
  Atomics.store(ctl, fieldIndex(i, FAULT_REMAINING), r.remaining >>> 0);
  Atomics.store(ctl, fieldIndex(i, FAULT_STATUS), r.status >>> 0);
  Atomics.store(ctl, fieldIndex(i, FAULT_PARAM), r.param >>> 0);
  Atomics.store(ctl, fieldIndex(i, FAULT_KIND), r.kind);
  Atomics.add(ctl, CTL_FAULT_SEQ >>> 2, 1);
}

/** Remove every rule and bump CTL_FAULT_SEQ. */
export function clearFaultRules(ctl: Uint32Array): void {
  for (let i = 0; i < CTL_FAULT_COUNT; i++) Atomics.store(ctl, fieldIndex(i, FAULT_KIND), FaultKind.None);
  Atomics.add(ctl, CTL_FAULT_SEQ >>> 2, 1);
}

/** A rule as the simulator holds it. */
export class FaultRule {
  kind = FaultKind.None;
  qid = FAULT_ANY;
  opcode = FAULT_ANY;
  remaining = 0;
  status = 0;
  param = 0;
  nsid = 0;
}

/** The simulator's copy of the rules, matched against every fetched command. */
export class FaultTable {
  readonly rules: FaultRule[] = [];
  active = false;

  constructor(private readonly ctl: Uint32Array) {
    for (let i = 0; i < CTL_FAULT_COUNT; i++) this.rules.push(new FaultRule());
  }

  /** Re-read every rule (after CTL_FAULT_SEQ changed). */
  reload(): void {
    const ctl = this.ctl;
    for (let i = 0; i < CTL_FAULT_COUNT; i++) {
      const r = this.rules[i]!;
      r.qid = Atomics.load(ctl, fieldIndex(i, FAULT_QID));
      r.opcode = Atomics.load(ctl, fieldIndex(i, FAULT_OPCODE));
      r.remaining = Atomics.load(ctl, fieldIndex(i, FAULT_REMAINING));
      r.status = Atomics.load(ctl, fieldIndex(i, FAULT_STATUS));
      r.param = Atomics.load(ctl, fieldIndex(i, FAULT_PARAM));
      r.nsid = Atomics.load(ctl, fieldIndex(i, FAULT_NSID));
      r.kind = Atomics.load(ctl, fieldIndex(i, FAULT_KIND));
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
        Atomics.store(this.ctl, fieldIndex(i, FAULT_REMAINING), r.remaining);
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
