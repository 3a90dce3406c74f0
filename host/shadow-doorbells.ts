// Shadow doorbells (NVMe 1.4, 5.10 Doorbell Buffer Config and 7.13): for
// controllers that are emulated (QEMU, virtual functions) an MMIO doorbell
// write is a VM exit. The host writes each I/O queue's doorbell value in a
// shadow page in memory, and writes the real doorbell only when the value
// passes the EventIdx the controller last published (the rule is in
// assembly/core/mem.ts, ringDoorbell). Both pages live in the shared region:
// every process of a group uses the same ones.
//
//   region, DMA-contiguous 8 KiB (GROUP_OWNER)
//   +0     shadow doorbells   same layout as BAR0 from 1000h: SQ y tail at
//                             (2y) * (4 << DSTRD), CQ y head at (2y + 1) * ...
//   +4096  EventIdx           same layout, written by the controller
import { GROUP_OWNER } from '../assembly/abi/region.js';
import { OACS_DBBUF_CONFIG } from '../assembly/nvme/identify.js';
import { PAGE_SIZE, REG_DBS, doorbellOffset } from '../assembly/nvme/regs.js';
import type { CoreExports } from './core.js';
import type { Region } from './region.js';
import type { AdminCommands } from './admin-commands.js';

/** Do the doorbells of queues 0..maxQid fit in one page (the command takes one page per buffer)? */
export function shadowFits(maxQid: number, dstrd: number): boolean {
  return doorbellOffset(maxQid, true, dstrd) - REG_DBS + 4 <= PAGE_SIZE;
}

/**
 * Turn shadow doorbells on if the controller supports them (OACS bit 8) and
 * the pages fit: Doorbell Buffer Config with PRP1 = shadow page, PRP2 =
 * EventIdx page. Returns whether they are on. Primary only, after Number of
 * Queues and before any I/O queue exists (qpInit resets a queue's entries).
 */
export async function configureShadowDoorbells(region: Region, core: CoreExports, admin: AdminCommands, oacs: number, maxQid: number, dstrd: number): Promise<boolean> {
  if (!(oacs & OACS_DBBUF_CONFIG) || !shadowFits(maxQid, dstrd)) return false;
  const buf = region.allocDma(2 * PAGE_SIZE, { zero: true, owner: GROUP_OWNER, contiguous: true });
  try {
    await admin.doorbellBufferConfig(buf.regionOffset);
  } catch {
    buf.free(); // the controller refused: plain doorbells
    return false;
  }
  region.hdr.shadowDoorbells = buf.regionOffset;
  useShadowDoorbells(region, core, dstrd);
  return true;
}

/**
 * After a controller reset, which forgot the shadow doorbell pages (5.10):
 * give them again, from zero (before any I/O queue is created again). If
 * the controller refuses now, every member goes back to plain doorbells.
 */
export async function restoreShadowDoorbells(region: Region, admin: AdminCommands): Promise<void> {
  const db = region.hdr.shadowDoorbells;
  if (db === 0) return;
  region.u8.fill(0, db, db + 2 * PAGE_SIZE);
  try {
    await admin.doorbellBufferConfig(db);
  } catch {
    region.hdr.shadowDoorbells = 0; // refused now: plain doorbells for everyone
  }
}

/** Point the core at the group's shadow pages (every process; a no-op when they are off). */
export function useShadowDoorbells(region: Region, core: CoreExports, dstrd: number): void {
  const db = region.hdr.shadowDoorbells;
  if (db === 0) core.setShadowDoorbells(0, 0, 0);
  else core.setShadowDoorbells(db, db + PAGE_SIZE, doorbellOffset(1, false, dstrd));
}
