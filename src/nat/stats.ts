// Counters of the NAT and their `info` line.

/** Datagram and entry counters of a NAT (monotonic since start). */
export interface NatCounters {
  /** client → destination datagrams sent */
  forwarded: number;
  /** destination → client datagrams sent */
  backwarded: number;
  /** forward datagrams dropped by the DTLS filter (-x) */
  droppedFilter: number;
  /** forward datagrams dropped by -d / -f */
  droppedForward: number;
  /** backward datagrams dropped by -d / -b */
  droppedBackward: number;
  /** forward datagrams dropped by the size limit (-s) */
  droppedSize: number;
  /** answers from another address than the entry's destination */
  wronglyRouted: number;
  /** wrongly routed answers that were dropped (reverse update off, or not from a known destination) */
  droppedWrong: number;
  /** forward datagrams sent by CID (--cid) */
  cidRouted: number;
  /** NAT entries removed by -tnat */
  expired: number;
  /** datagrams of new clients refused because -n entries exist */
  refused: number;
  /** forward datagrams without any destination */
  noDestination: number;
  /** datagrams cut to the 2048-byte buffer */
  truncated: number;
  /**
   * socket errors: bind and receive errors, failing outgoing sockets, sends that throw. Datagrams are sent without a
   * completion callback (it costs a tick per datagram), so a send the kernel refuses is not counted.
   */
  socketErrors: number;
}

/** Counters plus the current entry count and the process CPU time (for CPU per datagram). */
export interface NatStats extends NatCounters {
  entries: number;
  /** `process.cpuUsage()` at the time of the call, in µs */
  cpu: NodeJS.CpuUsage;
}

/** All counters zero. */
export function zeroCounters(): NatCounters {
  return {
    forwarded: 0,
    backwarded: 0,
    droppedFilter: 0,
    droppedForward: 0,
    droppedBackward: 0,
    droppedSize: 0,
    wronglyRouted: 0,
    droppedWrong: 0,
    cidRouted: 0,
    expired: 0,
    refused: 0,
    noDestination: 0,
    truncated: 0,
    socketErrors: 0,
  };
}

/** The extra `info` line after the reference lines. */
export function formatCounters(c: NatCounters): string {
  return (
    `statistics: ${c.forwarded} forwarded, ${c.backwarded} backwarded, ${c.cidRouted} cid routed, ` +
    `${c.droppedFilter} filtered, ${c.droppedForward + c.droppedBackward + c.droppedSize} dropped ` +
    `(${c.droppedForward} forward, ${c.droppedBackward} backward, ${c.droppedSize} size), ` +
    `${c.wronglyRouted} wrongly routed (${c.droppedWrong} dropped), ${c.expired} expired, ${c.refused} refused entries.`
  );
}
