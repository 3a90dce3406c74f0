// The version `nvme-wasm --version` prints: read at run time from the
// package.json of this checkout or installed package (dist/host/cli/ is
// three levels below it), so it is always the version npm installed.
import fs from 'node:fs';

/** nvme-wasm's own package.json, found relative to this module. */
export const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

/** The "version" field of nvme-wasm's package.json. */
export function packageVersion(): string {
  const { version } = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new TypeError(`${PACKAGE_JSON.pathname} has no version`);
  return version;
}
