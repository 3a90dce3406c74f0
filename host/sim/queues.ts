// Submission and completion queues as the controller sees them (4.1), and
// the per-command state it keeps between fetching a command and posting
// its completion. Everything here is allocated when a queue is created,
// never per command.

export enum ReqState {
  Free = 0,
  /** Executing (only between fetch and completion, synchronously). */
  Active = 1,
  /** Completion held until `due` (latency model, Delay fault). */
  Timed = 2,
  /** Completion dropped by a fault: held until aborted or the SQ goes. */
  Dropped = 3,
  /** An Asynchronous Event Request waiting for an event. */
  AsyncEvent = 4,
  /** Completed, waiting for room in its CQ. */
  Queued = 5,
}

/** One command slot of a submission queue (QEMU's NvmeRequest). */
export class Request {
  state = ReqState.Free;
  cid = 0;
  /** Malformation to apply when the completion is written (fault injection). */
  malform = 0;
  opcode = 0;
  nsid = 0;
  /** Starting LBA for the Error Information log (I/O commands). */
  lba = 0;
  /** Status field (cmd.ts SF_*), 0 = success. */
  status = 0;
  /** Completion dword 0. */
  dw0 = 0;
  /** performance.now() time the completion is due (state Timed). */
  due = 0;
  heapIndex = -1;
  /** Next in its CQ's list of completions waiting for room. */
  next: Request | null = null;
  constructor(readonly sq: SubmissionQueue) {}
}

export class CompletionQueue {
  head = 0;
  tail = 0;
  phase = 1;
  /** Last raw value seen in the head doorbell. */
  lastDoorbell = 0;
  /** Window byte offset of entry 0 (recomputed when the DMA window changes). */
  offset = 0;
  sqCount = 0;
  pendingHead: Request | null = null;
  pendingTail: Request | null = null;
  /** Interrupt vector signalled after each entry (Create I/O CQ with IEN = 1), -1: none (polled). */
  iv = -1;
  constructor(
    readonly cqid: number,
    readonly size: number,
    /** IOVA of entry 0. */
    readonly base: number,
    /** Dword index of the head doorbell in BAR0. */
    readonly doorbell: number,
  ) {}
}

export class SubmissionQueue {
  head = 0;
  tail = 0;
  lastDoorbell = 0;
  offset = 0;
  readonly requests: Request[];
  /** Free slots, a stack: free[0 .. freeCount). */
  readonly free: Request[];
  freeCount: number;
  deleted = false;
  constructor(
    readonly sqid: number,
    readonly size: number,
    readonly base: number,
    readonly doorbell: number,
    readonly cq: CompletionQueue,
  ) {
    // As many slots as entries, like QEMU: a command in flight keeps its
    // slot, and with every slot in flight the SQ is not fetched from.
    this.requests = [];
    for (let i = 0; i < size; i++) this.requests.push(new Request(this));
    this.free = this.requests.slice();
    this.freeCount = size;
  }
}

/** Requests held until a time, ordered by `due` (binary min-heap). */
export class TimedHeap {
  private items: Request[] = [];
  size = 0;

  peek(): Request | undefined {
    return this.size > 0 ? this.items[0] : undefined;
  }

  push(r: Request): void {
    if (this.size === this.items.length) this.items.push(r);
    else this.items[this.size] = r;
    r.heapIndex = this.size++;
    this.up(r.heapIndex);
  }

  pop(): Request {
    const top = this.items[0]!;
    this.removeAt(0);
    return top;
  }

  remove(r: Request): void {
    if (r.heapIndex >= 0) this.removeAt(r.heapIndex);
  }

  clear(): void {
    for (let i = 0; i < this.size; i++) this.items[i]!.heapIndex = -1;
    this.size = 0;
  }

  private removeAt(i: number): void {
    const items = this.items;
    const gone = items[i]!;
    gone.heapIndex = -1;
    const last = items[--this.size]!;
    if (i === this.size) return;
    items[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  private up(i: number): void {
    const items = this.items;
    const r = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.due <= r.due) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = r;
    r.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = this.size;
    const r = items[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && items[c + 1]!.due < items[c]!.due) c++;
      const child = items[c]!;
      if (r.due <= child.due) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = r;
    r.heapIndex = i;
  }
}
