// Discovery (NVMe-oF 5): connect to the discovery subsystem of ADDR:PORT,
// enable it, read log page 70h (header, then every record), disconnect.
// What `nvme-wasm discover` prints, like `nvme discover`.
import {
  DISCOVERY_NQN, LOG_DISCOVERY, DISC_GENCTR, DISC_NUMREC, DISC_RECFMT, DISC_HDR_SIZE, DISCE_SIZE, DISCE_TRTYPE, DISCE_ADRFAM,
  DISCE_SUBTYPE, DISCE_TREQ, DISCE_PORTID, DISCE_CNTLID, DISCE_ASQSZ, DISCE_EFLAGS, DISCE_TRSVCID, DISCE_TRSVCID_LEN, DISCE_SUBNQN,
  NQN_FIELD_LEN, DISCE_TRADDR, DISCE_TRADDR_LEN, DISCE_TSAS, TRTYPE_TCP, ADRFAM_IPV4, ADRFAM_IPV6, SUBTYPE_REFERRAL, SUBTYPE_NVME,
  SUBTYPE_DISCOVERY, TREQ_SQ_FLOW_CONTROL_DISABLE,
} from '../../assembly/nvme/fabrics.js';
import { CC_CSS_NVM, CC_CSS_SHIFT, CC_IOSQES_SHIFT, CC_IOCQES_SHIFT, CC_EN_SHIFT, SQES_LOG2, CQES_LOG2 } from '../../assembly/nvme/regs.js';
import { SQE_SIZE } from '../../assembly/nvme/cmd.js';
import { NVME_TCP_DISCOVERY_PORT } from '../../assembly/nvme/tcp.js';
import { FabricAssociation } from './association.js';
import { getLogPageSqe } from './capsules.js';
import { resolveFabricsOptions, type FabricsOptions } from './options.js';
import { hostIdentity } from './tcp-transport.js';
import { NvmfConnectError } from './errors.js';
import { statusError } from '../errors.js';

/** One discovery log entry (NVMe-oF 5.3, Figure "Discovery Log Page Entry"). */
export interface DiscoveryEntry {
  trtype: number;
  adrfam: number;
  subtype: number;
  treq: number;
  portid: number;
  cntlid: number;
  asqsz: number;
  eflags: number;
  trsvcid: string;
  subnqn: string;
  traddr: string;
  /** TSAS, TCP: security type (0 none). */
  sectype: number;
}

export interface DiscoveryLog {
  genctr: bigint;
  numrec: number;
  recfmt: number;
  entries: DiscoveryEntry[];
}

const MAX_RECORDS = 1024;

function text(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return (nul >= 0 ? s.subarray(0, nul) : s).toString('latin1').trimEnd();
}

/** Parse a discovery log page (header and `numrec` entries, or as many as `b` holds). */
export function parseDiscoveryLog(b: Buffer): DiscoveryLog {
  const numrec = Number(b.readBigUInt64LE(DISC_NUMREC));
  const entries: DiscoveryEntry[] = [];
  for (let i = 0; i < numrec && DISC_HDR_SIZE + (i + 1) * DISCE_SIZE <= b.length; i++) {
    const e = DISC_HDR_SIZE + i * DISCE_SIZE;
    entries.push({
      trtype: b[e + DISCE_TRTYPE]!, adrfam: b[e + DISCE_ADRFAM]!, subtype: b[e + DISCE_SUBTYPE]!, treq: b[e + DISCE_TREQ]!,
      portid: b.readUInt16LE(e + DISCE_PORTID), cntlid: b.readUInt16LE(e + DISCE_CNTLID), asqsz: b.readUInt16LE(e + DISCE_ASQSZ),
      eflags: b.readUInt16LE(e + DISCE_EFLAGS), trsvcid: text(b, e + DISCE_TRSVCID, DISCE_TRSVCID_LEN), subnqn: text(b, e + DISCE_SUBNQN, NQN_FIELD_LEN),
      traddr: text(b, e + DISCE_TRADDR, DISCE_TRADDR_LEN), sectype: b[e + DISCE_TSAS]!,
    });
  }
  return { genctr: b.readBigUInt64LE(DISC_GENCTR), numrec, recfmt: b.readUInt16LE(DISC_RECFMT), entries };
}

