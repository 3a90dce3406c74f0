// The simulated controller's two files (ctl.ts): BAR0 and the ctl page,
// created fresh (mode 0600) and mapped into one shared memory so the
// registers and the sideband words are plain typed-array accesses.
import fs from 'node:fs';
import { createSharedMemory, alignedOffset, mapFixed } from '../../hal/mmap.js';
import { openFile, truncateFile, closeFd, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } from '../../hal/fd.js';
import { processLiveness, processStartTime, pidRunning } from '../../hal/proc.js';
import { PAGE_SIZE } from '../../assembly/nvme/regs.js';
import { ControllerError, InvalidArgumentError } from '../errors.js';
import {
  CTL_SIZE,
  CTL_MAGIC,
  CTL_MAGIC_VALUE,
  CTL_SIM_PID,
  ctlSimStart,
  setCtlSimStart,
  CTL_STATE,
  CTL_BAR_SIZE,
  CTL_CONFIG,
  CTL_CONFIG_LEN,
  CTL_CONFIG_MAX,
  SimState,
  simBarPath,
  simCtlPath,
  simBarSize,
} from './ctl.js';
import type { SimConfig } from './config.js';

export interface DeviceFiles {
  barPath: string;
  ctlPath: string;
  barSize: number;
  /** BAR0 dwords. */
  bar: Uint32Array;
  /** ctl page dwords. */
  ctl: Uint32Array;
  /** ctl page bytes (DMA path, config JSON). */
  ctlBytes: Uint8Array;
  /** Virtual address of the ctl page in this process (futex words, irq.ts). */
  ctlAddr: bigint;
  /** Keeps the mapping alive. */
  memory: WebAssembly.Memory;
  /** Inodes of the two files, so a stop never removes a successor's files. */
  ctlIno: number;
  barIno: number;
}

/** If a live simulated controller owns `ctlPath`, its pid. */
export function runningSimPid(ctlPath: string): number | undefined {
  let page: Buffer;
  try {
    page = fs.readFileSync(ctlPath);
  } catch {
    return undefined;
  }
  if (page.length < CTL_SIZE || page.readUInt32LE(CTL_MAGIC) !== CTL_MAGIC_VALUE) return undefined;
  const pid = page.readUInt32LE(CTL_SIM_PID);
  if (page.readUInt32LE(CTL_STATE) !== SimState.Running) return undefined;
  return simAlive(pid, ctlSimStart((off) => page.readUInt32LE(off))) ? pid : undefined;
}

/**
 * Does the sim process recorded as (`pid`, `start`) run? Its pid alone is
 * not enough: a stale page's pid can be a later process's, this one's
 * included (an embedded sim's files name this process). Dead only on the
 * kernel's word; a page without a start time is judged by its pid.
 */
export function simAlive(pid: number, start: number): boolean {
  if (start === 0) return pidRunning(pid);
  return processLiveness(pid, start) !== 'dead';
}

function alreadyRuns(name: string, pid: number): ControllerError {
  return new ControllerError(`a simulated controller named ${name} already runs (pid ${pid})`, 'state');
}

/** Create a file afresh: a stale one is unlinked first (mappers of it keep their copy). */
function createFresh(path: string, size: number, ctlPath: string, name: string): number {
  fs.rmSync(path, { force: true });
  let fd: number;
  try {
    fd = openFile(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (e) {
    // Another sim of the same name created it between our check and now.
    const pid = runningSimPid(ctlPath);
    if (pid !== undefined) throw alreadyRuns(name, pid);
    throw e;
  }
  truncateFile(fd, size);
  return fd;
}

/**
 * Create and map the BAR0 and ctl files of `cfg`, refusing if a live
 * simulated controller of that name owns them. The ctl page is filled
 * (magic, pid, BAR size, config) with state Starting.
 */
export function createDeviceFiles(cfg: SimConfig): DeviceFiles {
  const barPath = simBarPath(cfg.directory, cfg.name);
  const ctlPath = simCtlPath(cfg.directory, cfg.name);
  const pid = runningSimPid(ctlPath);
  if (pid !== undefined) throw alreadyRuns(cfg.name, pid);

  const json = Buffer.from(JSON.stringify(cfg), 'utf8');
  if (json.length > CTL_CONFIG_MAX) {
    throw new InvalidArgumentError(`configuration of ${cfg.name}`, `at most ${CTL_CONFIG_MAX} bytes as JSON (what the ctl page holds)`, `${json.length} bytes`);
  }
  const barSize = simBarSize(cfg.maxIoQueuePairs, cfg.dstrd);

  const ctlFd = createFresh(ctlPath, CTL_SIZE, ctlPath, cfg.name);
  let barFd = -1;
  try {
    barFd = createFresh(barPath, barSize, ctlPath, cfg.name);
    const { memory, base } = createSharedMemory(barSize + CTL_SIZE + 2 * PAGE_SIZE);
    const barOff = alignedOffset(base, 0, PAGE_SIZE);
    const ctlOff = alignedOffset(base, barOff + barSize, PAGE_SIZE);
    mapFixed(base, barOff, barSize, barFd, 0);
    mapFixed(base, ctlOff, CTL_SIZE, ctlFd, 0);
    const ctl = new Uint32Array(memory.buffer, ctlOff, CTL_SIZE >>> 2);
    const ctlBytes = new Uint8Array(memory.buffer, ctlOff, CTL_SIZE);
    ctlBytes.set(json, CTL_CONFIG);
    Atomics.store(ctl, CTL_CONFIG_LEN >>> 2, json.length);
    Atomics.store(ctl, CTL_SIM_PID >>> 2, process.pid);
    setCtlSimStart(ctl, processStartTime(process.pid) ?? 0);
    Atomics.store(ctl, CTL_BAR_SIZE >>> 2, barSize);
    Atomics.store(ctl, CTL_STATE >>> 2, SimState.Starting);
    Atomics.store(ctl, CTL_MAGIC >>> 2, CTL_MAGIC_VALUE);
    const bar = new Uint32Array(memory.buffer, barOff, barSize >>> 2);
    const ctlIno = fs.fstatSync(ctlFd).ino;
    const barIno = fs.fstatSync(barFd).ino;
    return { barPath, ctlPath, barSize, bar, ctl, ctlBytes, ctlAddr: base + BigInt(ctlOff), memory, ctlIno, barIno };
  } catch (e) {
    fs.rmSync(ctlPath, { force: true });
    fs.rmSync(barPath, { force: true });
    throw e;
  } finally {
    closeFd(ctlFd);
    if (barFd >= 0) closeFd(barFd);
  }
}

/** Clean stop: state Stopped, then both files removed. */
export function removeDeviceFiles(files: DeviceFiles): void {
  Atomics.store(files.ctl, CTL_STATE >>> 2, SimState.Stopped);
  removeIfSame(files.ctlPath, files.ctlIno);
  removeIfSame(files.barPath, files.barIno);
}

function removeIfSame(path: string, ino: number): void {
  try {
    if (fs.statSync(path).ino === ino) fs.rmSync(path, { force: true });
  } catch {
    /* already gone */
  }
}
