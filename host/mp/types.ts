// The public types of messaging between the processes of a group: who sent
// (MpPeer), a handler, a request's options, and the reply record of a
// request (DPDK's rte_mp_reply).

/** The process on the other side. */
export interface MpPeer {
  /** Its slot in the group's process table. */
  slot: number;
  pid: number;
  /** It was the group's primary when it sent this. */
  primary: boolean;
}

/** One peer's answer to a request. */
export interface MpAnswer {
  slot: number;
  pid: number;
  /** What the peer's handler returned (resolved), JSON round-tripped; undefined when it threw. */
  payload: unknown;
  /** The message of what the handler threw, if it did. */
  error?: string;
}

/** The outcome of a request (DPDK's rte_mp_reply). */
export interface MpReply {
  /** Peers the request reached (live, listening and with a handler for the name). */
  nbSent: number;
  /** Peers that answered before the timeout (nbSent - nbReceived timed out or died). */
  nbReceived: number;
  /** The answers, in arrival order. */
  replies: MpAnswer[];
  /** The timeout ended the wait (some peer neither answered nor went away). */
  timedOut: boolean;
}

/**
 * A handler: called with the payload and the sender. For a request, what it
 * returns (or resolves to) is the answer; if it throws, the requester gets
 * the error's message in its reply record. For a message the result is ignored.
 */
export type MpHandler = (payload: unknown, peer: MpPeer) => unknown;

export interface MpRequestOptions {
  /** Stop waiting after this many milliseconds (1 to 3,600,000). Default 5000. */
  timeoutMs?: number;
}
