// Identify data as a fabrics host sees it: the device's Identify Controller
// rewritten with the fabric fields (the kernel checks CNTLID, KAS, IOCCSZ,
// IORCSZ, ICDOFF, SGLS, SUBNQN, CNTRLTYPE, MAXCMD), the discovery
// controller's, namespace data with a stable NGUID, and the discovery log.
import crypto from 'node:crypto';
import {
  IDC_SN, IDC_SN_LEN, IDC_MN, IDC_MN_LEN, IDC_CMIC, IDC_MDTS, IDC_CNTLID, IDC_VER, IDC_OAES, IDC_OACS, IDC_LPA, IDC_SGLS, IDC_SUBNQN, IDC_MAXCMD,
  IDC_NN, IDC_ONCS, IDC_AERL, IDC_SQES, IDC_CQES, OACS_FORMAT, OACS_FIRMWARE, OACS_NS_MGMT, OACS_DBBUF_CONFIG, OACS_VIRT_MGMT, OACS_DIRECTIVES,
  OACS_SECURITY, ONCS_TIMESTAMP, ONCS_RESERVATIONS, IDNS_NGUID, IDNS_NMIC,
} from '../../../assembly/nvme/identify.js';
import {
  IDC_CNTRLTYPE, IDC_KAS, IDC_IOCCSZ, IDC_IORCSZ, IDC_ICDOFF, IDC_FCATT, IDC_MSDBD, CNTRLTYPE_IO, CNTRLTYPE_DISCOVERY, CAPSULE_UNIT,
  SGLS_SUPPORTED_NO_ALIGN, SGLS_OFFSET, DISCOVERY_NQN, DISC_GENCTR, DISC_NUMREC, DISC_RECFMT, DISC_HDR_SIZE, DISCE_TRTYPE, DISCE_ADRFAM,
  DISCE_SUBTYPE, DISCE_TREQ, DISCE_PORTID, DISCE_CNTLID, DISCE_ASQSZ, DISCE_TRSVCID, DISCE_TRSVCID_LEN, DISCE_SUBNQN, DISCE_TRADDR,
  DISCE_TRADDR_LEN, DISCE_TSAS, DISCE_SIZE, TRTYPE_TCP, ADRFAM_IPV4, ADRFAM_IPV6, SUBTYPE_NVME, SUBTYPE_DISCOVERY, TREQ_SECURE_NOT_REQUIRED,
  CNTLID_DYNAMIC, TSAS_TCP_SECTYPE_NONE,
} from '../../../assembly/nvme/fabrics.js';
import { FABRICS_VS } from './association.js';
import type { Subsystem } from './subsystem.js';

/** Keep Alive granularity the target reports (KAS, 100 ms units): 1 = 100 ms. */
export const KAS_100MS = 1;
const OACS_REFUSED = OACS_SECURITY | OACS_DIRECTIVES | OACS_DBBUF_CONFIG | OACS_VIRT_MGMT;

function putAscii(b: Buffer, off: number, len: number, s: string): void {
  b.fill(0x20, off, off + len);
  b.write(s.slice(0, len), off, 'latin1');
}

function putNqn(b: Buffer, off: number, s: string): void {
  b.fill(0, off, off + 256);
  b.write(s, off, 'utf8');
}

/** MDTS (2^n 4 KiB pages) for `maxTransfer` bytes. */
export function mdtsFor(maxTransfer: number): number {
  return Math.max(0, Math.floor(Math.log2(maxTransfer / 4096)));
}

/**
 * The device's Identify Controller (`raw`) as controller `cntlid` of `sub`
 * reports it: identity, limits and the fabric fields; admin commands the
 * target refuses are not advertised, nor features it does not relay
 * (asynchronous event configuration, timestamps, reservations, effects log).
 */
export function fabricsIdentifyController(raw: Uint8Array, sub: Subsystem, cntlid: number, maxTransfer: number, maxcmd: number): Buffer {
  const b = Buffer.from(raw.subarray(0, 4096));
  if (sub.serial !== undefined) putAscii(b, IDC_SN, IDC_SN_LEN, sub.serial);
  putAscii(b, IDC_MN, IDC_MN_LEN, sub.model);
  b[IDC_CMIC] = (b[IDC_CMIC]! | 0x2) & 0x3; // bit 1: may hold more than one controller (one per host)
  b[IDC_MDTS] = mdtsFor(maxTransfer);
  b.writeUInt16LE(cntlid, IDC_CNTLID);
  b.writeUInt32LE(FABRICS_VS, IDC_VER);
  b.writeUInt32LE(0, IDC_OAES); // no asynchronous events relayed
  let oacs = b.readUInt16LE(IDC_OACS) & ~OACS_REFUSED;
  if (!sub.adminPolicy.format) oacs &= ~OACS_FORMAT;
  if (!sub.adminPolicy.firmware) oacs &= ~OACS_FIRMWARE;
  if (!sub.adminPolicy.namespaceManagement) oacs &= ~OACS_NS_MGMT;
  b.writeUInt16LE(oacs, IDC_OACS);
  b[IDC_LPA] = b[IDC_LPA]! & ~0x2; // no Commands Supported and Effects log
  b[IDC_AERL] = 3;
  b.writeUInt16LE(KAS_100MS, IDC_KAS);
  b[IDC_CNTRLTYPE] = CNTRLTYPE_IO;
  b[IDC_SQES] = 0x66;
  b[IDC_CQES] = 0x44;
  b.writeUInt16LE(maxcmd, IDC_MAXCMD);
  b.writeUInt32LE(Math.max(0, ...sub.namespaces.keys()), IDC_NN);
  b.writeUInt16LE(b.readUInt16LE(IDC_ONCS) & ~(ONCS_TIMESTAMP | ONCS_RESERVATIONS), IDC_ONCS);
  b.writeUInt32LE(SGLS_SUPPORTED_NO_ALIGN | SGLS_OFFSET, IDC_SGLS);
  b.fill(0, 264, 266); // APSTA and friends: no autonomous power state transitions over the fabric
  putNqn(b, IDC_SUBNQN, sub.nqn);
  b.writeUInt32LE((64 + sub.inCapsuleDataSize) / CAPSULE_UNIT, IDC_IOCCSZ);
  b.writeUInt32LE(16 / CAPSULE_UNIT, IDC_IORCSZ);
  b.writeUInt16LE(0, IDC_ICDOFF);
  b[IDC_FCATT] = 0; // dynamic controller model
  b[IDC_MSDBD] = 1;
  b.fill(0, 2048, 4096); // power state descriptors beyond the first and vendor data: the device's own business
  return b;
}

