// Joining an existing group as a secondary: find its region file, wait
// (bounded) for its primary to finish initialising, check it runs this
// build, open the group's device, map the region and BAR, take a slot; then
// hand the pieces to `finish` (Controller.open: attach to what the primary
// set up). A group that turns out stale (every member dead, its creator
// died while initialising, the last member left) is removed and
// `undefined` returned, for the caller to start afresh.
import fs from 'node:fs';
import { RegionState, ProcRole } from '../assembly/abi/region.js';
import { Mmio, processAlive } from '../hal/index.js';
import { instantiateCore, coreHash } from './core.js';
import { layoutMemory } from './memory.js';
import { Region, findRegionFile, openRegionFile, readRegionHeader, createRegionFileExclusive, removeUnusedRegion, replaceUnusedRegion, groupRegionName, type RegionFile, type RegionFileHead } from './region.js';
import { Group, GroupClosedError } from './group.js';
import { openTransport, type Transport } from './transport.js';
import { parseTransportId, type TransportId } from './trid.js';
import { ControllerError, InvalidArgumentError } from './errors.js';
import { closeFdQuiet, type Attachment } from './bring-up.js';
import type { ResolvedOptions } from './controller-options.js';

/** How long a joiner waits for a primary to initialise. */
const INIT_WAIT_MS = 30_000;
/** A region this old that is still not Ready, whose creator is dead, is stale. */
const STALE_AFTER_MS = 10_000;
/**
 * A group whose members all died, whose file someone still holds: other
 * joiners looking at it at the same moment do, for microseconds each. Look
 * again (after a short random pause) for this long before calling the
 * group damaged.
 */
const DEAD_GROUP_BUSY_MS = 3_000;

/** Which group, and how the caller asked to join it. */
export interface JoinRequest {
  /** The region file's name. */
  name: string;
  shmId: number;
  prefix: string;
  procType: 'auto' | 'primary' | 'secondary';
  options: ResolvedOptions;
  /** The device the caller named; undefined: whatever the group runs on (the embedded default). */
  requested?: TransportId;
  /**
   * Set by joinGroup once it has opened the device a Ready group under this
   * name runs on (unless an embedded simulator's). If that group is then
   * found dead, or gone, a fresh start uses this device when the caller
   * named none: a group whose primary crashed comes back on its own device,
   * not on a new embedded simulator (which several joiners racing to
   * restart it would each have made, one group each).
   */
  staleDevice?: TransportId;
  /** When joinGroup first found a dead group's file held by someone else (another joiner looking at it, most likely). */
  busySince?: number;
  /** Set by joinGroup when it replaced a dead group's file with a new one: this process creates the group in it. */
  replacement?: RegionFile;
}

/** The device two transport IDs name (their options aside). */
function deviceKey(t: TransportId): string {
  switch (t.trtype) {
    case 'embedded': return 'embedded';
    case 'sim': return `sim ${t.name} ${t.directory ?? ''}`;
    case 'pcie': return `pcie ${t.traddr.toLowerCase()}`;
    case 'tcp': return `tcp ${t.traddr} ${t.trsvcid} ${t.subnqn}`;
  }
}

