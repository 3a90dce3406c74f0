// Where a whole command goes: Fabrics commands, the admin queue's commands,
// the I/O queues' commands.
import { FABRICS_OPC } from '../../../assembly/nvme/fabrics.js';
import { Sct, GenericSc } from '../../../assembly/nvme/status.js';
import { fabricsCommand } from './fabrics-cmd.js';
import { adminCommand } from './admin-cmd.js';
import { ioCommand } from './io-cmd.js';
import { sf } from './status.js';
import type { CommandContext } from './command.js';
import type { QueueConnection } from './types.js';

export function dispatch(conn: QueueConnection, ctx: CommandContext): void {
  if (ctx.opcode === FABRICS_OPC) return fabricsCommand(conn, ctx);
  if (conn.qid < 0 || !conn.ctrl) return conn.complete(ctx, sf(Sct.Generic, GenericSc.CommandSequenceError)); // Connect first
  if (conn.qid === 0) return adminCommand(conn, ctx);
  ioCommand(conn, ctx);
}
