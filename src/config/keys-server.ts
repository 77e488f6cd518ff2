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

/** Worker processes of the server (issue 13); --workers overrides it. */
export const WORKERS = defineKey({
  name: 'WORKERS',
  type: 'int',
  description:
    'Worker processes serving the extended server on shared ports (SO_REUSEPORT, Node.js 22.12 or later on Linux); --workers overrides it. 0: one per available core; 1: a single process.',
  default: 0,
  min: 0,
  max: 256,
});

/** All keys of this group. */
export const SERVER_KEYS: readonly KeyDef[] = [
  EXTERNAL_UDP_MAX_MESSAGE_SIZE,
  EXTERNAL_UDP_PREFERRED_BLOCK_SIZE,
  UDP_DROPS_READ_INTERVAL,
  WORKERS,
];
