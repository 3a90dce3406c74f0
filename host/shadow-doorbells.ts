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
import { HDR_SHADOW_DB, GROUP_OWNER } from '../assembly/abi/region.js';
import { AdminOpc } from '../assembly/nvme/cmd.js';
import { OACS_DBBUF_CONFIG } from '../assembly/nvme/identify.js';
import { PAGE_SIZE, REG_DBS, doorbellOffset } from '../assembly/nvme/regs.js';
import type { CoreExports } from './core.js';
import type { Region } from './region.js';
import type { AdminQueue } from './admin.js';

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
export async function configureShadowDoorbells(region: Region, core: CoreExports, admin: AdminQueue, oacs: number, maxQid: number, dstrd: number): Promise<boolean> {
  if (!(oacs & OACS_DBBUF_CONFIG) || !shadowFits(maxQid, dstrd)) return false;
  const buf = region.allocDma(2 * PAGE_SIZE, { zero: true, owner: GROUP_OWNER, contiguous: true });
  try {
    await admin.run(AdminOpc.DoorbellBufferConfig, 'Doorbell Buffer Config', () =>
      core.submitRaw(admin.desc, AdminOpc.DoorbellBufferConfig, 0, buf.regionOffset, 2 * PAGE_SIZE, 0, 0, 0, 0, 0, 0));
  } catch {
    buf.free(); // the controller refused: plain doorbells
    return false;
  }
  region.dv.setUint32(HDR_SHADOW_DB, buf.regionOffset, true);
  useShadowDoorbells(region, core, dstrd);
  return true;
}

/** Point the core at the group's shadow pages (every process; a no-op when they are off). */
export function useShadowDoorbells(region: Region, core: CoreExports, dstrd: number): void {
  const db = region.dv.getUint32(HDR_SHADOW_DB, true);
  if (db === 0) core.setShadowDoorbells(0, 0, 0);
  else core.setShadowDoorbells(db, db + PAGE_SIZE, doorbellOffset(1, false, dstrd));
}
