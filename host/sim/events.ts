// Asynchronous events (NVMe 1.4 5.2): the outstanding Asynchronous Event
// Requests and the events not yet reported, paired oldest first.
import { AEN_QUEUE_MAX } from './ctl-protocol.js';
import type { Completions } from './completions.js';
import { ReqState, type Request } from './queues.js';

/** Outstanding AERs and queued events of one controller. */
export class AsyncEvents {
  /** Asynchronous Event Requests waiting for an event, oldest first. */
  readonly aers: Request[] = [];
  private readonly queued: number[] = [];

  constructor(private readonly completions: Completions) {}

  /** An event (completion DW0): complete an outstanding AER, or queue it. */
  push(dw0: number): void {
    if (this.queued.length >= AEN_QUEUE_MAX) return; // like QEMU: a full event queue drops
    this.queued.push(dw0);
    this.deliver();
  }

  /** Pair queued events with outstanding AERs, oldest first. */
  deliver(): void {
    while (this.queued.length > 0 && this.aers.length > 0) {
      const req = this.aers.shift()!;
      req.dw0 = this.queued.shift()!;
      req.status = 0;
      req.state = ReqState.Active;
      this.completions.post(req);
    }
  }

  /** Drop every AER and queued event (reset, shutdown). */
  clear(): void {
    this.aers.length = 0;
    this.queued.length = 0;
  }
}
