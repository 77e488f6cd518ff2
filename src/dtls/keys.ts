// TLS 1.2 key schedule: pre-master secrets, (extended) master secret, key block, Finished verify_data,
// and the serializable per-epoch key material built from them.
import { createHash } from 'node:crypto';
import type { CipherSuite } from './cipher-suites.js';
import { prf, prf2, type PrfSecret } from './prf.js';

/** Length of the master secret (RFC 5246 §8.1). */
export const MASTER_SECRET_LENGTH = 48;
/** Length of Finished.verify_data for TLS 1.2 (RFC 5246 §7.4.9). */
export const VERIFY_DATA_LENGTH = 12;

/** Writes uint16(len) ‖ data at `offset`, returns the next offset. */
function putOpaque16(out: Buffer, offset: number, data: Buffer): number {
  out.writeUInt16BE(data.length, offset);
  data.copy(out, offset + 2);
  return offset + 2 + data.length;
}

/** Plain PSK pre-master secret: uint16(N) ‖ N zero bytes ‖ uint16(N) ‖ psk (RFC 4279 §2). */
export function pskPreMasterSecret(psk: Buffer): Buffer {
  return ecdhePskPreMasterSecret(Buffer.alloc(psk.length), psk);
}

/** ECDHE_PSK pre-master secret: uint16(len Z) ‖ Z ‖ uint16(len psk) ‖ psk, Z = ECDH shared secret (RFC 5489 §2). */
export function ecdhePskPreMasterSecret(sharedSecret: Buffer, psk: Buffer): Buffer {
  const out = Buffer.alloc(4 + sharedSecret.length + psk.length);
  putOpaque16(out, putOpaque16(out, 0, sharedSecret), psk);
  return out;
}

/** master_secret = PRF(pre_master, "master secret", client_random ‖ server_random)[0..47] (RFC 5246 §8.1). */
export function masterSecret(preMasterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer): Buffer {
  return prf2(preMasterSecret, 'master secret', clientRandom, serverRandom, MASTER_SECRET_LENGTH);
}

/** master_secret = PRF(pre_master, "extended master secret", session_hash)[0..47] (RFC 7627 §4). */
export function extendedMasterSecret(preMasterSecret: Buffer, sessionHash: Buffer): Buffer {
  return prf(preMasterSecret, 'extended master secret', sessionHash, MASTER_SECRET_LENGTH);
}

/** SHA-256 over the concatenated handshake messages (each with its 12-byte DTLS header, RFC 6347 §4.2.6). */
export function handshakeHash(messages: readonly Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const m of messages) hash.update(m);
  return hash.digest();
}

/** verify_data = PRF(master, "client finished" | "server finished", handshake_hash)[0..11] (RFC 5246 §7.4.9). */
export function verifyData(master: PrfSecret, sender: 'client' | 'server', handshakeHashValue: Buffer): Buffer {
  return prf(master, sender === 'client' ? 'client finished' : 'server finished', handshakeHashValue, VERIFY_DATA_LENGTH);
}

/** The key block split into its six parts (RFC 5246 §6.3); absent parts are empty buffers. */
export interface KeyBlock {
  clientWriteMacKey: Buffer;
  serverWriteMacKey: Buffer;
  clientWriteKey: Buffer;
  serverWriteKey: Buffer;
  clientWriteIv: Buffer;
  serverWriteIv: Buffer;
}

/** Total key block length of a suite: 2 × (mac key + enc key + fixed IV) (RFC 5246 §6.3). */
export function keyBlockLength(suite: CipherSuite): number {
  return 2 * (suite.macKeyLength + suite.encKeyLength + suite.fixedIvLength);
}

/** PRF(master, "key expansion", server_random ‖ client_random) split per RFC 5246 §6.3. */
export function deriveKeyBlock(master: PrfSecret, clientRandom: Buffer, serverRandom: Buffer, suite: CipherSuite): KeyBlock {
  const block = prf2(master, 'key expansion', serverRandom, clientRandom, keyBlockLength(suite));
  return splitKeyBlock(block, suite);
}

