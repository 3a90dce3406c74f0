// What may travel between the processes of a group: action names, payloads
// as JSON text within MP_MAX_PAYLOAD, a request's options. Each check
// throws an InvalidArgumentError (or MessageTooLargeError) naming what was wrong.
import { InvalidArgumentError, MessageTooLargeError } from '../errors.js';
import { checkInt } from '../validate.js';
import { MP_MAX_PAYLOAD, MP_NAME_PATTERN, MP_RESERVED_PREFIX, MP_DEFAULT_TIMEOUT_MS } from './protocol.js';
import type { MpRequestOptions } from './types.js';

/** An action name; the driver's own prefix only when `allowReserved`. */
export function checkName(name: string, allowReserved: boolean): void {
  if (typeof name !== 'string' || !MP_NAME_PATTERN.test(name)) throw new InvalidArgumentError('name', 'an action name of 1 to 64 letters, digits, _ . : -', name);
  if (!allowReserved && name.startsWith(MP_RESERVED_PREFIX)) throw new InvalidArgumentError('name', `a name not beginning with '${MP_RESERVED_PREFIX}' (reserved for the driver)`, name);
}

/** JSON text of a payload, within the limit. */
export function encodePayload(what: string, payload: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload ?? null);
  } catch (e) {
    throw new InvalidArgumentError(what, `a JSON-serialisable value (${(e as Error).message})`);
  }
  if (text === undefined) throw new InvalidArgumentError(what, 'a JSON-serialisable value', typeof payload);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MP_MAX_PAYLOAD) throw new MessageTooLargeError(what, size, MP_MAX_PAYLOAD);
  return text;
}

/** A payload as received: null when absent, undefined when it is not JSON (a broken peer). */
export function parsePayload(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A request's payload as JSON text, and its timeout. */
export function checkRequest(payload: unknown, opts: MpRequestOptions): { text: string; timeoutMs: number } {
  if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('opts', 'an object such as { timeoutMs: 1000 }', opts);
  const timeoutMs = checkInt('timeoutMs', opts.timeoutMs ?? MP_DEFAULT_TIMEOUT_MS, 1, 3_600_000);
  return { text: encodePayload('payload', payload), timeoutMs };
}
