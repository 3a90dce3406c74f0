// Conventions of the ctl page (ctl.ts) that belong to the simulator and its
// client only, not to NVMe.

/**
 * AEN_DW0 holds this value when the sim has taken the last event. Event
 * dword 0 has bits 31:24 reserved (5.2.1), so no real event equals it. The
 * client waits for it before writing the next event, so two events posted
 * back to back are both seen even though AEN_SEQ has no acknowledgement.
 */
export const AEN_DW0_CONSUMED = 0xffffffff;

/** Events queued while no AER is outstanding (QEMU's aer_max_queued default). */
export const AEN_QUEUE_MAX = 64;
