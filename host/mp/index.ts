// Messaging between the processes of a group (DPDK rte_mp model).
export { Messaging, runDir, groupSocketDir, type MpPeer, type MpAnswer, type MpReply, type MpHandler, type MpRequestOptions } from './messaging.js';
export { MP_MAX_PAYLOAD, MP_NAME_PATTERN, MP_RESERVED_PREFIX, MP_DEFAULT_TIMEOUT_MS } from './protocol.js';
export { NOTIFY_ACTION, type GroupNotification, type NotificationKind } from './notify.js';
