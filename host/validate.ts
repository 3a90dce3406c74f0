// Argument checks shared by the API and the CLI: each names the argument
// and what it accepts.
import { InvalidArgumentError } from './errors.js';

export function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(name, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

/** A logical block address as a number (bigint accepted), exact below 2^53. */
export function checkLba(name: string, v: unknown): number {
  if (typeof v === 'bigint') {
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(name, `a block address from 0 to ${Number.MAX_SAFE_INTEGER}`, v);
    return Number(v);
  }
  return checkInt(name, v, 0, Number.MAX_SAFE_INTEGER);
}
