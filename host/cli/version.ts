// The version `nvme-wasm --version` prints: read at run time from the
// package.json of this checkout or installed package, so it is always the
// version npm installed.
import fs from 'node:fs';
import { packageFile } from '../package-files.js';

/** nvme-wasm's own package.json. */
export const PACKAGE_JSON = packageFile('package.json');

/** The "version" field of nvme-wasm's package.json. */
export function packageVersion(): string {
  const { version } = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new TypeError(`${PACKAGE_JSON} has no version`);
  return version;
}
