// The driver's own notifications to the group (host/mp/notify.ts has the
// kinds and what each carries): sending one, and turning those that arrive
// into a controller's 'notification' events.
import type { Messaging } from './mp/messaging.js';
import { NOTIFY_ACTION, NOTIFICATION_KINDS, type GroupNotification, type NotificationKind } from './mp/notify.js';

/** Send a notification (fire and forget: never throws). */
export function sendNotification(mp: Messaging, kind: NotificationKind, detail: Record<string, unknown>): void {
  mp.sendAction(NOTIFY_ACTION, { kind, detail }).catch(() => {});
}

/** Hand every well-formed notification that arrives to `deliver`; others are dropped. */
export function listenNotifications(mp: Messaging, deliver: (n: GroupNotification) => void): void {
  mp.registerAction(NOTIFY_ACTION, (payload, from) => {
    const p = payload as { kind?: unknown; detail?: unknown } | null;
    if (!p || !NOTIFICATION_KINDS.includes(p.kind as NotificationKind)) return;
    const detail = typeof p.detail === 'object' && p.detail !== null ? (p.detail as Record<string, unknown>) : {};
    deliver({ kind: p.kind as NotificationKind, detail, from });
  });
}