/** Splits raw key block bytes in the order client MAC, server MAC, client key, server key, client IV, server IV. */
export function splitKeyBlock(block: Buffer, suite: CipherSuite): KeyBlock {
  let offset = 0;
  const take = (n: number): Buffer => {
    const part = Buffer.from(block.subarray(offset, offset + n)); // copy: independent of the PRF output
    offset += n;
    return part;
  };
  const clientWriteMacKey = take(suite.macKeyLength);
  const serverWriteMacKey = take(suite.macKeyLength);
  const clientWriteKey = take(suite.encKeyLength);
  const serverWriteKey = take(suite.encKeyLength);
  const clientWriteIv = take(suite.fixedIvLength);
  const serverWriteIv = take(suite.fixedIvLength);
  return { clientWriteMacKey, serverWriteMacKey, clientWriteKey, serverWriteKey, clientWriteIv, serverWriteIv };
}

/** Key material for one direction of one epoch (plain data). */
export interface DirectionKeys {
  /** AES write key */
  key: Buffer;
  /** fixed IV (AEAD implicit nonce part, 4 bytes); empty for CBC */
  iv: Buffer;
  /** HMAC key (CBC); empty for AEAD */
  macKey: Buffer;
}

/** Both directions' key material of one epoch from one side's point of view (plain data, serializable). */
export interface EpochKeys {
  /** IANA code of the negotiated cipher suite */
  cipherSuite: number;
  /** epoch these keys belong to (1 after the first handshake, +1 per renegotiation) */
  epoch: number;
  /** keys for records received from the peer */
  read: DirectionKeys;
  /** keys for records sent to the peer */
  write: DirectionKeys;
}

/** Picks read/write keys for `role` (the local side): a server reads with the client_write keys. */
export function epochKeysForRole(keyBlock: KeyBlock, suite: CipherSuite, role: 'client' | 'server', epoch = 1): EpochKeys {
  const client: DirectionKeys = { key: keyBlock.clientWriteKey, iv: keyBlock.clientWriteIv, macKey: keyBlock.clientWriteMacKey };
  const server: DirectionKeys = { key: keyBlock.serverWriteKey, iv: keyBlock.serverWriteIv, macKey: keyBlock.serverWriteMacKey };
  return role === 'server'
    ? { cipherSuite: suite.code, epoch, read: client, write: server }
    : { cipherSuite: suite.code, epoch, read: server, write: client };
}

/** JSON shape of DirectionKeys (hex strings). */
export interface DirectionKeysJson {
  key: string;
  iv: string;
  macKey: string;
}

/** JSON shape of EpochKeys (graceful restart). */
export interface EpochKeysJson {
  cipherSuite: number;
  epoch: number;
  read: DirectionKeysJson;
  write: DirectionKeysJson;
}

function directionToJson(k: DirectionKeys): DirectionKeysJson {
  return { key: k.key.toString('hex'), iv: k.iv.toString('hex'), macKey: k.macKey.toString('hex') };
}

function directionFromJson(j: DirectionKeysJson): DirectionKeys {
  return { key: Buffer.from(j.key, 'hex'), iv: Buffer.from(j.iv, 'hex'), macKey: Buffer.from(j.macKey, 'hex') };
}

/** Serializes epoch keys to a JSON-able object. */
export function epochKeysToJson(keys: EpochKeys): EpochKeysJson {
  return { cipherSuite: keys.cipherSuite, epoch: keys.epoch, read: directionToJson(keys.read), write: directionToJson(keys.write) };
}

/** Restores epoch keys from their JSON form. */
export function epochKeysFromJson(json: EpochKeysJson): EpochKeys {
  return { cipherSuite: json.cipherSuite, epoch: json.epoch, read: directionFromJson(json.read), write: directionFromJson(json.write) };
}
