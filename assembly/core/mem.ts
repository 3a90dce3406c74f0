// Where the core's view of the world lives, and tiny accessors for it.
//
//   this process's Wasm memory
//   0            +----------------------+
//                | core statics         |  below CORE_LOW_RESERVED
//   regionBase   +----------------------+  2 MiB aligned virtual address
//                | shared region        |  file mapped MAP_SHARED | MAP_FIXED
//   barBase      +----------------------+
//                | BAR0 window          |  device registers and doorbells
//                +----------------------+
//
// regionBase and barBase are Wasm addresses private to this process; only
// region offsets (u32) are ever stored in shared memory.

export let regionBase: usize = 0;
export let regionSize: u32 = 0;
export let barBase: usize = 0;
export let iovaBase: u64 = 0;

export function setRegionWindow(base: usize, size: u32): void {
  regionBase = base;
  regionSize = size;
}

export function setBarWindow(base: usize): void {
  barBase = base;
}

export function setIovaBase(lo: u32, hi: u32): void {
  iovaBase = (<u64>hi << 32) | <u64>lo;
}

// @ts-ignore: decorator
@inline export function rAddr(off: u32): usize {
  return regionBase + <usize>off;
}
// @ts-ignore: decorator
@inline export function r32(off: u32): u32 {
  return load<u32>(regionBase + <usize>off);
}
// @ts-ignore: decorator
@inline export function w32(off: u32, v: u32): void {
  store<u32>(regionBase + <usize>off, v);
}
// @ts-ignore: decorator
@inline export function r16(off: u32): u32 {
  return <u32>load<u16>(regionBase + <usize>off);
}
// @ts-ignore: decorator
@inline export function w16(off: u32, v: u32): void {
  store<u16>(regionBase + <usize>off, <u16>v);
}
// @ts-ignore: decorator
@inline export function w64(off: u32, v: u64): void {
  store<u64>(regionBase + <usize>off, v);
}

/** Device address of a region offset (VFIO and simulator scheme: one linear IOVA window). */
// @ts-ignore: decorator
@inline export function dmaAddr(off: u32): u64 {
  return iovaBase + <u64>off;
}

// A private word for barriers: binaryen rejects AssemblyScript's bare
// atomic.fence, so a sequentially consistent read-modify-write on a word no
// one else touches does the fencing (lock-prefixed on x86: a full barrier,
// and a point the Wasm compiler does not move memory accesses across).
const FENCE_WORD: usize = memory.data(4, 4);

/**
 * Ring a doorbell. The barrier orders every earlier store to queue memory
 * before the doorbell store, so the device never sees a tail that points
 * past entries it cannot yet read. The doorbell itself is a plain store:
 * locked read-modify-write cycles are not for MMIO.
 */
// @ts-ignore: decorator
@inline export function ringDoorbell(dbOff: u32, value: u32): void {
  atomic.or<u32>(FENCE_WORD, 0);
  store<u32>(barBase + <usize>dbOff, value);
}
