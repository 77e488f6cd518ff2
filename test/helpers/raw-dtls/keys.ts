// Raw TLS 1.2 key schedule for tests: PRF with HMAC-SHA256 (RFC 5246 §5), PSK premaster secret
// (RFC 4279 §2), master secret with or without extended master secret (RFC 5246 §8.1, RFC 7627 §4),
// key block for TLS_PSK_WITH_AES_128_CCM_8 (RFC 5246 §6.3, RFC 6655), Finished verify_data
// (RFC 5246 §7.4.9). Independent of src/.
import { createHash, createHmac } from 'node:crypto';

/** P_SHA256 / the TLS 1.2 PRF (RFC 5246 §5): PRF(secret, label, seed) = P_SHA256(secret, label ‖ seed). */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'ascii'), seed]);
  const out: Buffer[] = [];
  let total = 0;
  let a = labelSeed; // A(0)
  while (total < length) {
    a = createHmac('sha256', secret).update(a).digest(); // A(i) = HMAC(secret, A(i-1))
    const block = createHmac('sha256', secret).update(a).update(labelSeed).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** Plain PSK premaster secret (RFC 4279 §2): uint16(N) ‖ N zero bytes ‖ uint16(N) ‖ psk. */
export function pskPreMasterSecret(psk: Buffer): Buffer {
  const n = Buffer.alloc(2);
  n.writeUInt16BE(psk.length);
  return Buffer.concat([n, Buffer.alloc(psk.length), n, psk]);
}

/** SHA-256 over the concatenated handshake messages (each with its full 12-byte header, RFC 6347 §4.2.6). */
export function transcriptHash(messages: readonly Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const m of messages) h.update(m);
  return h.digest();
}

/** Inputs of the master secret: EMS uses the session hash (RFC 7627 §4), else the two randoms (RFC 5246 §8.1). */
export interface MasterSecretInput {
  preMasterSecret: Buffer;
  clientRandom: Buffer;
  serverRandom: Buffer;
  /** session hash (RFC 7627 §3) when extended master secret was negotiated */
  sessionHash?: Buffer;
}

/** The 48-byte master secret. */
export function masterSecret(i: MasterSecretInput): Buffer {
  if (i.sessionHash !== undefined) return prf(i.preMasterSecret, 'extended master secret', i.sessionHash, 48);
  return prf(i.preMasterSecret, 'master secret', Buffer.concat([i.clientRandom, i.serverRandom]), 48);
}

/** The write keys and implicit IVs of an AES-128-CCM_8 connection. */
export interface Ccm8Keys {
  clientWriteKey: Buffer;
  serverWriteKey: Buffer;
  clientWriteIv: Buffer;
  serverWriteIv: Buffer;
  /** the whole key block (40 bytes) */
  keyBlock: Buffer;
}

/**
 * key_block = PRF(master, "key expansion", server_random ‖ client_random) (RFC 5246 §6.3), split into
 * client/server write key (16 each) and client/server write IV (4 each); AEAD suites have no MAC keys.
 */
export function ccm8KeyBlock(master: Buffer, clientRandom: Buffer, serverRandom: Buffer): Ccm8Keys {
  const kb = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 40);
  return {
    clientWriteKey: kb.subarray(0, 16),
    serverWriteKey: kb.subarray(16, 32),
    clientWriteIv: kb.subarray(32, 36),
    serverWriteIv: kb.subarray(36, 40),
    keyBlock: kb,
  };
}

/** Finished verify_data (RFC 5246 §7.4.9): PRF(master, "<side> finished", Hash(handshake_messages))[0..11]. */
export function verifyData(master: Buffer, side: 'client' | 'server', handshakeHash: Buffer): Buffer {
  return prf(master, `${side} finished`, handshakeHash, 12);
}
