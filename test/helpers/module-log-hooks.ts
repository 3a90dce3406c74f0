// Module customization hooks (node:module register) that append the URL of
// every module the process loads to a file, one a line. Registered by
// module-log.ts; they run on Node's hooks thread.
import fs from 'node:fs';

let file: string | undefined;

export function initialize(data: { file: string }): void {
  file = data.file;
}

export async function load(url: string, context: unknown, next: (url: string, context: unknown) => Promise<unknown>): Promise<unknown> {
  const r = await next(url, context);
  if (file !== undefined) fs.appendFileSync(file, `${url}\n`);
  return r;
}
