// One process's Wasm memory for one controller, laid out as
// assembly/abi/region.ts and assembly/core/mem.ts describe:
//
//   0 ........ CORE_LOW_RESERVED    core statics (completion records, ...)
//   regionOff  (2 MiB aligned VA)   the shared region file
//   barOff     (4 KiB aligned)      BAR0 of the device
import { createSharedMemory, alignedOffset } from '../hal/index.js';
import { CORE_LOW_RESERVED, REGION_ALIGN } from '../assembly/abi/region.js';
import { PAGE_SIZE } from '../assembly/nvme/regs.js';
import { ResourceError } from './errors.js';

export interface MemoryLayout {
  memory: WebAssembly.Memory;
  /** Virtual address of Wasm address 0 in this process. */
  base: bigint;
  regionOff: number;
  regionSize: number;
  barOff: number;
  barSize: number;
}

export function layoutMemory(regionSize: number, barSize: number): MemoryLayout {
  // V8 picks the base; reserve enough slack to align the window whatever it picks.
  const total = CORE_LOW_RESERVED + REGION_ALIGN + regionSize + barSize + PAGE_SIZE;
  const { memory, base } = createSharedMemory(total);
  const regionOff = alignedOffset(base, CORE_LOW_RESERVED, REGION_ALIGN);
  const barOff = alignedOffset(base, regionOff + regionSize, PAGE_SIZE);
  if (barOff + barSize > memory.buffer.byteLength) throw new ResourceError(`a ${regionSize}-byte region and a ${barSize}-byte BAR do not fit this process's Wasm memory`, 'dma');
  return { memory, base, regionOff, regionSize, barOff, barSize };
}
