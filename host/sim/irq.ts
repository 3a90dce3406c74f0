// The simulator's equivalent of MSI-X (ctl.ts, CTL_IRQ): both ends of an
// interrupt vector. The device side bumps the vector's count after writing
// a completion entry to a CQ created with IEN = 1 and, if the driver armed
// the vector, clears the arming and FUTEX_WAKEs the count word; the driver
// side (an InterruptSource, host/interrupts.ts) arms, makes its last poll,
// and sleeps in the libuv pool on the count word with futexWaitAsync.
//
// No wake-up is lost: the device writes the entry, then bumps the count,
// then reads the arming; the driver arms, then reads the count, then polls
// the CQ, then sleeps only while the count is what it read. Either the
// driver's count read comes after the bump (its poll then sees the entry,
// written before the bump), or the device's arming read comes after the
// arming (it wakes the sleeper, or the count differs when it goes to
// sleep). All four accesses are sequentially consistent atomics.
import { futexWake, futexWaitAsync } from '../../hal/futex.js';
import { CTL_IRQ, CTL_IRQ_STRIDE, CTL_IRQ_VECTORS, IRQ_COUNT, IRQ_ARMED, SIM_IRQ_VECTORS } from './ctl.js';
import type { InterruptSource } from '../interrupts.js';

const countIndex = (v: number): number => (CTL_IRQ + v * CTL_IRQ_STRIDE + IRQ_COUNT) >>> 2;
const armedIndex = (v: number): number => (CTL_IRQ + v * CTL_IRQ_STRIDE + IRQ_ARMED) >>> 2;

/** The device side: signal vector `v` (completions.ts, after each entry of an IEN = 1 CQ). */
export class SimInterrupts {
  /** FUTEX_WAKEs made (a driver was asleep on the vector). */
  wakes = 0;
  constructor(
    private readonly ctl: Uint32Array,
    /** Virtual address of the ctl page in this process (the futex words' addresses). */
    private readonly ctlAddr: bigint,
  ) {
    Atomics.store(ctl, CTL_IRQ_VECTORS >>> 2, SIM_IRQ_VECTORS);
  }

  raise(v: number): void {
    const ctl = this.ctl;
    Atomics.add(ctl, countIndex(v), 1); // after the entry's last dword (completions.ts): see the ordering above
    if (Atomics.load(ctl, armedIndex(v)) !== 0 && Atomics.exchange(ctl, armedIndex(v), 0) !== 0) {
      this.wakes++;
      futexWake(this.ctlAddr + BigInt(countIndex(v) * 4));
    }
  }
}

/** Vectors a simulated controller's ctl page offers (0: a simulator without interrupts). */
export function simIrqVectors(ctl: Uint32Array): number {
  return Atomics.load(ctl, CTL_IRQ_VECTORS >>> 2);
}

/** The driver side of vector `v` of the simulator whose ctl page is `ctl`, mapped at `ctlAddr`. */
export class SimInterruptSource implements InterruptSource {
  private waiting: Promise<boolean> | undefined;
  private closed = false;
  constructor(
    readonly vector: number,
    private readonly ctl: Uint32Array,
    private readonly ctlAddr: bigint,
  ) {}

  arm(): number {
    Atomics.store(this.ctl, armedIndex(this.vector), 1);
    return Atomics.load(this.ctl, countIndex(this.vector));
  }

  wait(token: number, timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    const p = futexWaitAsync(this.ctlAddr + BigInt(countIndex(this.vector) * 4), token, timeoutMs).then((r) => r === 'woken' || Atomics.load(this.ctl, countIndex(this.vector)) !== token);
    this.waiting = p;
    void p.finally(() => {
      if (this.waiting === p) this.waiting = undefined;
    });
    return p;
  }

  /** A bump of our own and a wake: the sleeper returns now (close, reset). */
  cancel(): void {
    if (this.waiting === undefined) return;
    Atomics.add(this.ctl, countIndex(this.vector), 1);
    futexWake(this.ctlAddr + BigInt(countIndex(this.vector) * 4));
  }

  close(): void {
    if (this.closed) return;
    this.cancel();
    this.closed = true;
    Atomics.store(this.ctl, armedIndex(this.vector), 0);
  }
}
