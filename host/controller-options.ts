// Controller.open's options: what each means, their defaults, and the one
// place they are checked (every bad value is an InvalidArgumentError naming
// the option).
import { AQ_MAX_ENTRIES, PAGE_SIZE } from '../assembly/nvme/regs.js';
import { checkRegionSize, type HugepagePolicy } from './region.js';
import type { TransportId } from './trid.js';
import type { SimConfigInput } from './sim/config.js';
import { InvalidArgumentError } from './errors.js';
import { checkInt } from './validate.js';
import { checkCompletionMode, type CompletionMode } from './interrupts.js';

/**
 * Options of `Controller.open`. Every one may be left out; a bad value is an
 * InvalidArgumentError naming the option. Sizes are in bytes, times in
 * milliseconds, depths in queue entries.
 */
export interface ControllerOptions {
  /**
   * The controller to open, as a transport ID string or a parsed TransportId:
   * 'trtype:PCIe traddr:DDDD:BB:DD.F', 'trtype:sim name:NAME' or
   * 'trtype:TCP adrfam:IPv4 traddr:ADDR trsvcid:PORT subnqn:NQN ...'.
   * Default (empty or 'embedded'): an embedded simulated controller, started
   * in a worker thread of this process and stopped by `close`.
   */
  transport?: string | TransportId;
  /** Configuration of the embedded simulated controller (only with no `transport`); default: SIM_DEFAULTS. */
  sim?: SimConfigInput;
  /**
   * Shared-memory group id, an integer from 0 to 2^31 - 1 (like SPDK's -i /
   * shm_id): processes opening the same transport with the same shmId and
   * filePrefix share the controller (the first is the primary). Default
   * (undefined): a private, single-process driver. Not over NVMe/TCP.
   */
  shmId?: number;
  /** Group file prefix (like DPDK's --file-prefix): 1 to 64 letters, digits, `_`, `.` or `-`. Default 'nvme-wasm'. */
  filePrefix?: string;
  /** This process's role in the group: 'auto' (default: primary if the group has none yet), 'primary' or 'secondary' (needs `shmId`). */
  procType?: 'auto' | 'primary' | 'secondary';
  /**
   * Size of the shared region (queues and DMA buffers) in bytes, from 4 MiB
   * to 2 GiB - 2 MiB, rounded up to a multiple of 2 MiB. Default 64 MiB.
   */
  regionSize?: number;
  /** Use hugetlbfs for the region: 'auto' (default: when mounted with enough free pages, else /dev/shm), 'never', 'require'. */
  hugepages?: HugepagePolicy;
  /** Admin queue depth in entries, 2 to 4096. Default 64. */
  adminQueueDepth?: number;
  /** Default I/O queue depth in entries, 2 to 65536, capped by the controller's CAP.MQES + 1. Default 256. */
  ioQueueDepth?: number;
  /** Number of I/O queue pairs to ask for with Set Features Number of Queues, 1 to 65535. Default 64. */
  requestedQueuePairs?: number;
  /**
   * Command timeout in milliseconds, 0 (none) to 3,600,000. Default: 30 s,
   * or twice CAP.TO when the controller declares a slower worst case. A
   * command past it is aborted (Abort, 5.1); if that does not take it back
   * within the same time, the controller is reset (see docs/api.md,
   * "Timeouts, aborts and resets").
   */
  commandTimeoutMs?: number;
  /** Largest transfer per command the driver builds, in bytes, 4 KiB to 64 MiB; the controller's MDTS lowers it. Default 4 MiB. */
  maxTransferBytes?: number;
  /**
   * Load the debug build of the Wasm core (build/core.debug.wasm, with
   * assertions). Default false. The npm package ships the release build
   * only: build nvme-wasm from its repository (`npm run build`) to use it.
   */
  debugCore?: boolean;
  /**
   * Keep live statistics of each I/O queue pair in the shared region (read by
   * `nvme-wasm stats` / `top`). Default true, or false when the environment
   * has NVME_WASM_STATS=0.
   */
  stats?: boolean;
  /**
   * Which commands the latency statistics time (the clock is read only for
   * those; counts, bytes and errors are exact whatever it is): 'auto' (the
   * default, or NVME_WASM_STATS_SAMPLING) adapts the share so a queue pair
   * takes 2,000 to 20,000 samples a second: every command of a slow device,
   * one in a few hundred at millions of IOPS. A number (a power of two, 1 to
   * 1024) times one command in that many.
   */
  statsLatencySampling?: number | 'auto';
  /** Use shadow doorbells (Doorbell Buffer Config, 5.10) when the controller offers them. Default true; always off over NVMe/TCP. */
  shadowDoorbells?: boolean;
  /**
   * How I/O queue pairs' Promise paths learn of completions: 'poll'
   * (default: spin while commands are pending), 'interrupt' (sleep on the
   * CQ's interrupt when a poll finds nothing) or 'adaptive' (spin briefly,
   * then sleep). Per queue pair: QueuePairOptions.completionMode. See
   * host/interrupts.ts and docs/api.md.
   */
  completionMode?: CompletionMode;
}

