// The V8 flags this driver sets in its own process, in one place: host/core.ts
// sets them before anything calls the Wasm core, and the command's launcher
// (host/cli/nvme-wasm.cts) before it compiles the bundle, so that the V8 code
// cache it writes and the one it reads agree on the flags (V8 rejects a cache
// made under other flags: the cache would be written again on every run).
//
// --no-turbo-inline-js-wasm-calls (issue 16 G, docs/vm-tests.md): with V8's
// inlining of JS-to-Wasm calls into optimised JavaScript (on by default in
// Node 20's V8 11.3), perf on QEMU's controller through VFIO crashed by
// SIGSEGV: a WebAssembly trap raised in the core, then a null pointer in
// V8's walk of that trap's stack (VisitStack<CallSiteBuilder>). In
// vm-driver-loop through the launcher, the other VFIO driver before every
// perf (2026-12-02): a crash within 2 to 12 rounds as is (six runs); none in
// 40 rounds with the flag on node's command line, none in 40 with this
// module, none in 30 with every core export called through a JS closure
// (which V8 does not inline either), and no trap there. Cost: about 1 ns per
// call into the core (a call of one i32, 2.4 against 3.5 ns on this
// machine). The flag is V8's, for the whole process, read by each later
// optimising compile. NVME_WASM_INLINE_WASM_CALLS=1 leaves V8's default.
//
// --wasm-enforce-bounds-checks (2026-12-03): the crash came back with the
// flag above: in a CI run and its rehearsal of 20 rounds each (2 crashes in
// the rehearsal), and at round 55 of an 80-round A/B. The core's memory accesses are
// then checked by compare and branch instead of by V8's trap handler (a
// SIGSEGV in the guard region turned into a trap). In the same boot, perf
// alternating between the two (vm-driver-loop, NVME_WASM_VM_LOOP_NODE_ARGS_B):
// trap handler 1 crash in 40 runs, explicit checks 0 in 40, and 0 in 30 in a
// boot before; and no RuntimeError either, so no access of the core fell out
// of its memory when checked. Where the trap handler's SIGSEGV comes from is
// not known (docs/vm-tests.md). Read at each later compile of a module, for
// the whole process. NVME_WASM_TRAP_HANDLER_BOUNDS=1 leaves V8's default.
import v8 = require('node:v8');

/** The flags, as v8.setFlagsFromString takes them. */
export const V8_FLAGS = '--no-turbo-inline-js-wasm-calls';
/** The bounds-check flag: apart from V8_FLAGS because its own variable turns it off. */
export const V8_BOUNDS_FLAGS = '--wasm-enforce-bounds-checks';

let applied = false;

/**
 * Set V8_FLAGS (not with NVME_WASM_INLINE_WASM_CALLS=1) and V8_BOUNDS_FLAGS
 * (not with NVME_WASM_TRAP_HANDLER_BOUNDS=1) in this process, once.
 */
export function applyV8Flags(): void {
  if (applied) return;
  applied = true;
  if (process.env.NVME_WASM_INLINE_WASM_CALLS !== '1') v8.setFlagsFromString(V8_FLAGS);
  if (process.env.NVME_WASM_TRAP_HANDLER_BOUNDS !== '1') v8.setFlagsFromString(V8_BOUNDS_FLAGS);
}
