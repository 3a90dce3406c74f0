// The Fabrics and admin commands the host transport sends of its own
// (NVMe-oF 1.1 chapter 3; layouts in assembly/nvme/fabrics.ts): Connect,
// Property Get/Set, Keep Alive, Set Features Number of Queues, Get Log
// Page. Each fills a 64-byte SQE; the transport sets the cid and the SGL.
import {
  FABRICS_OPC, FcType, FAB_FCTYPE, CONNECT_RECFMT, CONNECT_QID, CONNECT_SQSIZE, CONNECT_KATO, CONNECT_DATA_SIZE,
  CONNECT_DATA_HOSTID, CONNECT_DATA_CNTLID, CONNECT_DATA_SUBNQN, CONNECT_DATA_HOSTNQN, PROP_ATTRIB, PROP_OFST, PROP_VALUE,
  PROP_SIZE_4, PROP_SIZE_8, CONNECT_RECFMT_1_0,
} from '../../assembly/nvme/fabrics.js';
import { AdminOpc, SQE_OPC, SQE_NSID, SQE_CDW10, SQE_CDW11, SQE_CDW12, SQE_CDW13, FeatureId } from '../../assembly/nvme/cmd.js';

export function connectSqe(sqe: Buffer, qid: number, sqsize: number, katoMs: number): void {
  sqe.fill(0);
  sqe[SQE_OPC] = FABRICS_OPC;
  sqe[FAB_FCTYPE] = FcType.Connect;
  sqe.writeUInt16LE(CONNECT_RECFMT_1_0, CONNECT_RECFMT);
  sqe.writeUInt16LE(qid, CONNECT_QID);
  sqe.writeUInt16LE(sqsize - 1, CONNECT_SQSIZE);
  sqe.writeUInt32LE(qid === 0 ? katoMs : 0, CONNECT_KATO);
}

export function connectData(hostid: Buffer, cntlid: number, subnqn: string, hostnqn: string): Buffer {
  const d = Buffer.alloc(CONNECT_DATA_SIZE);
  hostid.copy(d, CONNECT_DATA_HOSTID);
  d.writeUInt16LE(cntlid, CONNECT_DATA_CNTLID);
  d.write(subnqn, CONNECT_DATA_SUBNQN, 'utf8');
  d.write(hostnqn, CONNECT_DATA_HOSTNQN, 'utf8');
  return d;
}

export function propertyGetSqe(sqe: Buffer, ofst: number, eight: boolean): void {
  sqe.fill(0);
  sqe[SQE_OPC] = FABRICS_OPC;
  sqe[FAB_FCTYPE] = FcType.PropertyGet;
  sqe[PROP_ATTRIB] = eight ? PROP_SIZE_8 : PROP_SIZE_4;
  sqe.writeUInt32LE(ofst, PROP_OFST);
}

export function propertySetSqe(sqe: Buffer, ofst: number, value: number): void {
  sqe.fill(0);
  sqe[SQE_OPC] = FABRICS_OPC;
  sqe[FAB_FCTYPE] = FcType.PropertySet;
  sqe[PROP_ATTRIB] = PROP_SIZE_4;
  sqe.writeUInt32LE(ofst, PROP_OFST);
  sqe.writeUInt32LE(value >>> 0, PROP_VALUE);
}

export function keepAliveSqe(sqe: Buffer): void {
  sqe.fill(0);
  sqe[SQE_OPC] = AdminOpc.KeepAlive;
}

export function setQueueCountSqe(sqe: Buffer, n: number): void {
  sqe.fill(0);
  sqe[SQE_OPC] = AdminOpc.SetFeatures;
  sqe.writeUInt32LE(FeatureId.NumberOfQueues, SQE_CDW10);
  sqe.writeUInt32LE(((n - 1) | ((n - 1) << 16)) >>> 0, SQE_CDW11);
}

/** Get Log Page (5.14) of `bytes` (a dword multiple) from byte `offset`. */
export function getLogPageSqe(sqe: Buffer, lid: number, bytes: number, offset: number): void {
  sqe.fill(0);
  sqe[SQE_OPC] = AdminOpc.GetLogPage;
  sqe.writeUInt32LE(0, SQE_NSID);
  const numd = bytes / 4 - 1;
  sqe.writeUInt32LE((lid & 0xff) | ((numd & 0xffff) << 16), SQE_CDW10);
  sqe.writeUInt32LE(numd >>> 16, SQE_CDW11);
  sqe.writeUInt32LE(offset >>> 0, SQE_CDW12);
  sqe.writeUInt32LE(Math.floor(offset / 2 ** 32), SQE_CDW13);
}
