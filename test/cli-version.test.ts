// `nvme-wasm --version` prints package.json's version and exits 0 (issue
// 15); test/package/main.ts runs it from the installed tarball too. There is
// no -V: perf's -V is --verify, and a program-level -V would take it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { cli } from './helpers/cli.js';

const { version } = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('--version prints the version from package.json', async () => {
  const r = await cli('--version');
  assert.equal(r, { code: 0, out: `${version}\n`, err: '' });
});

test('the program help lists --version; perf -V is still --verify', async () => {
  const help = await cli('--help');
  assert.match(help.out, /^\s+--version\s/m);
  const perf = await cli('perf', '--help');
  assert.match(perf.out, /-V, --verify/);
});

test.run();
