/**
 * Waits until `cond()` holds, polling every 10 ms, for at most `ms`: for what
 * another process makes happen at its own pace (a message read from a socket,
 * a slot freed). A bound, not a speed check: `ms` is generous on purpose.
 */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
