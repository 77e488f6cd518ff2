// Server-specific keys without module prefix (config.md §1).
import { defineKey, type KeyDef } from './registry.js';

/** COAP.MAX_MESSAGE_SIZE for coap/UDP endpoints on non-loopback addresses. */
export const EXTERNAL_UDP_MAX_MESSAGE_SIZE = defineKey({
  name: 'EXTERNAL_UDP_MAX_MESSAGE_SIZE',
  type: 'int',
  description:
    'Maximum payload size of plain coap (UDP) endpoints on external (non-loopback) addresses; replaces COAP.MAX_MESSAGE_SIZE there to limit amplification. Minimum 16.',
  default: 64,
  min: 16,
});

/** COAP.PREFERRED_BLOCK_SIZE for coap/UDP endpoints on non-loopback addresses. */
export const EXTERNAL_UDP_PREFERRED_BLOCK_SIZE = defineKey({
  name: 'EXTERNAL_UDP_PREFERRED_BLOCK_SIZE',
  type: 'int',
  description:
    'Preferred block size of plain coap (UDP) endpoints on external (non-loopback) addresses; replaces COAP.PREFERRED_BLOCK_SIZE there. Minimum 16.',
  default: 64,
  min: 16,
});

/** Interval to read the OS UDP drop counters. */
export const UDP_DROPS_READ_INTERVAL = defineKey({
  name: 'UDP_DROPS_READ_INTERVAL',
  type: 'time',
  description:
    'Interval to read the UDP drop counters of the OS (Linux /proc); only used if smaller than SYS.HEALTH_STATUS_INTERVAL.',
  default: 2000,
});

/** All keys of this group. */
export const SERVER_KEYS: readonly KeyDef[] = [
  EXTERNAL_UDP_MAX_MESSAGE_SIZE,
  EXTERNAL_UDP_PREFERRED_BLOCK_SIZE,
  UDP_DROPS_READ_INTERVAL,
];
