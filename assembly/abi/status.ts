// Results of core calls: a non-negative value is a result (a slot, a count,
// a region offset), a negative one is a CoreStatus. The core never throws
// (a Wasm trap would abort the instance); the host maps these to typed errors.
export enum CoreStatus {
  Ok = 0,
  SqFull = -1, // (tail + 1) % qsize == head reported by CQE.SQHD (4.1.2)
  NoSlot = -2, // every command slot of the queue pair is outstanding
  Misaligned = -3, // data buffer not dword aligned (4.3)
  BadLength = -4, // zero length, or above the queue pair's maximum transfer
  OutOfRegion = -5, // buffer not inside the shared region's heap
  NoMemory = -6, // allocator: no free run of pages large enough
  BadFree = -7, // free of an offset that is not the head of an allocation
  BadArgument = -8,
  NotReady = -9, // region not initialised, or core not configured
  Busy = -10, // a cross-process lock is held by another process
}
