// A poll group: connections whose device queue pairs one poller reaps. The
// target has no threading model; the application calls poll() (from a loop,
// a timer or a worker of its own), or start() for the default: poll in
// setImmediate turns while any command is on the device, and not at all
// while none is.
import type { TcpConnection } from './connection.js';

export class PollGroup {
  readonly connections = new Set<TcpConnection>();
  private running = false;
  private scheduled = false;
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
    setImmediate(this.tick);
  };

  private readonly tick = (): void => {
    this.scheduled = false;
    if (!this.running) return;
    this.poll();
    if (this.outstanding > 0) this.work();
  };
}
