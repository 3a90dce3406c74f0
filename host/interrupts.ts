// Completions by interrupt instead of spinning (the Promise path's
// `completionMode`): what a queue pair's poller sleeps on when no
// completion came, and where the sources come from. The host decides the
// vectors (vector = qid: QIDs are unique in a group, 0 is the admin
// queue's) and creates the CQ with IEN = 1 and that IV (queue-pairs.ts);
// the HAL only gives eventfds, the VFIO ioctl and asynchronous waits.
//
// Sources: VFIO MSI-X vectors signalling eventfds (VFIO_DEVICE_SET_IRQS,
// like SPDK's interrupt mode and DPDK's vfio_enable_msix), the simulator's
// futex words (host/sim/irq.ts). uio_pci_generic offers INTx only and
// NVMe/TCP is event-driven already: neither has one.
import { VFIO_PCI_MSIX_IRQ_INDEX, eventfdCreate, eventfdDrain, eventfdSignal, pollReadableAsync, closeFd, type VfioDevice } from '../hal/index.js';
import { InvalidArgumentError } from './errors.js';

/**
 * How a queue pair's Promise path learns of completions:
 * - 'poll': spin while commands are pending (lowest latency, one core busy);
 * - 'interrupt': after a poll that found nothing, arm the interrupt, poll
 *   once more and sleep until it fires;
 * - 'adaptive': spin for `spinUs` after the last completion (or the
 *   submission), then as 'interrupt' (Linux's hybrid polling, SPDK's
 *   switch between poll and interrupt mode): a busy queue never sleeps.
 * The callback path (processCompletions in the caller's loop) is always polled.
 */
export type CompletionMode = 'poll' | 'interrupt' | 'adaptive';

const COMPLETION_MODES: readonly unknown[] = ['poll', 'interrupt', 'adaptive'];

/** `v` if it is a CompletionMode, else an InvalidArgumentError naming option `name`. */
export function checkCompletionMode(name: string, v: unknown): CompletionMode {
  if (!COMPLETION_MODES.includes(v)) throw new InvalidArgumentError(name, "'poll', 'interrupt' or 'adaptive'", v);
  return v as CompletionMode;
}

/** Default longest sleep on an interrupt: deadlines and liveness are looked at this often (a lost interrupt would cost this). */
export const INTERRUPT_TIMEOUT_MS = 20;

/** Default spin of 'adaptive' mode, in microseconds: longer than a fast device's read, far shorter than a think time. */
export const ADAPTIVE_SPIN_US = 50;

/** One interrupt vector as a queue pair's poller uses it. */
export interface InterruptSource {
  readonly vector: number;
  /**
   * A descriptor readable once the vector fired after arm() (its eventfd),
   * for a poller that waits on several at once (a ReadableSet); undefined
   * when the source has none (the simulator's futex words).
   */
  readonly fd?: number;
  /** Before the last poll: from now on a completion wakes wait(token). Returns the token. */
  arm(): number;
  /** Sleep (off the event loop) until the vector fires after arm(), cancel() or `timeoutMs`; true unless it timed out. */
  wait(token: number, timeoutMs: number): Promise<boolean>;
  /** End a wait now (reset, close). */
  cancel(): void;
  /** Release the vector (a wait still pending is cancelled; its resources go when it returned). */
  close(): void;
}

/** A transport's interrupt vectors. */
export interface InterruptProvider {
  /** Why this process cannot have interrupts here, undefined when it can. */
  readonly unavailable: string | undefined;
  /** Vector `v` (1 .. vectors - 1), or undefined when there is none. */
  open(v: number): InterruptSource | undefined;
  /** Disable the vectors (before the device goes). */
  close(): void;
}

/** What simInterrupts needs of a SimClient (host/sim/client.ts; a shape, so no import circle forms). */
export interface SimInterruptVectors {
  readonly name: string;
  readonly interruptVectors: number;
  interruptSource(v: number): InterruptSource | undefined;
}

