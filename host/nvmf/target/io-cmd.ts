// The I/O queues' commands. Reads and writes go to the connection's own
// device queue pair on the callback path (no Promise, no closure per
// command: the context's bound callback), their data in DMA memory: reads
// land there from the device and go to the socket from it, writes come from
// the socket into it. Other NVM commands are passed through.
import { ResourceError } from '../../index.js';
import { NvmOpc, RW_FUA_SHIFT } from '../../../assembly/nvme/cmd.js';
import { Sct, GenericSc } from '../../../assembly/nvme/status.js';
import { readU32 } from '../pdu/encode.js';
import { sf, statusOf } from './status.js';
import type { CommandContext } from './command.js';
import type { QueueConnection } from './types.js';

const cdw = (ctx: CommandContext, n: number) => readU32(ctx.sqe, 40 + (n - 10) * 4);

export function ioCommand(conn: QueueConnection, ctx: CommandContext): void {
  const tn = conn.ctrl!.subsystem!.namespaces.get(ctx.nsid);
  if (!tn) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidNamespaceOrFormat));
  const qp = conn.deviceQp!;
  const op = ctx.opcode;
  if (op === NvmOpc.Read || op === NvmOpc.Write) {
    const ns = tn.ns;
    const lba = cdw(ctx, 10) + cdw(ctx, 11) * 2 ** 32;
    const c12 = cdw(ctx, 12);
    const blocks = (c12 & 0xffff) + 1;
    if (blocks * ns.blockSize !== ctx.dataLen) return conn.complete(ctx, sf(Sct.Generic, GenericSc.DataSglLengthInvalid));
    if (lba + blocks > ns.blocks) return conn.complete(ctx, sf(Sct.Generic, GenericSc.LbaOutOfRange));
    if (ctx.dataLen > qp.maxTransfer) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
    if (op === NvmOpc.Read) {
      try {
        ctx.dma = tn.ctrl.allocDma(ctx.dataLen);
      } catch (e) {
        if (e instanceof ResourceError) return conn.complete(ctx, sf(Sct.Generic, GenericSc.NamespaceNotReady, false));
        throw e;
      }
      ctx.buf = ctx.dma.bytes;
    }
    const ok = op === NvmOpc.Read
      ? qp.submitRead(ns, lba, ctx.dma!, ctx.onDevice)
      : qp.submitWrite(ns, lba, ctx.dma!, ctx.onDevice, ((c12 >>> RW_FUA_SHIFT) & 1) !== 0);
    if (!ok) return conn.complete(ctx, sf(Sct.Generic, GenericSc.NamespaceNotReady, false)); // cannot happen: the device queue has a slot per entry
    conn.deviceSubmitted();
    return;
  }
  // Anything else: passed through (data copied to and from a bounce buffer by the driver).
  const data = ctx.dataLen > 0 ? (ctx.buf ?? Buffer.alloc(ctx.dataLen)) : undefined;
  qp.command({ opcode: op, nsid: tn.ns.id, cdw10: cdw(ctx, 10), cdw11: cdw(ctx, 11), cdw12: cdw(ctx, 12), cdw13: cdw(ctx, 13), cdw14: cdw(ctx, 14), cdw15: cdw(ctx, 15), data }).then(
    (dw0) => ((op & 3) === 2 && data ? conn.sendData(ctx, data, ctx.dataLen) : conn.complete(ctx, 0, dw0)),
    (e: Error) => conn.complete(ctx, statusOf(e)),
  );
}