/** The options after defaults and checks (the transport and group ones are handled by Controller.open). */
export type ResolvedOptions = Required<Omit<ControllerOptions, 'transport' | 'sim' | 'shmId' | 'filePrefix' | 'procType'>>;

const DEFAULT_REGION = 64 * 1024 * 1024;

function checkSampling(v: unknown): number | 'auto' {
  const expected = "'auto' or a power of two from 1 to 1024";
  if (v === 'auto') return v;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v; // from the environment
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError('statsLatencySampling', expected, v);
  }
  return n;
}

/**
 * Defaults and checks. commandTimeoutMs is -1 when not given: the
 * controller picks it from CAP.TO once it has read CAP.
 */
export function resolveOptions(opts: ControllerOptions): ResolvedOptions {
  const options: ResolvedOptions = {
    regionSize: checkRegionSize(opts.regionSize ?? DEFAULT_REGION),
    hugepages: opts.hugepages ?? 'auto',
    adminQueueDepth: checkInt('adminQueueDepth', opts.adminQueueDepth ?? 64, 2, AQ_MAX_ENTRIES),
    ioQueueDepth: checkInt('ioQueueDepth', opts.ioQueueDepth ?? 256, 2, 65536),
    requestedQueuePairs: checkInt('requestedQueuePairs', opts.requestedQueuePairs ?? 64, 1, 65535),
    commandTimeoutMs: opts.commandTimeoutMs === undefined ? -1 : checkInt('commandTimeoutMs', opts.commandTimeoutMs, 0, 3_600_000),
    maxTransferBytes: checkInt('maxTransferBytes', opts.maxTransferBytes ?? 4 * 1024 * 1024, PAGE_SIZE, 64 * 1024 * 1024),
    debugCore: opts.debugCore ?? false,
    stats: opts.stats ?? process.env.NVME_WASM_STATS !== '0',
    statsLatencySampling: checkSampling(opts.statsLatencySampling ?? process.env.NVME_WASM_STATS_SAMPLING ?? 'auto'),
    shadowDoorbells: opts.shadowDoorbells ?? true,
    completionMode: checkCompletionMode('completionMode', opts.completionMode ?? 'poll'),
  };
  if (typeof options.stats !== 'boolean') throw new InvalidArgumentError('stats', 'true or false', options.stats);
  if (!['auto', 'never', 'require'].includes(options.hugepages)) {
    throw new InvalidArgumentError('hugepages', "'auto', 'never' or 'require'", options.hugepages);
  }
  return options;
}

export type { HugepagePolicy };

/**
 * What a transport changes in the options: over NVMe/TCP each process owns
 * its association (no group: docs/nvmf-host.md), there are no doorbells to
 * shadow, and the transport ID's queue size and count stand for the
 * controller's options.
 */
export function fitTransport(options: ResolvedOptions, id: TransportId, shmId: number | undefined): void {
  if (id.trtype !== 'tcp') return;
  if (shmId !== undefined) throw new InvalidArgumentError('shmId', 'none over NVMe/TCP: each process opens its own association (docs/nvmf-host.md)', shmId);
  options.shadowDoorbells = false;
  if (id.fabrics?.queueSize) options.ioQueueDepth = id.fabrics.queueSize;
  if (id.fabrics?.nrIoQueues) options.requestedQueuePairs = id.fabrics.nrIoQueues;
}
