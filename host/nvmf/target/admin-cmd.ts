// The admin queue of a remote host. The target is the device's manager:
// it answers what is the association's own (Identify, rewritten; Number of
// Queues, a per-host quota; Keep Alive; asynchronous events, held), passes
// through what only reads the device (log pages, Get Features, self-test),
// and refuses what would change the device under the other hosts and local
// processes (Format, Namespace Management, firmware, sanitize) unless the
// subsystem allows it. The discovery controller answers its own commands.
import type { Controller } from '../../index.js';
import { AdminOpc, FeatureId, Cns } from '../../../assembly/nvme/cmd.js';
import { LOG_DISCOVERY } from '../../../assembly/nvme/fabrics.js';
import { Sct, GenericSc, CommandSpecificSc } from '../../../assembly/nvme/status.js';
import { readU32 } from '../pdu/encode.js';
import { fabricsIdentifyController, discoveryIdentifyController, fabricsIdentifyNamespace, nsDescriptors } from './identify.js';
import { sf, statusOf } from './status.js';
import type { CommandContext } from './command.js';
import type { QueueConnection } from './types.js';

const SANITIZE = 0x84;
const LOG_COMMAND_EFFECTS = 0x05;
const CNS_CS_CONTROLLER = 0x06; // I/O Command Set specific Identify Controller (NVMe 2.0)
const FID_KATO = 0x0f;
const FID_ASYNC_EVENT_CONFIG = 0x0b;

const rawIdentify = new WeakMap<Controller, Promise<Buffer>>();
function deviceIdentify(dev: Controller): Promise<Buffer> {
  let p = rawIdentify.get(dev);
  if (!p) {
    p = dev.identifyRaw(Cns.Controller, 0);
    p.catch(() => rawIdentify.delete(dev));
    rawIdentify.set(dev, p);
  }
  return p;
}

const cdw = (ctx: CommandContext, n: number) => readU32(ctx.sqe, 40 + (n - 10) * 4);

function answer(conn: QueueConnection, ctx: CommandContext, p: Promise<Uint8Array>): void {
  p.then(
    (data) => {
      const len = Math.min(ctx.dataLen, data.length);
      if (len === 0) conn.complete(ctx, 0);
      else conn.sendData(ctx, data, len);
    },
    (e: unknown) => conn.complete(ctx, e instanceof Error ? statusOf(e) : sf(Sct.Generic, GenericSc.InternalError, false)),
  );
}

