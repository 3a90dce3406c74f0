// Typed errors of the VM harness: each says which step failed and carries
// what a person needs to see (the command, its output, the console tail).

export class VmError extends Error {
  override readonly name: string = 'VmError';
  constructor(
    /** Stable identifier of the failure kind. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** An argument of runInGuest/provision was rejected before anything ran. */
export class VmArgumentError extends VmError {
  override readonly name = 'VmArgumentError';
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly value?: unknown,
  ) {
    super('EVMARG', `invalid ${argument}: expected ${expected}${value === undefined ? '' : `, got ${JSON.stringify(value)}`}`);
  }
}

/** A host command the harness needs failed (apt-get, dpkg-deb, cpio ...). */
export class VmProvisionError extends VmError {
  override readonly name = 'VmProvisionError';
  constructor(
    readonly step: string,
    detail: string,
  ) {
    super('EVMPROVISION', `VM provisioning, ${step}: ${detail}`);
  }
}

/** QEMU is not installed (or not runnable) on this host. */
export class QemuMissingError extends VmError {
  override readonly name = 'QemuMissingError';
  constructor(readonly binary: string) {
    super('EQEMUMISSING', `${binary} not found: run the provisioning (npm run test:vm does) or apt-get install qemu-system-x86`);
  }
}

/** The guest never reached the job: QEMU failed, the kernel or init failed. */
export class GuestBootError extends VmError {
  override readonly name = 'GuestBootError';
  constructor(
    readonly reason: string,
    /** Last lines of the serial console. */
    readonly consoleTail: string,
    readonly consoleLog: string,
  ) {
    super('EGUESTBOOT', `guest failed before its job ran: ${reason}\n--- console tail (${consoleLog}) ---\n${consoleTail}`);
  }
}

/** The guest did not power off within timeoutMs; QEMU was killed. */
export class GuestTimeoutError extends VmError {
  override readonly name = 'GuestTimeoutError';
  constructor(
    readonly timeoutMs: number,
    readonly consoleTail: string,
    readonly consoleLog: string,
    /** What the job had printed so far. */
    readonly stdoutTail: string,
  ) {
    super('EGUESTTIMEOUT', `guest still running after ${timeoutMs} ms, QEMU killed\n--- job stdout tail ---\n${stdoutTail}\n--- console tail (${consoleLog}) ---\n${consoleTail}`);
  }
}
