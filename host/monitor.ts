// A read-only view of a running group, for the monitors (`nvme-wasm stats`,
// `nvme-wasm top`): it is not a member. It takes no process slot, no flock
// (so it never keeps a dead group's region alive), no lock and no role; it
// loads no Wasm core, maps nothing and never writes. Each snapshot preads
// only the pages it reads from the region file: the header, the process
// table and the controller block, then each I/O queue pair's stats block
// and descriptor counters.
//
//   region file (host/region.ts)           the monitor's copy (file size,
//   +0       header                        untouched pages cost nothing)
//   +0x1000  process table       -- pread -->  same offsets, so the layout
//   +0x2000  controller block                  accessors (layout/*) and
//   ...      stats blocks, descriptors         readGroupStats work unchanged
//
// pread, not mmap: a file someone shortens under us is a short read here
// (an error), never a SIGBUS.
import fs from 'node:fs';
import { REGION_MAGIC, REGION_LAYOUT_VERSION, RegionState, ProcState, PROC_SLOTS, CTRL_OFF, CTRL_SIZE } from '../assembly/abi/region.js';
import { ST_DESC, ST_SIZE } from '../assembly/abi/stats.js';
import { QP_COMPLETED } from '../assembly/abi/qpair.js';
import { O_RDONLY, closeFd, HalError, processAlive } from '../hal/index.js';
import { RegionHeader } from './layout/header.js';
import { ProcTable } from './layout/proc-table.js';
import { ControllerBlock } from './layout/ctrl-block.js';
import { findRegionFile, groupRegionName } from './region.js';
import { openTrusted } from './trust.js';
import { readGroupStats, type GroupStats, type StatsSource } from './stats.js';
import { ControllerError } from './errors.js';

/** Which group to watch. */
export interface MonitorOptions {
  /** The group's shared-memory id (like SPDK -i). */
  shmId: number;
  /** The group's file prefix (like DPDK --file-prefix); default 'nvme-wasm'. */
  filePrefix?: string;
}

/** Why a watched group is no more. */
export type GroupEnd = 'removed' | 'closed' | 'no-members';

const HEAD_BYTES = CTRL_OFF + CTRL_SIZE;

/** A running group's statistics, read without joining it. */
export class GroupMonitor implements StatsSource {
  readonly dv: DataView;
  readonly ctrl: ControllerBlock;
  private readonly bytes: Uint8Array;
  private readonly hdr: RegionHeader;
  private readonly procs: ProcTable;
  private closed = false;

  private constructor(
    /** The region file watched. */
    readonly path: string,
    private readonly fd: number,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
    this.hdr = new RegionHeader(this.bytes);
    this.procs = new ProcTable(this.bytes.subarray(0, CTRL_OFF));
    this.ctrl = new ControllerBlock(this.bytes.subarray(0, HEAD_BYTES));
  }

  /**
   * Watch group `shmId`. Throws ControllerError('state') when no such group
   * runs (a monitor never starts one), GroupAccessError when the region
   * exists but this user may not read it, UnsafePathError when it is a link
   * or an untrusted user's, ControllerError('unsupported') for a region of
   * another layout version.
   */
  static open(o: MonitorOptions): GroupMonitor {
    const prefix = o.filePrefix ?? 'nvme-wasm';
    const path = findRegionFile(groupRegionName(prefix, o.shmId));
    const what = `group ${o.shmId} (file prefix ${prefix})`;
    if (path === undefined) throw new ControllerError(`no ${what} is running: start its application first (a monitor never starts a group)`, 'state');
    let fd: number;
    try {
      fd = openTrusted(path, O_RDONLY);
    } catch (e) {
      if (e instanceof HalError && e.code === 'ENOENT') throw new ControllerError(`${what} ended before it could be read`, 'state');
      throw e;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < HEAD_BYTES) throw new ControllerError(`${path}: ${size} bytes, too small for an nvme-wasm region (a damaged file; nothing was changed)`, 'state');
      const m = new GroupMonitor(path, fd, size);
      m.readHead();
      if (m.hdr.magic !== REGION_MAGIC) throw new ControllerError(`${path} is not an nvme-wasm region (magic 0x${m.hdr.magic.toString(16)})`, 'unsupported');
      if (m.hdr.layoutVersion !== REGION_LAYOUT_VERSION) {
        throw new ControllerError(`version mismatch: ${path} has layout ${m.hdr.layoutVersion}, this nvme-wasm reads layout ${REGION_LAYOUT_VERSION}`, 'unsupported');
      }
      if (m.hdr.regionSize !== size) throw new ControllerError(`${path}: size ${size} does not match its header's ${m.hdr.regionSize} (a damaged file; nothing was changed)`, 'state');
      return m;
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  private pread(off: number, len: number): void {
    if (off + len > this.bytes.length) throw new ControllerError(`${this.path}: read past its end at ${off}`, 'state');
    const n = fs.readSync(this.fd, this.bytes, off, len, off);
    if (n !== len) throw new ControllerError(`${this.path}: it shrank under the monitor (${n} of ${len} bytes at ${off})`, 'state');
  }

  private readHead(): void {
    this.pread(0, HEAD_BYTES);
  }

  /** Live statistics of every member and its I/O queue pairs, as of now. */
  snapshot(): GroupStats {
    if (this.closed) throw new ControllerError('the monitor is closed', 'closed');
    this.readHead();
    const ctrl = this.ctrl;
    for (let qid = 1; qid <= ctrl.maxQid; qid++) {
      if (ctrl.qidOwner(qid) < 0) continue;
      const off = ctrl.statsBlock(qid);
      if (off === 0 || off % 8 !== 0 || off + ST_SIZE > this.bytes.length) continue; // readGroupStats skips it too
      this.pread(off, ST_SIZE);
      const desc = this.dv.getUint32(off + ST_DESC, true);
      if (desc !== 0 && desc + QP_COMPLETED + 4 <= this.bytes.length) this.pread(desc, QP_COMPLETED + 4);
    }
    return readGroupStats(this);
  }

  /** Why the group is over (as of the last snapshot, and the file's link count now), or undefined while it runs. */
  ended(): GroupEnd | undefined {
    if (fs.fstatSync(this.fd).nlink === 0) return 'removed';
    if (this.hdr.state === RegionState.Closed) return 'closed';
    if (this.liveSlots().length === 0) return 'no-members';
    return undefined;
  }

  primarySlot(): number {
    return this.hdr.primarySlot;
  }

  /** Slots the table says are Live whose process runs (pid and start time). */
  liveSlots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < PROC_SLOTS; s++) {
      if (this.procs.state(s) === ProcState.Live && processAlive(this.procs.pid(s), this.procs.startTime(s))) out.push(s);
    }
    return out;
  }

  procPid(slot: number): number {
    return this.procs.pid(slot);
  }

  /** Close the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
  }
}
