import os from 'node:os';

const errnoNames = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, no]) => [no as number, name]),
);

/** A failed system call: which one, its errno and errno's name. */
export class HalError extends Error {
  override readonly name = 'HalError';
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    detail?: string,
  ) {
    const code = errnoNames.get(errno) ?? `E${errno}`;
    super(`${syscall}${detail ? ` (${detail})` : ''} failed: ${code} (errno ${errno})`);
    this.code = code;
  }
}
