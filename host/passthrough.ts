// A command with caller-given fields (nvme-cli's admin-passthru and
// io-passthru), on any queue pair: the fields are checked, `data` (if any)
// is copied to a DMA buffer before and back after. The one passthrough.
import type { CoreExports } from './core.js';
import type { QueuePair } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import { checkInt } from './validate.js';

/** A passthrough command: the SQE fields a caller may set. */
export interface PassthroughCommand {
  /** Opcode, 0 to 255 (an admin opcode on the admin queue, an I/O one on an I/O queue pair). */
  opcode: number;
  /** Namespace ID, a 32-bit unsigned integer. Default 0. */
  nsid?: number;
  /** Command dword 10, a 32-bit unsigned integer. Default 0. */
  cdw10?: number;
  /** Command dword 11, a 32-bit unsigned integer. Default 0. */
  cdw11?: number;
  /** Command dword 12, a 32-bit unsigned integer. Default 0. */
  cdw12?: number;
  /** Command dword 13, a 32-bit unsigned integer. Default 0. */
  cdw13?: number;
  /** Command dword 14, a 32-bit unsigned integer. Default 0. */
  cdw14?: number;
  /** Command dword 15, a 32-bit unsigned integer. Default 0. */
  cdw15?: number;
  /** Data to send, or room for what comes back (copied back on success); its length in bytes is the transfer length. Default: no data. */
  data?: Uint8Array;
  /** Timeout of this command in milliseconds (0 = none); default: the queue pair's. */
  timeoutMs?: number;
}

/** Run `cmd` on `qp`: resolves with the completion's dword 0; rejects with NvmeStatusError and the other typed errors. */
export function passthrough(qp: QueuePair, core: CoreExports, allocDma: (bytes: number) => DmaBuffer, cmd: PassthroughCommand, kind: 'admin' | 'I/O'): Promise<number> {
  checkInt('opcode', cmd.opcode, 0, 255);
  const f = (k: string, v: number | undefined) => checkInt(k, v ?? 0, 0, 0xffffffff) >>> 0;
  const nsid = f('nsid', cmd.nsid);
  const cdw = [f('cdw10', cmd.cdw10), f('cdw11', cmd.cdw11), f('cdw12', cmd.cdw12), f('cdw13', cmd.cdw13), f('cdw14', cmd.cdw14), f('cdw15', cmd.cdw15)] as const;
  const what = `${kind} opcode 0x${cmd.opcode.toString(16)}`;
  const data = cmd.data;
  const opts = { timeoutMs: cmd.timeoutMs };
  if (!data || data.length === 0) {
    return qp.run(cmd.opcode, what, () => core.submitRaw(qp.desc, cmd.opcode, nsid, 0, 0, ...cdw), undefined, opts);
  }
  const buf = allocDma(data.length);
  buf.bytes.set(data);
  return qp.run(cmd.opcode, what, () => core.submitRaw(qp.desc, cmd.opcode, nsid, buf.regionOffset, data.length, ...cdw), (err) => {
    if (!err) data.set(buf.bytes);
    buf.free();
  }, opts);
}
