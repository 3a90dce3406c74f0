// The controller's registers over a fabric (NVMe-oF 3.4, 3.5): properties
// read and written by Property Get / Set on the admin connection. The
// Controller and init-sequence.ts read CAP, VS, CC, CSTS and write CC
// through an Mmio, as on PCIe; this one serves reads from a cache and turns
// writes into Property Set commands:
//   - CAP, VS: read once per association (CAP.DSTRD reported 0: doorbells
//     are not on the wire);
//   - CC: a write sends Property Set, then Property Get CSTS every
//     millisecond until CSTS shows what the write asked for (RDY following
//     EN, SHST complete after SHN) or CAP.TO passes; the waits in
//     init-sequence.ts see the cache change;
//   - AQA/ASQ/ACQ and doorbells: kept locally (the admin queue is the
//     connection);
//   - CSTS reads all ones once the controller is lost for good (ctrl-loss
//     timeout), which the Controller's watchdog reports as removal.
import { Mmio } from '../../hal/index.js';
import { REG_CAP, REG_CAP_HI, REG_VS, REG_CC, REG_CSTS, REG_ALL_ONES, CAP_DSTRD_SHIFT, CAP_DSTRD_MASK, CC_EN_SHIFT, CC_EN_MASK, CC_SHN_SHIFT, CC_SHN_MASK, CSTS_RDY_SHIFT, CSTS_RDY_MASK, CSTS_SHST_SHIFT, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, regField } from '../../assembly/nvme/regs.js';

const SIZE = 0x1000;

/** What the registers need of the association. */
export interface PropertyPort {
  /** Property Set (4 bytes). */
  setProperty(ofst: number, value: number): Promise<void>;
  /** Property Get (4 bytes). */
  getProperty(ofst: number): Promise<number>;
  /** CC was written (EN or SHN changed): the association acts on it before the Property Set. */
  ccWritten(cc: number, old: number): Promise<void>;
}

export class FabricRegisters extends Mmio {
  private readonly r = new Uint32Array(SIZE / 4);
  private chain: Promise<void> = Promise.resolve();
  /** Set when the controller is lost for good: every read of CSTS is all ones. */
  gone = false;

  constructor(private readonly port: PropertyPort, private readonly readyTimeoutMs: () => number) {
    super(new ArrayBuffer(SIZE), 0, SIZE);
  }

  /** The values read at Connect (CAP as 64 bits). */
  load(cap: bigint, vs: number, cc: number, csts: number): void {
    const lo = Number(cap & 0xffffffffn);
    const hi = Number(cap >> 32n) & ~(CAP_DSTRD_MASK << CAP_DSTRD_SHIFT);
    this.r[REG_CAP / 4] = lo;
    this.r[REG_CAP_HI / 4] = hi;
    this.r[REG_VS / 4] = vs;
    this.r[REG_CC / 4] = cc;
    this.r[REG_CSTS / 4] = csts;
  }

  /** CSTS as last read (a cache: Property Get only follows CC writes). */
  set csts(v: number) {
    this.r[REG_CSTS / 4] = v;
  }

  override read32(off: number): number {
    if (off === REG_CSTS && this.gone) return REG_ALL_ONES;
    return this.r[off >>> 2]!;
  }

  override write32(off: number, value: number): void {
    const old = this.r[off >>> 2]!;
    this.r[off >>> 2] = value >>> 0;
    if (off !== REG_CC) return;
    // In order: a CC write waits for the one before it.
    this.chain = this.chain.then(() => this.applyCc(value >>> 0, old)).catch(() => {});
  }

  /** Send a CC write and follow CSTS until it reflects it. */
  private async applyCc(cc: number, old: number): Promise<void> {
    await this.port.ccWritten(cc, old);
    await this.port.setProperty(REG_CC, cc);
    const en = regField(cc, CC_EN_SHIFT, CC_EN_MASK);
    const shn = regField(cc, CC_SHN_SHIFT, CC_SHN_MASK);
    const end = performance.now() + this.readyTimeoutMs();
    for (;;) {
      const csts = await this.port.getProperty(REG_CSTS);
      this.r[REG_CSTS / 4] = csts;
      const rdy = regField(csts, CSTS_RDY_SHIFT, CSTS_RDY_MASK);
      if (shn !== 0 ? regField(csts, CSTS_SHST_SHIFT, CSTS_SHST_MASK) === CSTS_SHST_COMPLETE : rdy === en) return;
      if (performance.now() > end) return; // the waiter reports the timeout
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Resolves once every CC write so far was sent and followed. */
  settled(): Promise<void> {
    return this.chain;
  }
}