/** Read the discovery log page of the discovery controller at `traddr:trsvcid` (default port 8009). */
export async function discover(traddr: string, trsvcid = NVME_TCP_DISCOVERY_PORT, o: Partial<FabricsOptions> = {}): Promise<DiscoveryLog> {
  const who = hostIdentity();
  const opts = resolveFabricsOptions({ katoMs: 0, ...o }, who.hostnqn);
  const a = await FabricAssociation.open({ trtype: 'tcp', adrfam: traddr.includes(':') ? 'ipv6' : 'ipv4', traddr, trsvcid, subnqn: DISCOVERY_NQN }, opts, who.hostid, 32);
  try {
    await a.enable((CC_CSS_NVM << CC_CSS_SHIFT) | (SQES_LOG2 << CC_IOSQES_SHIFT) | (CQES_LOG2 << CC_IOCQES_SHIFT) | (1 << CC_EN_SHIFT));
    const read = async (bytes: number): Promise<Buffer> => {
      const buf = Buffer.alloc(bytes);
      const sqe = Buffer.alloc(SQE_SIZE);
      getLogPageSqe(sqe, LOG_DISCOVERY, bytes, 0);
      const r = await a.adminCommand(sqe, { read: buf });
      if (r.sf !== 0) throw statusError(r.sf, 0x02, 0, 0);
      return buf;
    };
    const head = await read(DISC_HDR_SIZE);
    const numrec = Number(head.readBigUInt64LE(DISC_NUMREC));
    if (numrec > MAX_RECORDS) throw new NvmfConnectError(`${traddr}:${trsvcid}: discovery log claims ${numrec} records (at most ${MAX_RECORDS} read)`, 'rejected', `${traddr}:${trsvcid}`);
    return parseDiscoveryLog(numrec === 0 ? head : await read(DISC_HDR_SIZE + numrec * DISCE_SIZE));
  } finally {
    await a.close();
  }
}

const TRTYPES: Record<number, string> = { 1: 'rdma', 2: 'fc', [TRTYPE_TCP]: 'tcp', 254: 'loop' };
const ADRFAMS: Record<number, string> = { [ADRFAM_IPV4]: 'ipv4', [ADRFAM_IPV6]: 'ipv6', 3: 'infiniband', 4: 'fibre-channel', 254: 'loop' };
const SUBTYPES: Record<number, string> = { [SUBTYPE_REFERRAL]: 'discovery subsystem referral', [SUBTYPE_NVME]: 'nvme subsystem', [SUBTYPE_DISCOVERY]: 'current discovery subsystem' };
const TREQS = ['not specified', 'required', 'not required', 'reserved'];

/** The log as `nvme discover` prints it. */
export function formatDiscoveryLog(log: DiscoveryLog): string {
  const out = [`\nDiscovery Log Number of Records ${log.numrec}, Generation counter ${log.genctr}`];
  log.entries.forEach((e, i) => {
    const treq = `${TREQS[e.treq & 3]}${e.treq & TREQ_SQ_FLOW_CONTROL_DISABLE ? ', sq flow control disable supported' : ''}`;
    out.push(
      `=====Discovery Log Entry ${i}======`,
      `trtype:  ${TRTYPES[e.trtype] ?? 'unrecognized'}`,
      `adrfam:  ${ADRFAMS[e.adrfam] ?? 'unrecognized'}`,
      `subtype: ${SUBTYPES[e.subtype] ?? 'unrecognized'}`,
      `treq:    ${treq}`,
      `portid:  ${e.portid}`,
      `trsvcid: ${e.trsvcid}`,
      `subnqn:  ${e.subnqn}`,
      `traddr:  ${e.traddr}`,
      `eflags:  ${e.eflags === 0 ? 'none' : `0x${e.eflags.toString(16)}`}`,
      `sectype: ${e.sectype === 0 ? 'none' : e.sectype}`,
    );
  });
  return `${out.join('\n')}\n`;
}
