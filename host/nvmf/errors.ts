// Typed errors of NVMe over Fabrics (target and initiator).
import { NvmeError } from '../errors.js';
import { Fes } from '../../assembly/nvme/tcp.js';

/**
 * An NVMe/TCP protocol error on a connection: the peer broke a framing or
 * sequencing rule (TCP 7.4.7). `fes` and `fei` are what the TermReq that
 * ended the connection carried (sent or received).
 */
export class NvmfProtocolError extends NvmeError {
  override readonly name = 'NvmfProtocolError';
  constructor(
    readonly fes: Fes,
    readonly fei: number,
    /** 'sent': this end found the error; 'received': the peer's TermReq. */
    readonly direction: 'sent' | 'received',
    detail: string,
  ) {
    super(`NVMe/TCP ${direction === 'sent' ? 'protocol error from the peer' : 'TermReq from the peer'}: ${Fes[fes] ?? `FES 0x${fes.toString(16)}`} (FEI ${fei}): ${detail}`);
  }
}

/** A target configuration was rejected (a subsystem, namespace or listener). */
export class NvmfConfigError extends NvmeError {
  override readonly name = 'NvmfConfigError';
  constructor(
    message: string,
    /** What was wrong: the subsystem NQN, namespace, listener address... */
    readonly what: string,
  ) {
    super(message);
  }
}
