// Receive Packet Steering on the guest's loopback, for bench:nvmf and
// bench:nvmf-host's "lo RPS" rows. On `lo` a send runs the receiver's TCP
// input inline, on the sender's CPU; a kernel peer then does its part on
// that CPU too (nvmet-tcp queues its work on the socket's incoming CPU), so
// a spinning user-space peer and the kernel's work share one CPU and take
// turns. With RPS the receive work goes to the CPUs of a mask instead (as a
// NIC's interrupt affinity puts it on a real network), and the spinner,
// bound elsewhere (-c), keeps its CPU. Writes
// /sys/class/net/lo/queues/rx-N/rps_cpus; '0' turns it off (the default).
import fs from 'node:fs';

const QUEUES = '/sys/class/net/lo/queues';

/** The "lo RPS" rows: the loopback's receive work on CPU 0 ... */
export const RPS_MASK = '1';
/** ... and the polling side (this project's target or initiator) bound to CPU 1, as -c takes it. */
export const POLLER_CORE_MASK = '0x2';

/** Steer the loopback's receive work to the CPUs of hex mask `mask` ('0': off). */
export function setLoopbackRps(mask: string): void {
  if (!/^[0-9a-f]+$/i.test(mask)) throw new RangeError(`an RPS mask is hex, like 1 or 3: got "${mask}"`);
  for (const q of fs.readdirSync(QUEUES).filter((d) => d.startsWith('rx-'))) fs.writeFileSync(`${QUEUES}/${q}/rps_cpus`, mask);
}
