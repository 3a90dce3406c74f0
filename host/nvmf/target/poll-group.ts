// A poll group: connections whose device queue pairs one poller reaps. The
// target has no threading model; the application calls poll() (from a loop,
// a timer or a worker of its own), or start() for the default: poll in
// setImmediate turns while completions keep coming, and for a short spin
// after the last one; then, while commands are still on the device, sleep:
//
//   - on the device's interrupt, where the busy connection's device queue
//     pair has one (deviceCompletionMode 'adaptive' or 'interrupt' on VFIO
//     MSI-X or the simulator): spin `sleepSpinUs` (50 us), arm, poll once
//     more (what came before the arming), wait until the vector fires (or
//     20 ms, the bound on a lost interrupt). Several connections busy at
//     once: the first one's interrupt, at most 1 ms, so the others are
//     looked at as often as on the timer;
//   - else on a 1 ms timer, after spinning `spinUs` (1 ms).
//
// Sockets too (pollSockets): an I/O queue whose socket Node read is read by
// the group from then on (recv on each tick; socket-io.ts), and the group
// spins while such a socket is hot even with nothing on the device: a QD1
// host's next command comes a round trip after the last answer. When the
// spin ends (spinUs without a completion or a byte), every socket goes back
// to Node's reading, so a sleep or the timer never leaves one unread.
//
// Waiting in poll(2) (pollWait, off by default): once the spin has found
// nothing in WAIT_AFTER_POLLS polls in a row, the group blocks its thread in one
// poll(2) on its hot sockets and on the interrupt eventfds of the device
// queues with commands outstanding (armed first, then one more poll), for
// what is left of spinUs, and polls again as soon as one is readable. The
// CPU idles instead of spinning and the kernel wakes the thread, with no
// event loop or thread pool in between; Node's other work waits at most
// that long. It blocks only when everything it waits for can wake it: a
// busy device queue without an eventfd (polled, or the simulator) keeps
// the plain spin. Why: in a QEMU guest a spinning vCPU takes host CPU from
// the other vCPU and from the device's emulation.
//
// Not at all while nothing is on the device and no socket is hot. New work while asleep ends the
// sleep (cancel) and spins for it. Why sleep: in a QEMU guest a target
// spinning for its device's completions held one of the two vCPUs, which
// the device's emulation and the hosts' side needed (bench:nvmf QD1 mean
// latency 14 times nvmet-tcp's, 2026-12-02, docs/nvmf-target.md). The spin
// reads the clock once per CLOCK_EVERY empty polls, not per poll: in a QEMU
// guest the clock is the HPET and a read costs about 5 us (docs/vm-tests.md).
import type { TcpConnection } from './connection.js';
import { TargetSocket } from './socket-io.js';
import { ReadableSet, yieldCpu } from '../../../hal/index.js';
import { INTERRUPT_TIMEOUT_MS, ADAPTIVE_SPIN_US, type InterruptSource } from '../../interrupts.js';

/** Empty polls between two clock reads while spinning. */
const CLOCK_EVERY = 8;
/**
 * pollWait: empty polls in a row before the group waits in poll(2). Counted,
 * not timed: under TCG a poll takes tens of microseconds and the clock is
 * read only every CLOCK_EVERY polls, so a timed threshold came after the
 * spin's whole budget (bench:nvmf 2026-12-02: no waits at QD1).
 */
