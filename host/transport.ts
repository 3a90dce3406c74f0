// How a controller is reached: where its BAR0 comes from and how the shared
// region becomes DMA-able. The simulated controller is one transport; PCIe
// (VFIO, uio) is another, added by the real-hardware work.
import { openFile, closeFd, mapFixed, O_RDWR } from '../hal/index.js';
import type { TransportId } from './trid.js';
import type { SimConfigInput } from './sim/config.js';
import type { SimClient } from './sim/client.js';
import { ControllerError } from './errors.js';

export interface Transport {
  /** As SPDK would print it, e.g. 'trtype:sim name:sim0'. */
  readonly description: string;
  /** A transport ID another process can open to reach the same device. */
  readonly trid: string;
  readonly barSize: number;
  /** True when the device is this process's own (embedded) simulator. */
  readonly embedded: boolean;
  /** The simulated controller's sideband (fault injection, events), for sim transports. */
  readonly sim?: SimClient;
  /** Map BAR0 over memory offset `memOff` of a memory whose base is `base`. */
  mapBar(base: bigint, memOff: number): void;
  /** Make the region file DMA-able at device address `iova`. */
  mapDma(regionPath: string, iova: bigint, size: number): Promise<void>;
  /** Detach (and for an embedded simulator, stop it). */
  close(): Promise<void>;
}

/** Device address of region offset 0 (VFIO-style scheme; above 4 GiB to exercise 64-bit PRPs). */
export const IOVA_BASE = 0x1_0000_0000n;

let embeddedCount = 0;

export async function openTransport(id: TransportId, sim: SimConfigInput | undefined): Promise<Transport> {
  // Imported here so that tools that never use the simulator do not load it.
  const simMod = await import('./sim/index.js');
  if (id.trtype === 'embedded') {
    const name = sim?.name ?? `emb-${process.pid}-${embeddedCount++}`;
    const handle = await simMod.startSimWorker({ ...(sim ?? {}), name });
    return simTransport(handle.client, `trtype:sim name:${name}`, `trtype:sim name:${name} (embedded)`, true, () => handle.stop());
  }
  if (id.trtype === 'sim') {
    const client = simMod.SimClient.open(id.name, id.directory);
    const trid = `trtype:sim name:${id.name}${id.directory ? ` dir:${id.directory}` : ''}`;
    return simTransport(client, trid, `trtype:sim name:${id.name}`, false, async () => client.close());
  }
  throw new ControllerError(`transport ${id.trtype} is not supported yet`, 'unsupported');
}

function simTransport(client: SimClient, trid: string, description: string, embedded: boolean, close: () => Promise<void>): Transport {
  return {
    trid,
    description,
    embedded,
    sim: client,
    barSize: client.barSize,
    mapBar(base, memOff) {
      const fd = openFile(client.barPath, O_RDWR);
      try {
        mapFixed(base, memOff, client.barSize, fd);
      } finally {
        closeFd(fd); // the mapping keeps the file
      }
    },
    mapDma: (path, iova, size) => client.mapDma(path, iova, size),
    close,
  };
}
