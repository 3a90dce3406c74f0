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

/** A guest-side wait (sysfs, a device, a process line) did not end within its liveness cap. */
export class VmWaitTimeoutError extends VmError {
  override readonly name = 'VmWaitTimeoutError';
  constructor(
    readonly what: string,
    readonly capMs: number,
  ) {
    super('EVMWAIT', `still waiting for ${what} after ${capMs} ms`);
  }
}

/** A guest command of the NVMe/TCP helpers (nvme, fio, mkfs.ext4, mount, e2fsck ...) failed. */
export class GuestCommandError extends VmError {
  override readonly name = 'GuestCommandError';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    /** Exit status (-1: killed by a signal or not started). */
    readonly status: number,
    /** stdout and stderr, trimmed to their last lines. */
    readonly output: string,
  ) {
    super('EGUESTCMD', `${command} ${args.join(' ')} exited ${status}: ${output}`);
  }
}

/** A configfs step of the kernel NVMe target (nvmet) failed. */
export class NvmetConfigError extends VmError {
  override readonly name = 'NvmetConfigError';
  constructor(
    /** The configfs path written, created or removed. */
    readonly path: string,
    detail: string,
  ) {
    super('ENVMETCONFIG', `nvmet configfs ${path}: ${detail}`);
  }
}

/** The project's NVMe/TCP target (nvme-wasm nvmf-tgt) did not start, stop or behave as its contract says. */
export class NvmfTargetError extends VmError {
  override readonly name = 'NvmfTargetError';
  constructor(
    readonly reason: string,
    /** What the target printed (stdout and stderr tails). */
    readonly output: string,
  ) {
    super('ENVMFTGT', `nvmf-tgt: ${reason}${output ? `\n--- target output ---\n${output}` : ''}`);
  }
}
