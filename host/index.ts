// nvme-wasm: the public API.
export { Controller, type ControllerOptions, type Registers } from './controller.js';
export { Namespace, type IoOptions, type BlockRange } from './namespace.js';
export { PollMode, type PollerCounters } from './promise-poller.js';
export type { CompletionMode } from './interrupts.js';
export { QueuePair, type IoCallback, type BogusCompletion, type QueuePairStats } from './qpair.js';
export { IoQueuePair, type IoNamespace, type CommandOptions } from './io-qpair.js';
export type { PassthroughCommand } from './passthrough.js';
export type { QueuePairOptions } from './queue-pairs.js';
export { DmaBuffer } from './dma.js';
export {
  NvmeError, NvmeStatusError, NvmeTimeoutError, InvalidArgumentError, ControllerError, ControllerResetError, ResourceError, HalError,
  MessageTooLargeError, PcieError, CoreStatusError, VerifyError, UnsafePathError,
  statusName, opcodeName, GroupAccessError, UnsupportedNamespaceError,
} from './errors.js';
export { parseTransportId, type TransportId } from './trid.js';
export type { ControllerData, NamespaceData, LbaFormat, PowerStateDescriptor, NamespaceIdDescriptor, SmartLog, ErrorLogEntry, FirmwareSlotLog } from './identify.js';
export type { SimConfigInput, SimConfig } from './sim/config.js';
export { Sct, GenericSc, CommandSpecificSc, MediaSc, PathSc } from '../assembly/nvme/status.js';
export { NvmfConnectError, type NvmfConnectReason } from './fabrics/errors.js';
export { NvmfProtocolError } from './nvmf/errors.js';
export { discover, formatDiscoveryLog, type DiscoveryLog, type DiscoveryEntry } from './fabrics/discovery.js';
export type { TcpTransportId, FabricsOptions } from './fabrics/options.js';
export type { FabricEvent } from './fabrics/association.js';
export { AdminOpc, NvmOpc, FeatureId, LogId, Cns } from '../assembly/nvme/cmd.js';
export { Messaging, MP_MAX_PAYLOAD, MP_RESERVED_PREFIX, MP_DEFAULT_TIMEOUT_MS, type MpPeer, type MpAnswer, type MpReply, type MpHandler, type MpRequestOptions, type GroupNotification, type NotificationKind } from './mp/index.js';
export { type GroupStats, type ProcessSnapshot, type QueuePairSnapshot, type QueuePairCounters, type LatencySummary } from './stats.js';
export { GroupMonitor, type MonitorOptions, type GroupEnd } from './monitor.js';