const WAIT_AFTER_POLLS = 2;
/** The timer's period, and the longest sleep while several connections have device work. */
const LAZY_POLL_MS = 1;

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
  /** Microseconds to keep polling after the last completion before the 1 ms timer. Default 1000 (NVME_WASM_NVMF_SPIN_US); bench:nvmf under TCG: QD1 341 IOPS at 1000, 216 at 200. */
  spinUs = Number(process.env.NVME_WASM_NVMF_SPIN_US ?? 1000);
  /** Microseconds to keep polling after the last completion before sleeping on an interrupt. Default ADAPTIVE_SPIN_US, 50 (NVME_WASM_NVMF_SLEEP_SPIN_US). */
  sleepSpinUs = Number(process.env.NVME_WASM_NVMF_SLEEP_SPIN_US ?? ADAPTIVE_SPIN_US);
  /** poll() calls so far, and the completions they reaped. */
  polls = 0;
  completions = 0;
  /** Sleeps on a device interrupt so far, and those an interrupt ended (not the time bound, not new work). */
  sleeps = 0;
  wakeups = 0;
  /** The interrupt the group sleeps on now. */
  private asleep: InterruptSource | undefined;
  /** Clock reads the poller made (a figure for tests and benchmarks). */
  clockReads = 0;
  /** Read the sockets of I/O queues while spinning (NvmfTargetOptions.pollSockets). */
  pollSockets = false;
  /** Socket reads that brought bytes so far. */
  socketReads = 0;
  /** Connections whose sockets the group reads now. */
  private readonly hot = new Set<TcpConnection>();
  /** Wait in poll(2) instead of spinning after sleepSpinUs (NvmfTargetOptions.pollWait). */
  pollWait = false;
  /** poll(2) waits so far, and those something ended before their time. */
  blockedWaits = 0;
  blockedWakeups = 0;
  /** Microseconds of the current idle stretch at the last clock read. */
  private idleUs = 0;
  private readonly waitSet = new ReadableSet(64);

  /** `clock`: milliseconds, performance.now() (a test may give its own). */
  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Hand a connection (from NvmfTarget.accept) to this group. */
  add(c: TcpConnection): void {
    this.connections.add(c);
    c.onDeviceWork = this.work;
    c.onSocketData = this.socketData;
    const prev = c.onClosed;
    c.onClosed = (x) => {
      this.connections.delete(x);
      this.hot.delete(x);
      prev?.(x);
    };
  }

  /**
   * Reap the device completions of every connection, and read the hot
   * sockets once each; returns how many completions and reads with bytes.
   */
  poll(): number {
    this.polls++;
    let n = 0;
    // The answers of the completions go out together, one sendmsg per socket, before the reads.
    TargetSocket.beginBatch();
    try {
      for (const c of this.connections) {
        const qp = c.deviceQp;
        if (qp && c.deviceOutstanding > 0) n += qp.processCompletions();
      }
    } finally {
      TargetSocket.endBatch();
    }
    this.completions += n;
    if (this.hot.size > 0) {
      const buf = TargetSocket.recvBuffer;
      TargetSocket.beginBatch();
      try {
        for (const c of this.hot) {
          if (c.isClosed || !c.io.hot) this.hot.delete(c);
          else if (c.io.pollIn(buf) > 0) {
            n++;
            this.socketReads++;
          }
        }
      } finally {
        TargetSocket.endBatch();
      }
    }
    return n;
  }

  /** Sockets the group reads now. */
  get hotSockets(): number {
    return this.hot.size;
  }

  /** Node read bytes of `c`'s I/O queue: the group reads its socket from now on, while it spins. */
  private readonly socketData = (c: TcpConnection): void => {
    if (!this.running || !this.pollSockets || c.isClosed) return;
    c.io.goHot();
    if (!c.io.hot) return;
    this.hot.add(c);
    this.work();
  };

  /** Every socket back to Node's reading (the spin is over). */
  private cool(): void {
    for (const c of this.hot) c.io.goCold();
    this.hot.clear();
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
    this.cool();
    clearTimeout(this.timer);
    this.wakeUp();
    this.scheduled = false;
  }

  private readonly work = (): void => {
    if (!this.running) return;
    if (this.scheduled) {
      if (!this.lazy) return; // spinning already
      clearTimeout(this.timer); // new work while on the timer or asleep: spin for it now
      this.wakeUp();
    }
    this.scheduled = true;
    this.idle(); // new work: spin for it first
    setImmediate(this.tick);
  };

  private idle(): void {
    this.idlePolls = 0;
    this.idleSince = -1;
    this.idleUs = 0;
    this.lazy = false;
  }

  /**
   * Has the spin after the last completion lasted its budget (sleepSpinUs
   * where the group can sleep on an interrupt, else spinUs)? Reads the clock,
   * and looks at the connections, every CLOCK_EVERY calls only.
   */
  private spunOut(): boolean {
    if (this.idleUs >= this.spinUs) return true; // a wait in poll(2) read the clock last
    if (++this.idlePolls % CLOCK_EVERY !== 0) return false;
    this.readIdle();
    // An interrupt to sleep on: sleep after sleepSpinUs, unless the group waits in poll(2) on its eventfds until spinUs.
    const sleepable = this.sleepTarget() !== undefined && !(this.pollWait && this.busyHaveFds);
    return this.idleUs >= (sleepable ? this.sleepSpinUs : this.spinUs);
  }

  private readIdle(): void {
    const now = this.clock();
    this.clockReads++;
    if (this.idleSince < 0) this.idleSince = now;
    this.idleUs = (now - this.idleSince) * 1000;
  }

  /**
   * pollWait: block in poll(2) on the hot sockets and the busy device
   * queues' interrupt eventfds, for what is left of spinUs; poll at once
   * when one is readable. Not when a busy device queue has no eventfd (its
   * completion could not end the wait).
   */
  private waitReadable(): void {
    const set = this.waitSet;
    set.clear();
    for (const c of this.hot) if (c.io.hot && c.io.fd >= 0 && !set.add(c.io.fd)) return;
    for (const c of this.connections) {
      if (c.deviceOutstanding === 0 || !c.deviceQp) continue;
      const irq = c.deviceQp.interrupt;
      if (irq?.fd === undefined) return;
      irq.arm(); // a completion from here on makes the eventfd readable
      if (!set.add(irq.fd)) return;
    }
    if (set.count === 0) return;
    if (this.poll() > 0) return this.idle(); // what came before the arming
    this.readIdle();
    const left = this.spinUs - this.idleUs;
    if (left <= 0) return;
    this.blockedWaits++;
    if (set.wait(left / 1000) > 0) {
      this.blockedWakeups++;
      if (this.poll() > 0) return this.idle();
    }
    this.readIdle();
  }

  /** Set by sleepTarget(): more than one connection has commands on the device; every busy one's interrupt has an fd. */
  private severalBusy = false;
  private busyHaveFds = false;

  /** The interrupt to sleep on (the first busy connection's; severalBusy says if others are busy too); undefined: a busy queue has none. */
  private sleepTarget(): InterruptSource | undefined {
    let src: InterruptSource | undefined;
    let busy = 0;
    let fds = true;
    this.busyHaveFds = false;
    for (const c of this.connections) {
      if (c.deviceOutstanding === 0 || !c.deviceQp) continue;
      const irq = c.deviceQp.interrupt;
      if (irq === undefined) return undefined;
      src ??= irq;
      busy++;
      if (irq.fd === undefined) fds = false;
    }
    this.severalBusy = busy > 1;
    this.busyHaveFds = fds;
    return src;
  }

  /** End a sleep now; its wait's end is then ignored. */
  private wakeUp(): void {
    const s = this.asleep;
    if (s === undefined) return;
    this.asleep = undefined;
    s.cancel();
  }

  /**
   * Spun out: arm the interrupt, poll once more (a completion that came
   * before the arming raised the vector before it was armed), then sleep
   * until it fires. False: no interrupt to sleep on (the caller sets the timer).
   */
  private sleepOnInterrupt(): boolean {
    const src = this.sleepTarget();
    if (src === undefined) return false;
    const token = src.arm();
    if (this.poll() > 0) {
      this.idle();
      setImmediate(this.tick);
      return true;
    }
    if (this.outstanding === 0) {
      this.scheduled = false;
      return true;
    }
    this.asleep = src;
    this.sleeps++;
    const done = (woken: boolean) => {
      if (this.asleep !== src) return; // woken by new work or stop(): that path scheduled what follows
      this.asleep = undefined;
      if (woken) {
        this.wakeups++;
        this.idle(); // a completion: spin again before the next sleep
      }
      this.tick();
    };
    src.wait(token, this.severalBusy ? LAZY_POLL_MS : INTERRUPT_TIMEOUT_MS).then(done, () => done(false));
    return true;
  }

  /**
   * Polls per setImmediate turn while spinning (NVME_WASM_NVMF_POLLS_PER_TURN,
   * default 1): with more, Node's event loop waits for that many polls, and
   * its turn (a clock read and an epoll_wait, each a system call) is saved
   * between them. A turn ends early when a poll finds nothing and the spin
   * is over. bench:nvmf (2026-12-02 evening): 32 against 1 within the
   * guest's spread (QD1 IOPS 1.02 and 0.98 in two boots), so 1 stays.
   */
  pollsPerTurn = Math.max(1, Number(process.env.NVME_WASM_NVMF_POLLS_PER_TURN ?? 1) | 0);
  /**
   * sched_yield(2) after each empty poll while spinning
   * (NvmfTargetOptions.spinYield):
   * another runnable thread on this CPU runs first instead of waiting for
   * the spinner's time slice to end.
   */
  spinYield = false;
  /** sched_yield calls so far (a figure for tests). */
  yields = 0;

  private readonly tick = (): void => {
    this.scheduled = false;
    if (!this.running) return;
    let reaped = false;
    let out = false; // spun out (or on the timer / asleep): no more spinning
    for (let i = 1; ; i++) {
      reaped = this.poll() > 0;
      if (reaped) this.idle();
      else {
        out = this.lazy || this.spunOut();
        if (!out && this.spinYield) {
          yieldCpu();
          this.yields++;
        }
      }
      if (out || i >= this.pollsPerTurn || (!reaped && this.pollWait)) break; // pollWait: its wait comes between turns
    }
    if (this.outstanding === 0 && this.hot.size === 0) return;
    this.scheduled = true;
    if (!out) {
      if (!reaped && this.pollWait && this.idlePolls >= WAIT_AFTER_POLLS) this.waitReadable();
      setImmediate(this.tick);
      return;
    }
    this.cool(); // Node reads the sockets while the group sleeps or waits on the timer
    if (this.outstanding === 0) {
      this.scheduled = false;
      return;
    }
    this.lazy = true; // until the next completion or new work
    if (!this.sleepOnInterrupt()) this.timer = setTimeout(this.tick, LAZY_POLL_MS);
  };
}
