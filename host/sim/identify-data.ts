// Identify data structures the simulated controller returns (5.15.2):
// Identify Controller (CNS 01h), Identify Namespace (CNS 00h), the Active
// Namespace ID list (CNS 02h) and the Namespace Identification Descriptor
// list (CNS 03h). Built into 4 KiB buffers on the admin path only.
import type { SimConfig } from './config.js';
import type { Namespace } from './namespace.js';
import { VS_1_4, SQES_LOG2, CQES_LOG2 } from '../../assembly/nvme/regs.js';
import * as I from '../../assembly/nvme/identify.js';
import { IDENTIFY_DATA_SIZE } from '../../assembly/nvme/cmd.js';
import { FRMW_SLOT1_RO, FRMW_NSLOTS_SHIFT, LPA_SMART_PER_NS, LPA_EXTENDED_DATA, VWC_PRESENT, VWC_FLUSH_NSID_ALL_SHIFT, VWC_FLUSH_NSID_ALL_SUPPORTED, SQES_MAX_SHIFT, NSFEAT_THINP, NSFEAT_DAE, DLFEAT_READ_ZEROES, DLFEAT_WZ_DEAC, NIDT_EUI64, NIDT_EUI64_LEN, NIDT_NGUID, NIDT_NGUID_LEN, NID_HEADER_SIZE } from '../../assembly/nvme/identify.js';

/** Controller ID of the simulated controller (one controller, no subsystem). */
export const SIM_CNTLID = 1;
/** Entries kept in the Error Information log (Identify ELPE is this - 1). */
export const SIM_ERRLOG_ENTRIES = 64;
/** Composite temperature the device reports, Kelvin (27 C). */
export const SIM_TEMPERATURE_K = 300;
/** Warning / critical composite temperature thresholds, Kelvin (70 C / 100 C, as QEMU). */
export const SIM_WCTEMP_K = 343;
export const SIM_CCTEMP_K = 373;
/** Firmware slots (slot 1, read only). */
export const SIM_FW_SLOTS = 1;
/** Commands fetched from one SQ before moving to the next (round robin burst, Identify RAB = log2). */
export const SIM_ARB_BURST_LOG2 = 5;
/** Optional NVM commands implemented (Identify ONCS). */
export const SIM_ONCS = I.ONCS_COMPARE | I.ONCS_DSM | I.ONCS_WRITE_ZEROES | I.ONCS_SAVE_FEATURES | I.ONCS_VERIFY;
/** The two LBA formats offered: index 0 = 512 bytes, index 1 = 4096 bytes. */
/** The LBA formats described: [LBADS, MS] (512 and 4096 bytes, without and with 8 bytes of metadata). */
export const SIM_LBAFS: ReadonlyArray<readonly [number, number]> = [[9, 0], [12, 0], [9, 8], [12, 8]];
/** Metadata Capabilities: extended LBA (bit 0) and separate buffer (bit 1) both described. */
const SIM_MC = 0x3;

/** ASCII, space padded (Identify SN / MN / FR, firmware slot revisions). */
export function putAscii(buf: Buffer, off: number, len: number, s: string): void {
  buf.fill(0x20, off, off + len);
  buf.write(s.slice(0, len), off, 'latin1');
}

/** A u64 or u128 counter written from a number (exact below 2^53). */
export function putU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v % 2 ** 32, off);
  buf.writeUInt32LE(Math.floor(v / 2 ** 32), off + 4);
}

