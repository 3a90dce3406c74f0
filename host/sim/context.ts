// What the command handlers (admin.ts, features.ts, nvm.ts) see of the
// simulated controller: its configuration, namespaces, DMA window, queues
// and completion side. controller.ts implements it; the handlers import
// only this type, so no import circle forms between them and the controller.
import type { SimConfig } from './config.js';
import type { DmaWindow } from './dma.js';
import type { PrpWalker } from './prp.js';
import type { HostTransfer } from './transfer.js';
import type { Namespace } from './namespace.js';
import type { ErrorLog } from './logs.js';
import type { Features } from './feature-values.js';
import type { QueueSet } from './queue-set.js';
import type { Completions } from './completions.js';
import type { AsyncEvents } from './events.js';

/** The simulated controller as its command handlers use it. */
export interface SimContext {
  readonly cfg: SimConfig;
  readonly namespaces: Namespace[];
  readonly win: DmaWindow;
  /** The PRP walker, holding the segments of the last walk. */
  readonly prp: PrpWalker;
  /** PRP-described transfers of a command's data. */
  readonly dma: HostTransfer;
  readonly errors: ErrorLog;
  readonly features: Features;
  readonly identifyController: Buffer;
  /** Admin data buffer: Identify pages, log pages, DSM ranges. */
  readonly scratch: Buffer;
  /** Largest data transfer (MDTS), bytes. */
  readonly maxTransfer: number;
  readonly powerOnMs: number;
  readonly queues: QueueSet;
  readonly completions: Completions;
  readonly events: AsyncEvents;
}