/** Identify Controller of the discovery controller (NVMe-oF 5). */
export function discoveryIdentifyController(cntlid: number): Buffer {
  const b = Buffer.alloc(4096);
  putAscii(b, IDC_SN, IDC_SN_LEN, 'nvme-wasm-discovery');
  putAscii(b, IDC_MN, IDC_MN_LEN, 'nvme-wasm NVMe/TCP discovery');
  putAscii(b, 64, 8, '0.1.0');
  b[IDC_MDTS] = 0;
  b.writeUInt16LE(cntlid, IDC_CNTLID);
  b.writeUInt32LE(FABRICS_VS, IDC_VER);
  b[IDC_LPA] = 0x4; // extended data for Get Log Page
  b.writeUInt16LE(KAS_100MS, IDC_KAS);
  b[IDC_CNTRLTYPE] = CNTRLTYPE_DISCOVERY;
  b[IDC_AERL] = 3;
  b.writeUInt16LE(32, IDC_MAXCMD);
  b.writeUInt32LE(SGLS_SUPPORTED_NO_ALIGN | SGLS_OFFSET, IDC_SGLS);
  putNqn(b, IDC_SUBNQN, DISCOVERY_NQN);
  b.writeUInt32LE(4, IDC_IOCCSZ);
  b.writeUInt32LE(1, IDC_IORCSZ);
  return b;
}

/** A stable NGUID for a namespace without one: from the subsystem NQN and the NSID. */
export function nguidFor(subNqn: string, nsid: number): Buffer {
  return crypto.createHash('sha256').update(`${subNqn}\0${nsid}`).digest().subarray(0, 16);
}

/** The device's Identify Namespace as a fabrics host sees it (NMIC shared; an NGUID always). */
export function fabricsIdentifyNamespace(raw: Uint8Array, sub: Subsystem, nsid: number): Buffer {
  const b = Buffer.from(raw.subarray(0, 4096));
  b[IDNS_NMIC] = b[IDNS_NMIC]! | 1; // may be attached to two or more controllers
  if (b.subarray(IDNS_NGUID, IDNS_NGUID + 16).every((x) => x === 0)) nguidFor(sub.nqn, nsid).copy(b, IDNS_NGUID);
  return b;
}

/** Namespace Identification Descriptor list (CNS 03h): the NGUID of `idns`. */
export function nsDescriptors(idns: Buffer): Buffer {
  const b = Buffer.alloc(4096);
  b[0] = 2; // NIDT: NGUID
  b[1] = 16;
  idns.copy(b, 4, IDNS_NGUID, IDNS_NGUID + 16);
  return b;
}

/** A listener as the discovery log lists it. */
export interface DiscoveryPort {
  portId: number;
  address: string;
  port: number;
}

/** The discovery log page (70h): every subsystem the host may use x every listener, and this discovery subsystem on each. */
export function discoveryLogPage(genctr: number, subsystems: Subsystem[], ports: DiscoveryPort[], hostNqn: string): Buffer {
  const entries: Array<{ sub: string; subtype: number; p: DiscoveryPort }> = [];
  for (const p of ports) entries.push({ sub: DISCOVERY_NQN, subtype: SUBTYPE_DISCOVERY, p });
  for (const s of subsystems) if (s.allows(hostNqn)) for (const p of ports) entries.push({ sub: s.nqn, subtype: SUBTYPE_NVME, p });
  const b = Buffer.alloc(DISC_HDR_SIZE + entries.length * DISCE_SIZE);
  b.writeBigUInt64LE(BigInt(genctr), DISC_GENCTR);
  b.writeBigUInt64LE(BigInt(entries.length), DISC_NUMREC);
  b.writeUInt16LE(0, DISC_RECFMT);
  entries.forEach((e, i) => {
    const o = DISC_HDR_SIZE + i * DISCE_SIZE;
    b[o + DISCE_TRTYPE] = TRTYPE_TCP;
    b[o + DISCE_ADRFAM] = e.p.address.includes(':') ? ADRFAM_IPV6 : ADRFAM_IPV4;
    b[o + DISCE_SUBTYPE] = e.subtype;
    b[o + DISCE_TREQ] = TREQ_SECURE_NOT_REQUIRED;
    b.writeUInt16LE(e.p.portId, o + DISCE_PORTID);
    b.writeUInt16LE(CNTLID_DYNAMIC, o + DISCE_CNTLID);
    b.writeUInt16LE(32, o + DISCE_ASQSZ);
    putAscii(b, o + DISCE_TRSVCID, DISCE_TRSVCID_LEN, String(e.p.port));
    putNqn(b, o + DISCE_SUBNQN, e.sub);
    putAscii(b, o + DISCE_TRADDR, DISCE_TRADDR_LEN, e.p.address);
    b[o + DISCE_TSAS] = TSAS_TCP_SECTYPE_NONE;
  });
  return b;
}