export function buildIdentifyController(cfg: SimConfig): Buffer {
  const b = Buffer.alloc(IDENTIFY_DATA_SIZE);
  b.writeUInt16LE(cfg.vendorId, I.IDC_VID);
  b.writeUInt16LE(cfg.vendorId, I.IDC_SSVID);
  putAscii(b, I.IDC_SN, I.IDC_SN_LEN, cfg.serial);
  putAscii(b, I.IDC_MN, I.IDC_MN_LEN, cfg.model);
  putAscii(b, I.IDC_FR, I.IDC_FR_LEN, cfg.firmware);
  b.writeUInt8(SIM_ARB_BURST_LOG2, I.IDC_RAB);
  b.writeUInt8(cfg.mdts, I.IDC_MDTS);
  b.writeUInt16LE(SIM_CNTLID, I.IDC_CNTLID);
  b.writeUInt32LE(VS_1_4, I.IDC_VER);
  b.writeUInt16LE(0, I.IDC_OACS); // no optional admin commands
  b.writeUInt8(cfg.acl, I.IDC_ACL);
  b.writeUInt8(cfg.aerl, I.IDC_AERL);
  b.writeUInt8(FRMW_SLOT1_RO | (SIM_FW_SLOTS << FRMW_NSLOTS_SHIFT), I.IDC_FRMW);
  b.writeUInt8(LPA_SMART_PER_NS | LPA_EXTENDED_DATA, I.IDC_LPA);
  b.writeUInt8(SIM_ERRLOG_ENTRIES - 1, I.IDC_ELPE);
  b.writeUInt8(0, I.IDC_NPSS); // one power state
  b.writeUInt16LE(SIM_WCTEMP_K, I.IDC_WCTEMP);
  b.writeUInt16LE(SIM_CCTEMP_K, I.IDC_CCTEMP);
  b.writeUInt8((SQES_LOG2 << SQES_MAX_SHIFT) | SQES_LOG2, I.IDC_SQES);
  b.writeUInt8((CQES_LOG2 << SQES_MAX_SHIFT) | CQES_LOG2, I.IDC_CQES);
  b.writeUInt16LE(Math.min(0xffff, cfg.mqes + 1), I.IDC_MAXCMD);
  b.writeUInt32LE(cfg.namespaces.length, I.IDC_NN);
  b.writeUInt16LE(SIM_ONCS, I.IDC_ONCS);
  b.writeUInt8((cfg.volatileWriteCache ? VWC_PRESENT : 0) | (VWC_FLUSH_NSID_ALL_SUPPORTED << VWC_FLUSH_NSID_ALL_SHIFT), I.IDC_VWC);
  b.writeUInt32LE(0, I.IDC_SGLS); // PRPs only
  b.write(`nqn.2024-01.org.nvme-wasm:sim:${cfg.name}`, I.IDC_SUBNQN, 'latin1');
  return b;
}

/** Identify Namespace for an active namespace (inactive ones are all zeroes). */
export function fillIdentifyNamespace(b: Buffer, ns: Namespace, serial: string): void {
  b.fill(0);
  putU64(b, I.IDNS_NSZE, ns.blocks);
  putU64(b, I.IDNS_NCAP, ns.blocks);
  putU64(b, I.IDNS_NUSE, ns.alloc.used);
  b.writeUInt8(NSFEAT_THINP | NSFEAT_DAE, I.IDNS_NSFEAT);
  b.writeUInt8(SIM_LBAFS.length - 1, I.IDNS_NLBAF);
  const fmt = SIM_LBAFS.findIndex(([lbads, ms]) => lbads === ns.lbaShift && ms === ns.metadataSize);
  b.writeUInt8(fmt | (ns.extendedLba ? I.IDNS_FLBAS_EXTENDED : 0), I.IDNS_FLBAS);
  b.writeUInt8(SIM_MC, I.IDNS_MC);
  b.writeUInt8(DLFEAT_READ_ZEROES | DLFEAT_WZ_DEAC, I.IDNS_DLFEAT);
  putU64(b, I.IDNS_NVMCAP, ns.bytes);
  const { eui64, nguid } = ns.identifiers(serial);
  nguid.copy(b, I.IDNS_NGUID);
  eui64.copy(b, I.IDNS_EUI64);
  SIM_LBAFS.forEach(([lbads, ms], i) => {
    b.writeUInt32LE((lbads << I.LBAF_LBADS_SHIFT) | (ms << I.LBAF_MS_SHIFT), I.IDNS_LBAF0 + i * I.IDNS_LBAF_SIZE);
  });
}

/** Active NSIDs greater than `after`, ascending, zero-terminated (CNS 02h). */
export function fillActiveNamespaceList(b: Buffer, namespaces: Array<Namespace | undefined>, after: number): void {
  b.fill(0);
  let n = 0;
  for (let nsid = after + 1; nsid <= namespaces.length && n < I.NSLIST_MAX; nsid++) {
    if (namespaces[nsid - 1] === undefined) continue;
    b.writeUInt32LE(nsid, n++ * 4);
  }
}

/** Namespace Identification Descriptors (CNS 03h): EUI-64 and NGUID. */
export function fillNamespaceDescriptors(b: Buffer, ns: Namespace, serial: string): void {
  b.fill(0);
  const { eui64, nguid } = ns.identifiers(serial);
  let off = 0;
  for (const [nidt, nidl, id] of [
    [NIDT_EUI64, NIDT_EUI64_LEN, eui64],
    [NIDT_NGUID, NIDT_NGUID_LEN, nguid],
  ] as const) {
    b.writeUInt8(nidt, off);
    b.writeUInt8(nidl, off + 1);
    id.copy(b, off + NID_HEADER_SIZE);
    off += NID_HEADER_SIZE + nidl;
  }
}
