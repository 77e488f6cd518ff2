// The registry of all keys of Californium3.properties; one module per key group.
import { CLUSTER_KEYS } from './keys-cluster.js';
import { COAP_KEYS } from './keys-coap.js';
import { DTLS_KEYS } from './keys-dtls.js';
import { SERVER_KEYS } from './keys-server.js';
import { SYS_KEYS } from './keys-sys.js';
import { TCP_KEYS } from './keys-tcp.js';
import { UDP_KEYS } from './keys-udp.js';
import type { KeyDef } from './registry.js';

/** Every key group; a new group (one keys-xxx.ts module) is added here. */
export const KEY_GROUPS: ReadonlyArray<readonly KeyDef[]> = [SERVER_KEYS, COAP_KEYS, DTLS_KEYS, UDP_KEYS, TCP_KEYS, SYS_KEYS, CLUSTER_KEYS];

/** All registered keys by name (duplicates fail at import time). */
export const KEYS: ReadonlyMap<string, KeyDef> = buildIndex(KEY_GROUPS);

/** Builds the name index of key groups; throws on a name defined twice. */
export function buildIndex(groups: ReadonlyArray<readonly KeyDef[]>): Map<string, KeyDef> {
  const index = new Map<string, KeyDef>();
  for (const group of groups) {
    for (const def of group) {
      if (index.has(def.name)) throw new Error(`configuration key ${def.name} defined twice`);
      index.set(def.name, def);
    }
  }
  return index;
}
