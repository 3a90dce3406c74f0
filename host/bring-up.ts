// Bringing a controller up in a new region: the first process of a group
// (its primary) or a private driver. Opens the transport, lays out this
// process's memory, formats the region, maps the device's DMA window and
// BAR, and takes the primary's slot; then hands the pieces to `finish`
// (Controller.open: the spec's initialisation). On any failure nothing is
// left behind: no file, no mapping, no open device.
import fs from 'node:fs';
import { PROC_SLOTS, MBOX_STRIDE, GROUP_OWNER, ProcRole, RegionState } from '../assembly/abi/region.js';
import { Mmio } from '../hal/index.js';
import { instantiateCore, coreHash, type CoreExports } from './core.js';
import { layoutMemory } from './memory.js';
import { Region, type RegionFile } from './region.js';
import { Group } from './group.js';
import { openTransport, IOVA_BASE, type Transport } from './transport.js';
import type { TransportId } from './trid.js';
import type { SimConfigInput } from './sim/config.js';
import type { ResolvedOptions } from './controller-options.js';

/** What a process holds of a controller once its memory, region, device and slot are set up. */
export interface Attachment {
  transport: Transport;
  region: Region;
  core: CoreExports;
  mmio: Mmio;
  group: Group;
  /** This process is the group's primary (it initialises the controller). */
  primary: boolean;
}

function closeFdQuiet(file: RegionFile): void {
  try {
    fs.closeSync(file.fd);
  } catch {
    /* already closed */
  }
}

/**
 * Set up a fresh region in `file` for controller `id` and run `finish` on
 * it. If `finish` throws, the region is marked Failed (joiners give up on
 * it) before everything is undone.
 */
export async function bringUp<T>(file: RegionFile, id: TransportId, sim: SimConfigInput | undefined, options: ResolvedOptions, shmId: number | undefined, finish: (a: Attachment) => Promise<T>): Promise<T> {
  let transport: Transport | undefined;
  let region: Region | undefined;
  try {
    transport = await openTransport(id, sim, { adminDepth: options.adminQueueDepth });
    const layout = layoutMemory(options.regionSize, transport.barSize);
    const core = instantiateCore(layout.memory, options.debugCore);
    region = new Region(file, layout, core, 0);
    region.format(coreHash(options.debugCore), IOVA_BASE);
    core.setIovaBase(Number(IOVA_BASE & 0xffffffffn), Number(IOVA_BASE >> 32n));
    const mbox = region.allocDma(PROC_SLOTS * MBOX_STRIDE, { zero: true, owner: GROUP_OWNER });
    region.ctrl.mailboxes = mbox.regionOffset;
    const group = new Group(region, core);
    group.join(ProcRole.Primary);
    region.self = group.self;
    region.hdr.primarySlot = group.self;
    region.hdr.trid = transport.trid;
    const dmaTable = await transport.mapDma(file.path, IOVA_BASE, file.size, layout.base + BigInt(layout.regionOff));
    if (dmaTable) region.setDmaTable(dmaTable);
    // A private region needs no name once both sides mapped it, and an
    // unlinked file cannot be left behind by a crash. A group's stays, for
    // secondaries to find.
    if (shmId === undefined) region.close(true);
    transport.mapBar(layout.base, layout.barOff);
    core.setBarWindow(layout.barOff);
    const mmio = transport.registers ?? new Mmio(layout.memory.buffer, layout.barOff, layout.barSize);
    transport.fabric?.attachRegion(region.u8, region.dv, (a) => Number(a - IOVA_BASE));
    const r = region;
    try {
      return await finish({ transport, region: r, core, mmio, group, primary: true });
    } catch (e) {
      r.hdr.state = RegionState.Failed;
      throw e;
    }
  } catch (e) {
    // A failed open leaves no file behind. Removed by name once, while we hold it (region.close
    // unlinks before the unmap lets go of it): a second removal could hit a new group's file.
    region?.close(true);
    region?.unmap();
    if (!region) {
      fs.rmSync(file.path, { force: true });
      closeFdQuiet(file);
    }
    await transport?.close().catch(() => {});
    throw e;
  }
}

export { closeFdQuiet };
