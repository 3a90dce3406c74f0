// Typed errors of the NVMe/TCP host side (protocol errors are
// host/nvmf/errors.ts's NvmfProtocolError, shared with the target).
import { NvmeError } from '../errors.js';

/** Why a connection to an NVMe/TCP subsystem could not be made or was lost. */
export type NvmfConnectReason =
  /** TCP connect refused, no route, host unknown. */
  | 'unreachable'
  /** No TCP connection, ICResp or Connect response within the bound. */
  | 'timeout'
  /** The target's Connect response was an error status (wrong NQN, host not allowed, ...). */
  | 'rejected'
  /** The connection closed (by the peer, a TermReq, or a Keep Alive that did not come back). */
  | 'closed';

/**
 * A connection to an NVMe/TCP subsystem failed: `reason` says how, `address`
 * names the peer ('ADDR:PORT'), and for 'rejected' the Connect status
 * (`sct`, `sc`) says why (NVMe-oF 2.2.1: 0x82 Invalid Parameters for an NQN
 * the target does not have, 0x84 Invalid Host for a host it does not allow).
 */
export class NvmfConnectError extends NvmeError {
  override readonly name = 'NvmfConnectError';
  constructor(
    message: string,
    readonly reason: NvmfConnectReason,
    readonly address: string,
    readonly sct = 0,
    readonly sc = 0,
  ) {
    super(message);
  }
}
