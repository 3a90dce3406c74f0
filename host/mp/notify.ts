// The driver's own notifications between the processes of a group, sent
// over the messaging layer under one reserved action name. The sender's
// routing applies: the primary's notifications reach every secondary; a
// secondary's reach the primary. A receiving controller emits them as its
// 'notification' event.
//
//   kind            sent by                 detail
//   asyncEvent      the primary             { dw0, type, info, logPage }: an Asynchronous
//                                           Event Request completed (NVMe 1.4 5.2.1)
//   primaryMoved    the new primary         { slot, pid }: it took the role (the old one left or died)
//   resetDone       whoever ran the reset   { reason, generation, resets }: a controller reset
//                                           finished (host/reset.ts); each member also gets
//                                           its own 'reset' event once its queues are back
//   deviceRemoved   whoever noticed         { reason: 'removed', message }: registers read all ones
import { AER_TYPE_SHIFT, AER_TYPE_MASK, AER_INFO_SHIFT, AER_INFO_MASK, AER_LID_SHIFT, AER_LID_MASK } from '../../assembly/nvme/cmd.js';
import type { MpPeer } from './types.js';

export const NOTIFY_ACTION = 'nvme-wasm:notify';

export type NotificationKind = 'asyncEvent' | 'primaryMoved' | 'resetDone' | 'deviceRemoved';
export const NOTIFICATION_KINDS: readonly NotificationKind[] = ['asyncEvent', 'primaryMoved', 'resetDone', 'deviceRemoved'];

export interface GroupNotification {
  kind: NotificationKind;
  detail: Record<string, unknown>;
  /** The process that sent it. */
  from: MpPeer;
}

/** The fields of an asynchronous event's completion dword 0 (Figure 146). */
export function asyncEventDetail(dw0: number): Record<string, unknown> {
  return {
    dw0,
    type: (dw0 >>> AER_TYPE_SHIFT) & AER_TYPE_MASK,
    info: (dw0 >>> AER_INFO_SHIFT) & AER_INFO_MASK,
    logPage: (dw0 >>> AER_LID_SHIFT) & AER_LID_MASK,
  };
}
