// nvme-cli's -o / --output-format (normal | json | binary) and the JSON
// text nvme-cli 2.3 prints: two-space indent, "key":value with no space,
// 64-bit counters as plain numbers (bigint, exact), 128-bit ones as decimal
// strings (the encoders hand those over as strings).
import { Option } from 'commander';
import { InvalidArgumentError } from '../../errors.js';

export type OutputFormat = 'normal' | 'json' | 'binary';

/** The -o option; the value is checked by `outputFormat` in the action (before any device is touched). */
export function outputFormatOption(accepted: readonly OutputFormat[]): Option {
  return new Option('-o, --output-format <fmt>', `output format: ${accepted.join('|')} (as nvme-cli)`);
}

/**
 * The format a command was asked for: `-o` (checked against `accepted`),
 * `-b` / --raw-binary as nvme-cli's shorthand for binary; normal by default.
 * A bad value is an InvalidArgumentError ("nvme-wasm: error: invalid -o ...").
 */
export function outputFormat(o: { outputFormat?: string; rawBinary?: boolean; json?: boolean }, accepted: readonly OutputFormat[]): OutputFormat {
  const flag = '-o, --output-format';
  if (o.outputFormat !== undefined) {
    const v = o.outputFormat.trim().toLowerCase();
    if (!(accepted as readonly string[]).includes(v)) throw new InvalidArgumentError(flag, `one of ${accepted.join(', ')}`, o.outputFormat);
    if (o.rawBinary && v !== 'binary') throw new InvalidArgumentError('-b, --raw-binary', `no -o other than binary (-b means -o binary)`, o.outputFormat);
    if (o.json) throw new InvalidArgumentError('--json', 'no -o as well (--json is nvme-wasm\'s own document, -o json is nvme-cli\'s)', o.outputFormat);
    return v as OutputFormat;
  }
  if (o.rawBinary) {
    if (o.json) throw new InvalidArgumentError('--json', 'no -b as well', true);
    return 'binary';
  }
  return 'normal';
}

/** A JSON value as nvme-cli's printer writes it (bigints as exact numbers). */
export function nvmeCliJson(v: unknown, indent = 0): string {
  const pad = ' '.repeat(indent + 2);
  const end = ' '.repeat(indent);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) {
    if (v.length === 0) return `[\n${end}]`;
    return `[\n${v.map((x) => `${pad}${nvmeCliJson(x, indent + 2)}`).join(',\n')}\n${end}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return `{\n${end}}`;
    return `{\n${entries.map(([k, x]) => `${pad}${JSON.stringify(k)}:${nvmeCliJson(x, indent + 2)}`).join(',\n')}\n${end}}`;
  }
  return JSON.stringify(v);
}

/** printf's %#x: "0" for zero, 0x-prefixed lower-case hex otherwise. */
export const hx = (n: number | bigint): string => (n === 0 || n === 0n ? '0' : `0x${n.toString(16)}`);

/** A bit field line of nvme-cli's -H: "  [hi:lo] : value\ttext" (value as %#x). */
export function bits(v: number, hi: number, lo: number, text: string, indent = '  '): string {
  const f = Math.floor(v / 2 ** lo) % 2 ** (hi - lo + 1);
  return `${indent}[${hi}:${lo}] : ${hx(f)}\t${text}`;
}

/** Bit `n` of `v` (0 or 1), for values up to 32 bits. */
export const bit = (v: number, n: number): number => Math.floor(v / 2 ** n) % 2;

/** Raw bytes to stdout (binary output). */
export function writeBinary(b: Uint8Array): void {
  process.stdout.write(b);
}
