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

/** All keys of this group. */
export const UDP_KEYS: readonly KeyDef[] = [UDP_DATAGRAM_SIZE, UDP_RECEIVE_BUFFER_SIZE, UDP_SEND_BUFFER_SIZE];
