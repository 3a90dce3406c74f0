// Sampled command latency for a queue pair's live statistics (the JavaScript
// half of the stats block, layout/stats-block.ts; the core counts commands,
// errors and bytes in its poll). The clock is read only for sampled
// commands: the first sampled submission after a doorbell reads it, the
// others of its batch reuse it; commands submitted by completion callbacks
// use the poll's reading. The keys of sampled commands in flight are
// listed, so a poll looks at those few, not at every completion.
//
// Which commands: one in `share` on average, at random gaps (a fixed stride
// would pick the same place in every batch of a steady workload, and the
// place in a batch decides much of a command's latency). A sampled command
// stands for the commands since the previous sampled one, so the figures'
// count follows the commands done exactly, whatever the share did meanwhile.
// 'auto' adapts the share to the rate (see SAMPLE_GAP_MIN_MS).
import { latencyBucket } from './stats.js';
import { S_TIMEOUTS, S_LAT_SUM_US, S_LAT_COUNT, S_LAT_SAMPLES, S_HIST, S_DIR_LAT_SUM_US, S_DIR_LAT_COUNT, S_DIR_HIST } from './layout/stats-block.js';
import { NvmOpc } from '../assembly/nvme/cmd.js';
import type { IoCallback } from './command-table.js';

/**
 * Adaptive sampling: after a poll that timed sampled commands, the time
 * since the previous such poll halves the share of commands sampled when
 * below SAMPLE_GAP_MIN_MS and doubles it when above SAMPLE_GAP_MAX_MS
 * (every command at most, one in SAMPLE_EVERY_MAX at least). So a queue
 * pair reads the clock for statistics 2,000 to 20,000 times a second, under
 * 0.3% of a core, whatever its IOPS.
 */
const SAMPLE_GAP_MIN_MS = 0.05;
const SAMPLE_GAP_MAX_MS = 0.5;
const SAMPLE_EVERY_MAX = 1024;

export class LatencySampler {
  /**
   * Commands until the next sampled one: the caller decrements it per
   * command and calls sample() at 0. Negative (never reaching 0) when off.
   */
  countdown: number;
  private readonly stamp: Float64Array;
  /** The commands a sampled command stands for. */
  private readonly weight: Uint16Array;
  /** Per key: 0 a Read, 1 a Write (the stats block's direction index), 2 anything else. */
  private readonly dir: Uint8Array;
  private readonly keys: Uint32Array;
  /** Sampled commands in flight (the first entries of keys). */
  private inFlight = 0;
  /** One command in `share` is sampled. */
  private share: number;
  private readonly adaptive: boolean;
  /** xorshift32 state for the gaps. */
  private rng: number;
  /** The gap drawn at the last sample: what the next sampled command stands for. */
  private gap = 1;
  /** When the last poll that timed sampled commands read the clock. */
  private lastSample = 0;
  private now = 0;
  /** The clock reading `now` is this batch's (until the next doorbell). */
  private fresh = false;

  /**
   * `words`: the stats block as f64 words (undefined: statistics off, the
   * sampler does nothing). `keys`: the key space of the command table.
   * `clock`: milliseconds, performance.now() (a test gives its own).
   */
  constructor(private readonly words: Float64Array | undefined, keys: number, sampling: number | 'auto', seed: number, private readonly clock: () => number = () => performance.now()) {
    this.adaptive = sampling === 'auto';
    this.share = sampling === 'auto' ? 1 : sampling; // adaptive: start by timing every command
    this.countdown = words !== undefined ? 1 : -1;
    this.rng = (0x9e3779b9 ^ (seed * 0x85ebca6b)) >>> 0 || 1;
    const n = words !== undefined ? keys : 0;
    this.stamp = new Float64Array(n);
    this.weight = new Uint16Array(n);
    this.dir = new Uint8Array(n);
    this.keys = new Uint32Array(n);
  }

  /** Commands in how many get timed now (1: every one). */
  get sharing(): number {
    return this.share;
  }

  /** Time command `k` of `opcode` (its countdown reached 0). */
  sample(k: number, opcode: number): void {
    this.dir[k] = opcode === NvmOpc.Read ? 0 : opcode === NvmOpc.Write ? 1 : 2;
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    this.weight[k] = this.gap;
    this.gap = 1 + (this.rng % (2 * this.share - 1));
    this.countdown = this.gap;
    if (!this.fresh) {
      this.now = this.clock();
      this.fresh = true; // until the doorbell: the batch shares this time
    }
    this.stamp[k] = this.now;
    this.keys[this.inFlight++] = k;
  }

  /** A doorbell rang: the next sampled submission starts a new batch and reads the clock. */
  newBatch(): void {
    this.fresh = false;
  }

  /** Sampled commands are in flight (a poll should look at them). */
  get pending(): boolean {
    return this.inFlight !== 0;
  }

  /**
   * Latency of the sampled commands this batch completed: those whose
   * callback `cbs` no longer holds (the poll detached them). One clock read
   * for the batch, plain stores into the shared block (this process is its
   * only writer). Commands the callbacks submit next reuse this reading.
   */
  completed(cbs: ReadonlyArray<IoCallback | undefined>): void {
    const st = this.words!;
    const stamp = this.stamp;
    const weight = this.weight;
    const keys = this.keys;
    let now = -1; // read once, and only if a sampled command completed
    let latSum = 0;
    let latCount = 0;
    let samples = 0;
    for (let i = 0; i < this.inFlight; ) {
      const k = keys[i]!;
      if (cbs[k] !== undefined) {
        i++; // still in flight
        continue;
      }
      if (now < 0) {
        now = this.clock();
        this.now = now;
        this.fresh = true;
      }
      const us = (now - stamp[k]!) * 1000; // one clock: never negative
      const w = weight[k]!;
      // The bucket from whole microseconds; the sum exact (whole ones would
      // lose half a microsecond per command, a sixth of a 3 us latency).
      const bucket = latencyBucket(us >>> 0);
      st[S_HIST + bucket] += w;
      const d = this.dir[k]!;
      if (d < 2) {
        st[S_DIR_HIST[d]! + bucket] += w;
        st[S_DIR_LAT_SUM_US[d]!] += us * w;
        st[S_DIR_LAT_COUNT[d]!] += w;
      }
      latSum += us * w;
      latCount += w;
      samples++;
      keys[i] = keys[--this.inFlight]!; // unordered list: the last fills the gap
    }
    if (samples === 0) return;
    st[S_LAT_SUM_US] += latSum;
    st[S_LAT_COUNT] += latCount;
    st[S_LAT_SAMPLES] += samples;
    if (this.adaptive) {
      const gap = now - this.lastSample;
      this.lastSample = now;
      if (gap < SAMPLE_GAP_MIN_MS) {
        if (this.share < SAMPLE_EVERY_MAX) this.share *= 2;
      } else if (gap > SAMPLE_GAP_MAX_MS && this.share > 1) this.share /= 2;
    }
  }

  /** Forget the sampled commands in flight (a reset or failure ends them: their latency would be the recovery's). */
  dropInFlight(): void {
    this.inFlight = 0;
  }

  /** A command's timeout expired. */
  countTimeout(): void {
    if (this.words !== undefined) this.words[S_TIMEOUTS]++;
  }
}