/** The simulator's vectors (host/sim/irq.ts). */
export function simInterrupts(client: SimInterruptVectors): InterruptProvider {
  return {
    unavailable: client.interruptVectors > 1 ? undefined : `simulated controller ${client.name} has no interrupt vectors`,
    open: (v) => client.interruptSource(v),
    close() {},
  };
}

/** A process without interrupts on this transport: `why` says so. */
export function noInterrupts(why: string): InterruptProvider {
  return { unavailable: why, open: () => undefined, close() {} };
}

/**
 * VFIO MSI-X (vfio-pci): enabled with every vector the device has, none
 * signalling, at the first open() (vfio-pci allocates the vectors when an
 * index is first enabled and afterwards only changes vectors below that
 * count); each open() then points one vector at an eventfd of its own.
 * Only the process that opened the device does this: VFIO keeps one
 * interrupt configuration per device, shared by every fd of it, and a
 * secondary's enable would race the primary's (secondaries poll).
 */
export function vfioInterrupts(dev: VfioDevice): InterruptProvider {
  if (dev.containerFd < 0) return noInterrupts(`${dev.address}: interrupts belong to the process that opened the VFIO device; this member polls`);
  let count: number;
  try {
    const info = dev.irqInfo(VFIO_PCI_MSIX_IRQ_INDEX);
    count = info.eventfd ? info.count : 0;
  } catch {
    count = 0;
  }
  if (count < 2) return noInterrupts(`${dev.address}: no MSI-X vectors through VFIO`);
  let enabled = false;
  let failed: string | undefined;
  const live = new Set<EventfdSource>();
  return {
    get unavailable() {
      return failed;
    },
    open(v) {
      if (v < 1 || v >= count || failed !== undefined) return undefined;
      if (!enabled) {
        try {
          dev.setIrqEventfds(VFIO_PCI_MSIX_IRQ_INDEX, 0, new Array<number>(count).fill(-1));
        } catch (e) {
          // E.g. the kernel could not allocate the vectors: this process polls ('interrupt' says why).
          failed = `${dev.address}: enabling ${count} MSI-X vectors failed: ${(e as Error).message}`;
          return undefined;
        }
        enabled = true;
      }
      const fd = eventfdCreate();
      try {
        dev.setIrqEventfds(VFIO_PCI_MSIX_IRQ_INDEX, v, [fd]);
      } catch (e) {
        closeFd(fd);
        throw e;
      }
      const s = new EventfdSource(v, fd, () => {
        live.delete(s);
        try {
          dev.setIrqEventfds(VFIO_PCI_MSIX_IRQ_INDEX, v, [-1]);
        } catch {
          /* the device is going */
        }
      });
      live.add(s);
      return s;
    },
    close() {
      for (const s of [...live]) s.close();
      if (enabled) {
        enabled = false;
        try {
          dev.disableIrqs(VFIO_PCI_MSIX_IRQ_INDEX);
        } catch {
          /* closing the device disables them too */
        }
      }
    },
  };
}

/**
 * A vector signalling an eventfd: arm() drains the counter (an interrupt
 * that came before the last poll is one that poll reaps), wait() polls the
 * fd for readability in the libuv pool, cancel() signals it ourselves.
 */
class EventfdSource implements InterruptSource {
  private waiting: Promise<boolean> | undefined;
  private closed = false;
  constructor(readonly vector: number, readonly fd: number, private readonly release: () => void) {}

  arm(): number {
    eventfdDrain(this.fd);
    return 0;
  }

  wait(_token: number, timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    const p = pollReadableAsync(this.fd, timeoutMs);
    this.waiting = p;
    void p.then(() => {
      if (this.waiting !== p) return;
      this.waiting = undefined;
      if (this.closed) closeFd(this.fd); // only now: the pool thread polled it
    }, () => {});
    return p;
  }

  cancel(): void {
    if (this.waiting !== undefined) eventfdSignal(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release(); // the vector signals nothing from here on
    if (this.waiting !== undefined) eventfdSignal(this.fd);
    else closeFd(this.fd);
  }
}
