// The shapes a queue pair is made from and reports: what its owner gives it
// (QueuePairInit), its counters (QueuePairStats), a malformed completion
// it consumed (BogusCompletion), and the core's results that mean a full
// queue (QUEUE_FULL).
import { CoreStatus } from '../assembly/abi/status.js';
import type { CoreExports } from './core.js';
import type { SleepPolicy } from './promise-poller.js';

/** Submission results that mean the queue is full (no SQ entry or no slot free): try again later, not an error. */
export const QUEUE_FULL: ReadonlySet<number> = new Set<number>([CoreStatus.SqFull, CoreStatus.NoSlot]);

/** What a timeout handler may ask of the queue pair whose command timed out. */
export interface TimedOutQueue {
  readonly qid: number;
  readonly isClosed: boolean;
  /** Command `cid` is still outstanding (not completed, not failed). */
  isWaitingFor(cid: number): boolean;
}

export interface QueuePairInit {
  core: CoreExports;
  /** This process's view of the region (descriptor counters, the stats block). */
  region: Uint8Array;
  qid: number;
  depth: number;
  nslots: number;
  desc: number;
  maxTransfer: number;
  timeoutMs: number;
  /** Called every few ms while commands wait; throws a ControllerError when the controller is dead. */
  checkAlive?: () => void;
  /**
   * Track commands by cid rather than slot, the cids of process slot
   * `cidOwner`: on the shared admin queue a slot can be reused by another
   * process before its owner has read the completion from its mailbox; the
   * cid (with its generation) cannot. The key is the cid without its owner
   * field, which is always this process's (2^(16 - ownerBits) keys, not 2^16).
   */
  cidOwner?: number;
  /**
   * A command passed its deadline: the owner decides what to do (Abort, then
   * a controller reset). Without it, the command fails with
   * NvmeTimeoutError at once and its slot stays outstanding.
   */
  onTimeout?: (qp: TimedOutQueue, cid: number, opcode: number, timeoutMs: number) => void;
  /**
   * Region offset of this queue pair's live statistics block (abi/stats.ts),
   * undefined for none. The core counts reads, writes, errors and bytes into
   * it as it polls; the LatencySampler adds timeouts and sampled latencies.
   */
  statsOff?: number;
  /**
   * One command in this many (a power of two) gets a submit time and counts
   * in the latency figures; counters are exact whatever it is. 'auto' (the
   * default) adapts it (latency-sampler.ts). A clock read costs about 55 ns
   * here and the driver's whole work for one I/O on the null-I/O simulator
   * about 120 ns: timing every command adds up to two reads to each.
   */
  latencySampling?: number | 'auto';
  /**
   * A transport that plays the device on the rings itself (NVMe/TCP,
   * host/fabrics): told after every SQ doorbell, and telling when it wrote
   * completions (the Promise path then waits for that instead of spinning).
   */
  wire?: QueueWire;
  /**
   * completionMode 'interrupt' / 'adaptive': the Promise path's poller
   * sleeps on this interrupt source (its CQ was created with IEN = 1 and
   * the source's vector) once polls find nothing for `spinMs`.
   */
  sleep?: SleepPolicy;
}

/** The device side of a queue pair's rings when it is not PCIe (host/fabrics/ring.ts). */
export interface QueueWire {
  /** The core rang the SQ doorbell: take the new entries (a polled wire also reads what arrived). */
  kick(): void;
  /** Completions arrive only when the queue pair polls (kick), not by notify: its Promise path must spin. */
  readonly polled?: boolean;
  /** Set by the queue pair: completions were written into the CQ ring. */
  notify: () => void;
  /** Can a read posted now land in the caller's buffer (attachRead)? True for a live I/O queue of the transport. */
  readsInPlace?(): boolean;
  /**
   * Let the read just posted in `slot` land in `dest` itself (no bounce
   * buffer), until its completion or detachRead. Called in the same turn as
   * a readsInPlace() that said true, before the transport sends it.
   */
  attachRead?(slot: number, dest: Uint8Array): void;
  /** The caller stopped waiting for `slot` (a timeout): its late data must not reach `dest`. */
  detachRead?(slot: number): void;
}

export interface QueuePairStats {
  submitted: number;
  completed: number;
  /** SQ tail doorbell writes: fewer than submitted when batching works. */
  sqDoorbells: number;
  /** CQ head doorbell writes. */
  cqDoorbells: number;
  /** Completions that named no outstanding command (malformed or duplicated). */
  bogusCompletions: number;
  /** Submissions that found the SQ full. */
  sqFull: number;
}

/**
 * A completion the controller posted that names no command waiting on this
 * queue pair (unknown or stale cid, a duplicate, another SQ's id, an SQ head
 * beyond the ring). The driver consumed and ignored it; a command it may
 * have belonged to stays outstanding until its timeout.
 */
export interface BogusCompletion {
  qid: number;
  /** How many this queue pair has seen in all. */
  count: number;
  /** From the last one: */
  sqid: number;
  sqhd: number;
  cid: number;
  statusField: number;
}

