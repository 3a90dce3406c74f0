// A command with caller-given fields (nvme-cli's admin-passthru and
// io-passthru), on any queue pair: the fields are checked, `data` (if any)
// is copied to a DMA buffer before and back after. The one passthrough.
import type { CoreExports } from './core.js';
import type { QueuePair } from './qpair.js';
import type { DmaBuffer } from './dma.js';
import { checkInt } from './validate.js';

/** A passthrough command: the SQE fields a caller may set. */
export interface PassthroughCommand {
  opcode: number;
  nsid?: number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
  /** Data to send, or room for what comes back (copied back on success). */
  data?: Uint8Array;
  /** Timeout in ms for this command (0 = none); default: the queue pair's. */
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