export function adminCommand(conn: QueueConnection, ctx: CommandContext): void {
  const ctrl = conn.ctrl!;
  switch (ctx.opcode) {
    case AdminOpc.KeepAlive:
      ctrl.keepAlive();
      return conn.complete(ctx, 0);
    case AdminOpc.AsyncEventRequest:
      return; // held: this target relays no asynchronous events; ends with the association
    case AdminOpc.Abort:
      return conn.complete(ctx, 0, 1); // bit 0 set: not aborted
  }
  if (ctrl.isDiscovery) return discoveryAdmin(conn, ctx);
  const sub = ctrl.subsystem!;
  const dev = sub.device!;
  switch (ctx.opcode) {
    case AdminOpc.Identify:
      return identify(conn, ctx);
    case AdminOpc.SetFeatures: {
      const fid = cdw(ctx, 10) & 0xff;
      if (fid === FeatureId.NumberOfQueues) {
        const c11 = cdw(ctx, 11);
        const want = Math.max((c11 & 0xffff) + 1, (c11 >>> 16) + 1);
        if ((c11 & 0xffff) === 0xffff || c11 >>> 16 === 0xffff) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
        ctrl.ioQueues = Math.min(want, sub.maxIoQueuesPerHost);
        const n = ctrl.ioQueues - 1;
        return conn.complete(ctx, 0, n | (n << 16));
      }
      if (fid === FID_KATO || fid === FID_ASYNC_EVENT_CONFIG) return conn.complete(ctx, 0);
      return conn.complete(ctx, sf(Sct.CommandSpecific, CommandSpecificSc.FeatureNotChangeable)); // shared device: not per host
    }
    case AdminOpc.GetFeatures: {
      const fid = cdw(ctx, 10) & 0xff;
      if (fid === FeatureId.NumberOfQueues) {
        const n = ctrl.ioQueues - 1;
        return conn.complete(ctx, 0, n | (n << 16));
      }
      if (fid === FID_KATO) return conn.complete(ctx, 0, ctrl.katoMs);
      if (fid === FID_ASYNC_EVENT_CONFIG) return conn.complete(ctx, 0, 0);
      if (ctx.dataLen > 0) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      dev.getFeature(fid, { sel: (cdw(ctx, 10) >>> 8) & 7, nsid: deviceNsid(conn, ctx.nsid), cdw11: cdw(ctx, 11) }).then(
        (dw0) => conn.complete(ctx, 0, dw0),
        (e: Error) => conn.complete(ctx, statusOf(e)),
      );
      return;
    }
    case AdminOpc.GetLogPage: {
      const lid = cdw(ctx, 10) & 0xff;
      if (lid === LOG_COMMAND_EFFECTS) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      const numd = (((cdw(ctx, 11) & 0xffff) << 16) | (cdw(ctx, 10) >>> 16)) + 1;
      const len = Math.min(numd * 4, ctx.dataLen);
      if (len <= 0) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      const offset = cdw(ctx, 12) + cdw(ctx, 13) * 2 ** 32;
      return answer(conn, ctx, dev.getLogPage(lid, len, { nsid: ctx.nsid === 0xffffffff ? ctx.nsid : deviceNsid(conn, ctx.nsid), offset, lsp: (cdw(ctx, 10) >>> 8) & 0xf, rae: (cdw(ctx, 10) & 0x8000) !== 0 }));
    }
    case AdminOpc.DeviceSelfTest:
      return passThrough(conn, ctx);
    case AdminOpc.FormatNvm:
      return sub.adminPolicy.format ? passThrough(conn, ctx) : refuse(conn, ctx);
    case AdminOpc.NamespaceManagement:
    case AdminOpc.NamespaceAttachment:
      return sub.adminPolicy.namespaceManagement ? passThrough(conn, ctx) : refuse(conn, ctx);
    case AdminOpc.FirmwareCommit:
    case AdminOpc.FirmwareDownload:
      return sub.adminPolicy.firmware ? passThrough(conn, ctx) : refuse(conn, ctx);
    case SANITIZE:
      return sub.adminPolicy.sanitize ? passThrough(conn, ctx) : refuse(conn, ctx);
    default:
      // Queue creation and deletion, doorbell buffers, virtualization: not on a fabric; vendor commands: not relayed.
      return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidOpcode));
  }
}

/** The device's NSID for a fabric NSID of this subsystem (0 passes as 0; unknown ones as an impossible 0xfffffffe). */
function deviceNsid(conn: QueueConnection, nsid: number): number {
  if (nsid === 0) return 0;
  return conn.ctrl!.subsystem!.namespaces.get(nsid)?.ns.id ?? 0xfffffffe;
}

function refuse(conn: QueueConnection, ctx: CommandContext): void {
  conn.services.log(`${conn.remote}: admin opcode 0x${ctx.opcode.toString(16)} refused (not allowed by the subsystem's admin policy)`);
  conn.complete(ctx, sf(Sct.Generic, GenericSc.OperationDenied));
}

function passThrough(conn: QueueConnection, ctx: CommandContext): void {
  const dev = conn.ctrl!.subsystem!.device!;
  const data = ctx.dataLen > 0 ? (ctx.buf ?? Buffer.alloc(ctx.dataLen)) : undefined;
  dev.adminCommand({
    opcode: ctx.opcode, nsid: ctx.nsid === 0xffffffff ? ctx.nsid : deviceNsid(conn, ctx.nsid),
    cdw10: cdw(ctx, 10), cdw11: cdw(ctx, 11), cdw12: cdw(ctx, 12), cdw13: cdw(ctx, 13), cdw14: cdw(ctx, 14), cdw15: cdw(ctx, 15), data,
  }).then(
    (r) => ((ctx.opcode & 3) === 2 && r.data ? conn.sendData(ctx, r.data, ctx.dataLen) : conn.complete(ctx, 0, r.dw0)),
    (e: Error) => conn.complete(ctx, statusOf(e)),
  );
}

