// A poll group: connections whose device queue pairs one poller reaps. The
// target has no threading model; the application calls poll() (from a loop,
// a timer or a worker of its own), or start() for the default: poll in
// setImmediate turns while completions keep coming, and for at most
// `spinUs` (1 ms) after the last one; then, while commands are still on the
// device, every millisecond (a timer), so a slow device does not cost a
// CPU spinning; not at all while nothing is on the device.
import type { TcpConnection } from './connection.js';

export class PollGroup {
  readonly connections = new Set<TcpConnection>();
  private running = false;
  private scheduled = false;
  private lastCompletion = 0;
  /** Microseconds to keep polling without a timer after the last completion. Default 1000 (NVME_WASM_NVMF_SPIN_US); bench:nvmf under TCG: QD1 341 IOPS at 1000, 216 at 200. */
  spinUs = Number(process.env.NVME_WASM_NVMF_SPIN_US ?? 1000);
  /** poll() calls so far, and the completions they reaped. */
  polls = 0;
  completions = 0;

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
  }

  private readonly work = (): void => {
    if (!this.running || this.scheduled) return;
    this.scheduled = true;
    this.lastCompletion = performance.now(); // new work: spin for it first
    setImmediate(this.tick);
  };

  private readonly tick = (): void => {
    this.scheduled = false;
    if (!this.running) return;
    const now = performance.now();
    if (this.poll() > 0) this.lastCompletion = now;
    if (this.outstanding === 0) return;
    this.scheduled = true;
    if ((now - this.lastCompletion) * 1000 < this.spinUs) setImmediate(this.tick);
    else setTimeout(this.tick, 1);
  };
}