/** Is the process that created this region (its primary) still running? */
function creatorAlive(head: RegionFileHead): boolean {
  const p = head.header.primarySlot;
  if (p < 0 || p >= head.procs.slots) return false;
  return processAlive(head.procs.pid(p), head.procs.startTime(p));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A group file that live processes hold but that cannot be right: reported, and left alone. */
function damaged(path: string, req: JoinRequest, what: string): ControllerError {
  return new ControllerError(`group ${req.shmId} (file prefix ${req.prefix}): its region file ${path} ${what}, and live processes use it: left alone (nothing removed or re-initialised)`, 'state');
}

/** Wait for the group's region to be Ready; undefined if it is stale (removed here) or gone. */
async function waitReady(path: string, req: JoinRequest): Promise<RegionFileHead | undefined> {
  const deadline = performance.now() + INIT_WAIT_MS;
  const stale = (why: string): undefined => {
    if (removeUnusedRegion(path) === 'in-use') throw damaged(path, req, why);
    if (req.procType === 'secondary') throw new ControllerError(`the primary of group ${req.shmId} ${why}`, 'state');
    return undefined;
  };
  for (;;) {
    const head = readRegionHeader(path);
    if (!head) {
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (!st) return undefined; // removed meanwhile
      // Created and not sized yet: its creator is between open and
      // ftruncate (microseconds), or died there (a crash leaves it so).
      if (performance.now() > deadline || Date.now() - st.mtimeMs > STALE_AFTER_MS) return stale('never finished initialising (the file is shorter than its header)');
      await sleep(5);
      continue;
    }
    if (head.header.hasMagic) {
      head.header.checkVersion(`group ${req.shmId}`, coreHash(req.options.debugCore));
      const state = head.header.state;
      if (state === RegionState.Ready) return head;
      if (state === RegionState.Closed) {
        // The last member left (and is removing it, or died doing so): start afresh once it has let go.
        if (removeUnusedRegion(path) !== 'in-use') return undefined;
        if (performance.now() > deadline) throw damaged(path, req, 'says Closed but its processes hold it still');
        await sleep(5);
        continue;
      }
      if (state === RegionState.Failed) return stale('failed to initialise');
      if (!(state in RegionState)) return stale(`has an unknown state word (${state})`);
    }
    // Still being created: by a live process?
    const ageMs = Date.now() - (fs.statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    // A primary writes the header within microseconds of creating the file (it may take CAP.TO to become Ready):
    // an old file with no header is damaged or abandoned, whoever its table names.
    if (performance.now() > deadline || (ageMs > STALE_AFTER_MS && (!head.header.hasMagic || !creatorAlive(head)))) {
      return stale(head.header.hasMagic ? 'never finished initialising' : `has no nvme-wasm header (magic 0x${head.header.magic.toString(16)})`);
    }
    await sleep(5);
  }
}

/** Join the group named in `req` and run `finish` on the attachment; undefined when the group was stale or changed. */
export async function joinGroup<T>(req: JoinRequest, finish: (a: Attachment) => Promise<T>): Promise<T | undefined> {
  const { shmId, prefix, procType, options } = req;
  const path = findRegionFile(req.name);
  if (!path) {
    if (procType === 'secondary') throw new ControllerError(`no primary process for group ${shmId} (file prefix ${prefix}): start a primary first (no ${req.name})`, 'state');
    return undefined;
  }
  const head = await waitReady(path, req);
  if (!head) return undefined;
  const tridText = head.header.trid;
  let transport: Transport;
  let groupTrid: TransportId | undefined;
  try {
    groupTrid = parseTransportId(tridText.replace(/ \(embedded\)$/, ''));
  } catch (e) {
    throw damaged(path, req, `names no device nvme-wasm knows (${JSON.stringify(tridText)}: ${(e as Error).message})`);
  }
  // Never a different controller than the one asked for, silently.
  if (req.requested !== undefined && deviceKey(req.requested) !== deviceKey(groupTrid)) {
    // A stale group (nobody holds it) makes way for the device asked for; a live one is left alone.
    if (procType !== 'secondary' && removeUnusedRegion(path) !== 'in-use') return undefined;
    throw new ControllerError(`group ${shmId} (file prefix ${prefix}) runs on ${tridText}, not on the device asked for: give -r ${tridText.replace(/ \(embedded\)$/, '')} (or no -r) to join it, or another -i for a group of that device`, 'state');
  }
  try {
    transport = await openTransport(groupTrid, undefined, { secondary: true });
    if (!/ \(embedded\)$/.test(tridText)) req.staleDevice = groupTrid;
  } catch (e) {
    // The device cannot be reached from here. If nobody holds the group any more (its members all died:
    // an embedded simulator with its process, or a PCIe primary killed), it is stale: start afresh.
    if (procType !== 'secondary' && removeUnusedRegion(path) !== 'in-use') return undefined;
    // A live group: a PCIe device does not go with a process, so say why it cannot be shared, and leave the group alone.
    if (groupTrid?.trtype === 'pcie') throw e;
    if (procType === 'secondary') throw new ControllerError(`group ${shmId}'s device (${tridText}) is gone: ${(e as Error).message}`, 'removed');
    throw damaged(path, req, `names a device that cannot be opened (${tridText}: ${(e as Error).message})`);
  }
  let file: RegionFile | undefined;
  let region: Region | undefined;
  try {
    try {
      file = openRegionFile(path);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') {
        await transport.close();
        return undefined; // removed by the last member leaving
      }
      throw e;
    }
    const opened = fs.fstatSync(file.fd);
    if (opened.ino !== head.ino || opened.size === 0 || fs.lstatSync(path, { throwIfNoEntry: false })?.ino !== opened.ino) {
      // The group we saw Ready ended and the name now holds a new group's
      // file, perhaps not formatted yet; or a process restarting a dead
      // group emptied this one and renamed a new file over it while we
      // waited for our flock (replaceUnusedRegion): look again from the start.
      closeFdQuiet(file);
      await transport.close();
      return undefined;
    }
    const layout = layoutMemory(file.size, transport.barSize);
    const core = instantiateCore(layout.memory, options.debugCore);
    region = new Region(file, layout, core, 0);
    try {
      region.validate(coreHash(options.debugCore));
    } catch (e) {
      // Truncated or rewritten after it was Ready: stale if nobody holds it (start afresh), damaged if someone does.
      region.close(false);
      region.unmap();
      if (removeUnusedRegion(path) === 'in-use') throw damaged(path, req, `does not match its header (${(e as Error).message})`);
      await transport.close();
      return undefined;
    }
    core.setIovaBase(region.hdr.iovaLo, region.hdr.iovaHi);
    region.useDmaTable();
    const group = new Group(region, core);
    if (group.liveSlots().length === 0) {
      // Everyone died: the next process to join starts the group afresh. Or the last member left
      // since we saw the group Ready, and holds the file until its shutdown is done (controller.ts):
      // then look again, and wait for the file to go (waitReady).
      const leftMeanwhile = region.hdr.state === RegionState.Closed;
      region.close(false);
      region.unmap(); // the mapping holds the file (and our shared flock) as much as the descriptor
      await transport.close();
      if (leftMeanwhile) return undefined;
      if (procType === 'secondary') {
        if (removeUnusedRegion(path) !== 'in-use') throw new ControllerError(`no primary process for group ${shmId} (file prefix ${prefix}): all its processes have exited`, 'state');
      } else {
        // Start the group again in its place: a new file renamed over the dead one, so that nobody finds the name empty meanwhile.
        const fresh = replaceUnusedRegion(path, req.name, options.regionSize, options.hugepages);
        if (typeof fresh !== 'string') {
          req.replacement = fresh;
          return undefined;
        }
        if (fresh === 'gone') return undefined;
      }
      // In use: most likely another joiner that found it so too, between its map and unmap. Look again.
      req.busySince ??= performance.now();
      if (performance.now() - req.busySince > DEAD_GROUP_BUSY_MS) throw damaged(path, req, 'lists no live process, yet processes hold it (its process table is damaged)');
      await sleep(1 + Math.random() * 9);
      return undefined;
    }
    const primary = group.primarySlot();
    if (procType === 'primary' && primary >= 0 && group.slotAlive(primary)) {
      throw new ControllerError(`group ${shmId} already has a primary (pid ${group.procPid(primary)})`, 'state');
    }
    try {
      group.join(ProcRole.Secondary);
    } catch (e) {
      if (!(e instanceof GroupClosedError)) throw e;
      region.close(false);
      region.unmap();
      await transport.close();
      return undefined; // the last member left meanwhile: start afresh
    }
    region.self = group.self;
    transport.mapBar(layout.base, layout.barOff);
    core.setBarWindow(layout.barOff);
    const mmio = new Mmio(layout.memory.buffer, layout.barOff, layout.barSize);
    return await finish({ transport, region, core, mmio, group, primary: false });
  } catch (e) {
    // Nothing of this attempt stays: the mapping and descriptor would hold the file (and its flock).
    region?.close(false);
    region?.unmap();
    if (file && !region) closeFdQuiet(file);
    await transport.close().catch(() => {});
    throw e;
  }
}

/**
 * Open group `shmId` of `prefix`: create it (`create` on a fresh region
 * file, as its primary) when it does not exist and the caller may be
 * primary, or join it (`attach`, as a secondary). A group that changes
 * under us (ends, is found stale, is created by another process meanwhile)
 * is looked at again, a few times.
 */
export async function openGroup<T>(g: Omit<JoinRequest, 'name'>, create: (file: RegionFile, staleDevice?: TransportId) => Promise<T>, attach: (a: Attachment) => Promise<T>): Promise<T> {
  const req: JoinRequest = { ...g, name: groupRegionName(g.prefix, g.shmId) };
  // A few changes, and any number of looks at a dead group others hold for a moment (joinGroup bounds those).
  for (let attempt = 0; attempt < 8 || (req.busySince !== undefined && performance.now() - req.busySince <= DEAD_GROUP_BUSY_MS + 1000); attempt++) {
    if (req.procType !== 'secondary' && !findRegionFile(req.name)) {
      const file = createRegionFileExclusive(req.name, req.options.regionSize, req.options.hugepages);
      if (file) return create(file, req.staleDevice);
    }
    const joined = await joinGroup(req, attach);
    if (joined) return joined;
    if (req.replacement) return create(req.replacement, req.staleDevice);
  }
  throw new ControllerError(`could not join or create group ${g.shmId} (file prefix ${g.prefix}): it kept changing under us`, 'state');
}