function identify(conn: QueueConnection, ctx: CommandContext): void {
  const ctrl = conn.ctrl!;
  const sub = ctrl.subsystem!;
  const dev = sub.device!;
  const cns = cdw(ctx, 10) & 0xff;
  const nsid = ctx.nsid;
  switch (cns) {
    case Cns.Controller:
      return answer(conn, ctx, deviceIdentify(dev).then((raw) => fabricsIdentifyController(raw, sub, ctrl.cntlid, dev.maxTransfer, Number(ctrl.cap & 0xffffn) + 1)));
    case Cns.Namespace: {
      const tn = sub.namespaces.get(nsid);
      if (!tn) {
        const nn = Math.max(0, ...sub.namespaces.keys());
        if (nsid === 0 || nsid > nn) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidNamespaceOrFormat));
        return answer(conn, ctx, Promise.resolve(Buffer.alloc(4096))); // inactive
      }
      return answer(conn, ctx, dev.identifyRaw(Cns.Namespace, tn.ns.id).then((raw) => fabricsIdentifyNamespace(raw, sub, nsid)));
    }
    case Cns.ActiveNamespaceList: {
      const b = Buffer.alloc(4096);
      [...sub.namespaces.keys()].filter((n) => n > nsid).sort((a, b2) => a - b2).slice(0, 1024).forEach((n, i) => b.writeUInt32LE(n, i * 4));
      return answer(conn, ctx, Promise.resolve(b));
    }
    case Cns.NamespaceIdDescriptors: {
      const tn = sub.namespaces.get(nsid);
      if (!tn) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidNamespaceOrFormat));
      return answer(conn, ctx, dev.identifyRaw(Cns.Namespace, tn.ns.id).then((raw) => nsDescriptors(fabricsIdentifyNamespace(raw, sub, nsid))));
    }
    case CNS_CS_CONTROLLER:
      return answer(conn, ctx, Promise.resolve(Buffer.alloc(4096))); // NVM command set: no extra limits
    default:
      return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
  }
}

function discoveryAdmin(conn: QueueConnection, ctx: CommandContext): void {
  const ctrl = conn.ctrl!;
  switch (ctx.opcode) {
    case AdminOpc.Identify:
      if ((cdw(ctx, 10) & 0xff) !== Cns.Controller) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      return answer(conn, ctx, Promise.resolve(discoveryIdentifyController(ctrl.cntlid)));
    case AdminOpc.GetLogPage: {
      if ((cdw(ctx, 10) & 0xff) !== LOG_DISCOVERY) return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
      const numd = (((cdw(ctx, 11) & 0xffff) << 16) | (cdw(ctx, 10) >>> 16)) + 1;
      const offset = cdw(ctx, 12) + cdw(ctx, 13) * 2 ** 32;
      const page = conn.services.discoveryLog(ctrl.hostNqn);
      const out = Buffer.alloc(Math.min(numd * 4, ctx.dataLen));
      if (offset < page.length) page.copy(out, 0, offset, Math.min(page.length, offset + out.length));
      return answer(conn, ctx, Promise.resolve(out));
    }
    case AdminOpc.SetFeatures:
    case AdminOpc.GetFeatures: {
      const fid = cdw(ctx, 10) & 0xff;
      if (fid === FID_KATO) return conn.complete(ctx, 0, ctx.opcode === AdminOpc.GetFeatures ? ctrl.katoMs : 0);
      if (fid === FID_ASYNC_EVENT_CONFIG) return conn.complete(ctx, 0);
      return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidField));
    }
    default:
      return conn.complete(ctx, sf(Sct.Generic, GenericSc.InvalidOpcode));
  }
}

