// nvme-wasm core: the queue and command logic, compiled to WebAssembly and run
// on a shared region of memory. No I/O, no system calls, no allocation at run
// time, no exceptions: every entry point returns a value or a CoreStatus.
// The host (host/) ties it to the HAL (hal/) and the device.
export { setRegionWindow, setBarWindow, setIovaBase, setDmaTable, dmaAddrOf, setShadowDoorbells, doorbellsSkipped } from './core/mem';
export { regionFormat } from './core/region';
export { lockTry, lockRelease, lockSteal } from './core/lock';
export { dmaAlloc, dmaFree, dmaSize, dmaFreeOwner, dmaCheck, dmaRepair } from './core/alloc';
export { prpPagesFor } from './core/prp';
export {
  qpInit, qpRing, qpPoll, qpSetStats, qpOutstanding, qpSqFullSeen, qpMaxXfer, slotCid, outPtr, qpPollShared, mboxTake, mboxReset,
  qpRecover, qpReset, qpCountOpcode, qpCountOwner, qpReleaseOwner, wakeMask,
} from './core/qpair';
export {
  setSelf, submitRw, submitFlush, submitDsm, submitIdentify, submitGetFeatures, submitSetFeatures,
  submitCreateIoCq, submitCreateIoSq, submitDeleteIoSq, submitDeleteIoCq, submitGetLogPage, submitAbort,
  submitAsyncEventRequest, submitRaw,
} from './core/commands';
export { crc32c } from './core/crc32c';

/** First address past the core's static data: must stay below CORE_LOW_RESERVED. */
export function staticEnd(): usize {
  return __heap_base;
}
