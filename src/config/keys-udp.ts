// UDP module keys (config.md §4) that mean something to Node's dgram sockets.
import { defineKey, type KeyDef } from './registry.js';

/** Largest datagram received. */
export const UDP_DATAGRAM_SIZE = defineKey({
  name: 'UDP.DATAGRAM_SIZE',
  type: 'int',
  description: 'Maximum size of received UDP datagrams; larger datagrams are dropped.',
  default: 2048,
  min: 64,
  max: 65535,
});

/** Socket receive buffer (empty = OS default). */
export const UDP_RECEIVE_BUFFER_SIZE = defineKey({
  name: 'UDP.RECEIVE_BUFFER_SIZE',
  type: 'int',
  description:
    'Receive buffer size of UDP sockets in bytes. Empty for the OS default. Both servers default to 1000000 (the OS default of about 200 KB drops datagrams under load).',
  ext: 1000000,
  plug: 1000000,
  min: 1,
});

/** Socket send buffer (empty = OS default). */
export const UDP_SEND_BUFFER_SIZE = defineKey({
  name: 'UDP.SEND_BUFFER_SIZE',
  type: 'int',
  description: 'Send buffer size of UDP sockets in bytes. Empty for the OS default.',
  min: 1,
});

/** Datagrams processed per event-loop turn while the socket has a backlog (per-source fair queue). */
export const UDP_FAIR_QUEUE_BATCH = defineKey({
  name: 'UDP.FAIR_QUEUE_BATCH',
  type: 'int',
  description:
    'Flood defence of plain CoAP sockets: when one read of the socket returns a full batch (the socket has a backlog), received datagrams go into a queue per source (address:port) that is served round-robin, this many datagrams per event-loop turn, so that reading stays fast and a few flooding sources cannot starve the others. Without a backlog datagrams are processed at once. 0: off.',
  default: 8,
  min: 0,
});

/** Datagrams queued per source while the fair queue is engaged. */
export const UDP_FAIR_QUEUE_SOURCE_CAPACITY = defineKey({
  name: 'UDP.FAIR_QUEUE_SOURCE_CAPACITY',
  type: 'int',
  description: 'Flood defence: datagrams queued per source (address:port) while the fair queue is engaged; further ones are dropped (counted).',
  default: 8,
  min: 1,
});

/** Datagrams queued in total while the fair queue is engaged. */
export const UDP_FAIR_QUEUE_CAPACITY = defineKey({
  name: 'UDP.FAIR_QUEUE_CAPACITY',
  type: 'int',
  description: 'Flood defence: datagrams queued in total (all sources) while the fair queue is engaged; further ones are dropped (counted).',
  default: 16384,
  min: 1,
});

/** All keys of this group. */
export const UDP_KEYS: readonly KeyDef[] = [
  UDP_DATAGRAM_SIZE,
  UDP_RECEIVE_BUFFER_SIZE,
  UDP_SEND_BUFFER_SIZE,
  UDP_FAIR_QUEUE_BATCH,
  UDP_FAIR_QUEUE_SOURCE_CAPACITY,
  UDP_FAIR_QUEUE_CAPACITY,
];
