// The NVMe/TCP transport as host/transport.ts's Transport: no BAR (a window
// of plain memory takes the core's doorbell writes), no DMA mapping (the
// region is at IOVA_BASE for the core's PRPs, and the association finds
// each command's buffer from them), registers as properties, and the
// association (association.ts) playing the device on the rings.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { FabricAssociation } from './association.js';
import { resolveFabricsOptions, formatTcpTransportId, type TcpTransportId } from './options.js';

/** Bytes of the memory window standing in for BAR0 (doorbells of up to 8000 queues, written and never read). */
const FAKE_BAR = 64 * 1024;

/** host/transport.ts's Transport, with the fabric's association (written out: transport.ts imports this file). */
export interface TcpTransport {
  readonly trid: string;
  readonly description: string;
  readonly embedded: false;
  readonly barSize: number;
  readonly registers: FabricAssociation['registers'];
  readonly fabric: FabricAssociation;
  mapBar(base: bigint, memOff: number): void;
  mapDma(regionPath: string, iova: bigint, size: number, vaddr: bigint): Promise<undefined>;
  close(): Promise<void>;
}

function readTrimmed(p: string): string | undefined {
  try {
    const t = fs.readFileSync(p, 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

let processHostId: Buffer | undefined;

/**
 * The host identity, as nvme-cli finds it: /etc/nvme/hostid and
 * /etc/nvme/hostnqn when they exist, else a random UUID for this process
 * and the NQN made from it (nqn.2014-08.org.nvmexpress:uuid:UUID).
 */
export function hostIdentity(): { hostid: Buffer; hostnqn: string } {
  const fileId = readTrimmed('/etc/nvme/hostid');
  const uuid = fileId && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(fileId) ? fileId : undefined;
  processHostId ??= Buffer.from((uuid ?? crypto.randomUUID()).replace(/-/g, ''), 'hex');
  const hex = processHostId.toString('hex');
  const u = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { hostid: processHostId, hostnqn: readTrimmed('/etc/nvme/hostnqn') ?? `nqn.2014-08.org.nvmexpress:uuid:${u}` };
}

/** Connect to the subsystem `id` names (admin queue of `adminDepth` entries) and make the Transport. */
export async function openTcpTransport(id: TcpTransportId, adminDepth: number): Promise<TcpTransport> {
  const who = hostIdentity();
  const opts = resolveFabricsOptions(id.fabrics, who.hostnqn);
  const fabric = await FabricAssociation.open(id, opts, who.hostid, adminDepth);
  const trid = formatTcpTransportId(id) + (id.fabrics?.hostnqn ? ` hostnqn:${id.fabrics.hostnqn}` : '');
  return {
    trid,
    description: formatTcpTransportId(id),
    embedded: false,
    barSize: FAKE_BAR,
    registers: fabric.registers,
    fabric,
    mapBar() {},
    mapDma: async () => undefined,
    close: () => fabric.close(),
  };
}
