// Fabrics commands (NVMe-oF 3.3 to 3.6): Connect, Property Get and Set,
// Disconnect. Connect makes an association (admin queue) or adds an I/O
// queue to one, with its own device queue pair.
import { ResourceError, ControllerError } from '../../index.js';
import {
  FcType, FAB_FCTYPE, CONNECT_RECFMT, CONNECT_QID, CONNECT_SQSIZE, CONNECT_KATO, CONNECT_DATA_HOSTID, CONNECT_DATA_HOSTID_LEN,
  CONNECT_DATA_CNTLID, CONNECT_DATA_SUBNQN, CONNECT_DATA_HOSTNQN, CONNECT_DATA_SIZE, NQN_FIELD_LEN, CNTLID_DYNAMIC, CONNECT_RSP_IATTR_SHIFT,
  IATTR_DATA, IATTR_SQE, FabricsSc, DISCOVERY_NQN, PROP_ATTRIB, PROP_OFST, PROP_VALUE, PROP_ATTRIB_SIZE_MASK, PROP_SIZE_8,
} from '../../../assembly/nvme/fabrics.js';
import { Sct, GenericSc } from '../../../assembly/nvme/status.js';
import { readU16, readU32 } from '../pdu/encode.js';
import { FabricsController } from './association.js';
import { sf } from './status.js';
import type { CommandContext } from './command.js';
import type { QueueConnection } from './types.js';

/** Admin queue entries a host may ask for (SQSIZE 0's based). */
export const ADMIN_SQSIZE_MAX = 127;

const invalidParam = (c: QueueConnection, ctx: CommandContext, iattr: number, ipo: number) =>
  c.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectInvalidParameters), ((iattr & 1) << CONNECT_RSP_IATTR_SHIFT) | ipo);

/** The NUL-ended string of a Connect data field. */
function cstring(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + off, end - off).toString('utf8');
}

export function fabricsCommand(conn: QueueConnection, ctx: CommandContext): void {
  const fctype = ctx.sqe[FAB_FCTYPE]!;
  if (fctype === FcType.Connect) return connect(conn, ctx);
  if (!conn.ctrl) return conn.complete(ctx, sf(Sct.Generic, GenericSc.CommandSequenceError));
  switch (fctype) {
    case FcType.PropertyGet: {
      if (conn.qid !== 0) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      const size8 = (ctx.sqe[PROP_ATTRIB]! & PROP_ATTRIB_SIZE_MASK) === PROP_SIZE_8;
      const v = conn.ctrl.getProperty(readU32(ctx.sqe, PROP_OFST), size8);
      if (v === undefined) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      return conn.complete(ctx, 0, Number(v & 0xffffffffn), Number(v >> 32n));
    }
    case FcType.PropertySet: {
      if (conn.qid !== 0) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      const size8 = (ctx.sqe[PROP_ATTRIB]! & PROP_ATTRIB_SIZE_MASK) === PROP_SIZE_8;
      const v = ctx.sqe.readBigUInt64LE(PROP_VALUE);
      return conn.complete(ctx, conn.ctrl.setProperty(readU32(ctx.sqe, PROP_OFST), size8, v) ? 0 : sf(Sct.Generic, GenericSc.InvalidField));
    }
    case FcType.Disconnect:
      conn.complete(ctx, 0);
      if (conn.qid === 0) conn.ctrl.end('Disconnect');
      else conn.closeGracefully('Disconnect');
      return;
    default:
      return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidOpcode));
  }
}

