// A poll group: connections whose device queue pairs one poller reaps. The
// target has no threading model; the application calls poll() (from a loop,
// a timer or a worker of its own), or start() for the default: poll in
// setImmediate turns while completions keep coming, and for at most
// `spinUs` (1 ms) after the last one; then, while commands are still on the
// device, every millisecond (a timer), so a slow device does not cost a
// CPU spinning; not at all while nothing is on the device. The spin reads
// the clock once per CLOCK_EVERY empty polls, not per poll: in a QEMU guest
// the clock is the HPET and a read costs about 5 us (docs/vm-tests.md).
import type { TcpConnection } from './connection.js';

/** Empty polls between two clock reads while spinning. */
const CLOCK_EVERY = 8;

export class PollGroup {
  readonly connections = new Set<TcpConnection>();
  private running = false;
  private scheduled = false;
  /** Empty polls since the last completion or new work. */
  private idlePolls = 0;
  /** The clock at the first reading of this idle stretch; -1: not read yet. */
  private idleSince = -1;
  /** Spun out: polling on the millisecond timer. */
  private lazy = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Microseconds to keep polling without a timer after the last completion. Default 1000 (NVME_WASM_NVMF_SPIN_US); bench:nvmf under TCG: QD1 341 IOPS at 1000, 216 at 200. */
  spinUs = Number(process.env.NVME_WASM_NVMF_SPIN_US ?? 1000);
  /** poll() calls so far, and the completions they reaped. */
  polls = 0;
  completions = 0;
  /** Clock reads the poller made (a figure for tests and benchmarks). */
  clockReads = 0;

  /** `clock`: milliseconds, performance.now() (a test may give its own). */
  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Hand a connection (from NvmfTarget.accept) to this group. */
  add(c: TcpConnection): void {
    this.connections.add(c);
    c.onDeviceWork = this.work;
    const prev = c.onClosed;
    c.onClosed = (x) => {
      this.connections.delete(x);
      prev?.(x);
    };
  }

  /** Reap the device completions of every connection; returns how many. */
  poll(): number {
    this.polls++;
    let n = 0;
    for (const c of this.connections) {
      const qp = c.deviceQp;
      if (qp && c.deviceOutstanding > 0) n += qp.processCompletions();
    }
    this.completions += n;
    return n;
  }

  /** Commands of the group's connections on the device now. */
  get outstanding(): number {
    let n = 0;
    for (const c of this.connections) n += c.deviceOutstanding;
    return n;
  }

  /** Poll by itself while commands are on the device. */
  start(): void {
    this.running = true;
    this.work();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.scheduled = false;
  }

  private readonly work = (): void => {
    if (!this.running) return;
    if (this.scheduled) {
      if (!this.lazy) return; // spinning already
      clearTimeout(this.timer); // new work while on the timer: spin for it now
    }
    this.scheduled = true;
    this.idle(); // new work: spin for it first
    setImmediate(this.tick);
  };

  private idle(): void {
    this.idlePolls = 0;
    this.idleSince = -1;
    this.lazy = false;
  }

  /** Has the spin after the last completion lasted spinUs? Reads the clock every CLOCK_EVERY calls. */
  private spunOut(): boolean {
    if (++this.idlePolls % CLOCK_EVERY !== 0) return false;
    const now = this.clock();
    this.clockReads++;
    if (this.idleSince < 0) this.idleSince = now;
    return (now - this.idleSince) * 1000 >= this.spinUs;
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    if (!this.running) return;
    const reaped = this.poll() > 0;
    if (reaped) this.idle();
    if (this.outstanding === 0) return;
    this.scheduled = true;
    if (!this.lazy && (reaped || !this.spunOut())) setImmediate(this.tick);
    else {
      this.lazy = true; // until the next completion or new work
      this.timer = setTimeout(this.tick, 1);
    }
  };
}
