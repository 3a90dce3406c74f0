// The README's API example runs as written (imported by package name, as a
// user would), in a child process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('README API example runs as written', () => {
  const readme = fs.readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const m = /## API\s+```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a js block under ## API');
  const file = fileURLToPath(new URL('./readme-snippet.mjs', import.meta.url));
  fs.writeFileSync(file, m![1]!);
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60000 });
  assert.match(out, /nvme-wasm simulated controller/);
});

test.run();