function connect(conn: QueueConnection, ctx: CommandContext): void {
  const s = ctx.sqe;
  const svc = conn.services;
  if (!conn.awaitingConnect) return conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectControllerBusy)); // this queue is connected
  if (readU16(s, CONNECT_RECFMT) !== 0) return conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectIncompatibleFormat));
  const d = ctx.buf;
  if (!d || ctx.dataLen !== CONNECT_DATA_SIZE || d.length < CONNECT_DATA_SIZE) return conn.complete(ctx, sf(Sct.Generic, GenericSc.DataSglLengthInvalid));
  const qid = readU16(s, CONNECT_QID);
  const sqsize = readU16(s, CONNECT_SQSIZE);
  const kato = readU32(s, CONNECT_KATO);
  const subnqn = cstring(d, CONNECT_DATA_SUBNQN, NQN_FIELD_LEN);
  const hostnqn = cstring(d, CONNECT_DATA_HOSTNQN, NQN_FIELD_LEN);
  const hostid = Buffer.from(d.subarray(CONNECT_DATA_HOSTID, CONNECT_DATA_HOSTID + CONNECT_DATA_HOSTID_LEN));
  const cntlid = readU16(d, CONNECT_DATA_CNTLID);
  if (sqsize === 0) return invalidParam(conn, ctx, IATTR_SQE, CONNECT_SQSIZE);

  if (subnqn === DISCOVERY_NQN) {
    if (qid !== 0) return invalidParam(conn, ctx, IATTR_SQE, CONNECT_QID); // discovery controllers have an admin queue only
    if (cntlid !== CNTLID_DYNAMIC) return invalidParam(conn, ctx, IATTR_DATA, CONNECT_DATA_CNTLID);
    if (sqsize > ADMIN_SQSIZE_MAX) return invalidParam(conn, ctx, IATTR_SQE, CONNECT_SQSIZE);
    const ctrl = new FabricsController(undefined, svc.allocDiscoveryCntlid(), hostnqn, hostid, kato, conn, svc.capFor(undefined));
    conn.bindAdmin(ctrl, sqsize);
    return conn.complete(ctx, 0, ctrl.cntlid);
  }
  const sub = svc.findSubsystem(subnqn);
  if (!sub) return invalidParam(conn, ctx, IATTR_DATA, CONNECT_DATA_SUBNQN);
  if (!sub.allows(hostnqn)) {
    svc.log(`${conn.remote}: host ${JSON.stringify(hostnqn)} is not allowed on ${sub.nqn}`);
    return conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectInvalidHost), CONNECT_DATA_HOSTNQN | (IATTR_DATA << CONNECT_RSP_IATTR_SHIFT));
  }
  if (qid === 0) {
    if (cntlid !== CNTLID_DYNAMIC) return invalidParam(conn, ctx, IATTR_DATA, CONNECT_DATA_CNTLID);
    if (sqsize > ADMIN_SQSIZE_MAX) return invalidParam(conn, ctx, IATTR_SQE, CONNECT_SQSIZE);
    if (!sub.device) return conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectControllerBusy));
    const id = sub.allocCntlid();
    if (id === undefined) return conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectControllerBusy));
    const ctrl = new FabricsController(sub, id, hostnqn, hostid, kato, conn, svc.capFor(sub));
    sub.controllers.set(id, ctrl);
    ctrl.onEnd = (why) => svc.log(`controller ${id} of ${sub.nqn} (host ${hostnqn}) ended: ${why}`);
    conn.bindAdmin(ctrl, sqsize);
    svc.log(`${conn.remote}: controller ${id} of ${sub.nqn} for host ${hostnqn} (KATO ${kato} ms)`);
    return conn.complete(ctx, 0, id);
  }
  // An I/O queue of an existing association.
  const ctrl = sub.controllers.get(cntlid);
  if (!ctrl || ctrl.hostNqn !== hostnqn || !ctrl.hostId.equals(hostid)) return invalidParam(conn, ctx, IATTR_DATA, CONNECT_DATA_CNTLID);
  if ((ctrl.cc & 1) === 0) return conn.complete(ctx, sf(Sct.Generic, GenericSc.CommandSequenceError)); // CC.EN first
  if (qid > ctrl.ioQueues) return invalidParam(conn, ctx, IATTR_SQE, CONNECT_QID);
  if (ctrl.ioConnections.has(qid)) return conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectControllerBusy));
  const mqes = Number(ctrl.cap & 0xffffn);
  if (sqsize > mqes) return invalidParam(conn, ctx, IATTR_SQE, CONNECT_SQSIZE);
  const dev = sub.device!;
  ctrl.ioConnections.set(qid, conn); // claimed while the device queue is made
  if (process.env.NVME_WASM_NVMF_DEBUG === '1') svc.log(`${conn.remote}: I/O queue ${qid} of controller ${ctrl.cntlid}: creating a device queue pair (depth ${Math.min(sqsize + 2, dev.maxQueueEntries)}, ${dev.ioQueuePairs.length} now)`);
  // sqsize + 1 commands at once: a device queue of sqsize + 2 entries has as many slots.
  dev.createQueuePair({ depth: Math.min(sqsize + 2, dev.maxQueueEntries), timeoutMs: svc.settings.deviceQueueTimeoutMs, completionMode: svc.settings.deviceCompletionMode }).then(
    (qp) => {
      if (conn.isClosed || ctrl.isEnded) {
        ctrl.ioConnections.delete(qid);
        qp.delete().catch(() => {});
        return;
      }
      conn.bindIo(ctrl, qid, sqsize, qp);
      if (process.env.NVME_WASM_NVMF_DEBUG === '1') svc.log(`${conn.remote}: I/O queue ${qid} of controller ${ctrl.cntlid}: device queue pair ${qp.qid}`);
      conn.complete(ctx, 0, ctrl.cntlid);
    },
    (e: unknown) => {
      if (ctrl.ioConnections.get(qid) === conn) ctrl.ioConnections.delete(qid);
      const why = e instanceof ResourceError ? `the device has no free queue pair (${e.message})` : e instanceof ControllerError ? `the device failed (${e.message})` : String(e);
      svc.log(`${conn.remote}: I/O queue ${qid} of controller ${ctrl.cntlid} refused: ${why}`);
      conn.complete(ctx, sf(Sct.CommandSpecific, FabricsSc.ConnectControllerBusy, false));
    },
  );
}
