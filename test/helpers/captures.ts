// Loader for the Californium wire captures (../shared/testdata/californium/*.json beside the repo, see its README).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const REPO = resolve(dirname(new URL(import.meta.url).pathname), '../..');

/** Directory of the capture JSONs: EXTPLUGTEST_CAPTURES, else shared/ beside the repository. */
export const CAPTURE_DIR = process.env['EXTPLUGTEST_CAPTURES'] ?? resolve(REPO, '../shared/testdata/californium');

/** The single-session DTLS-PSK captures (README sections 1-5). */
export const PSK_CAPTURES = [
  'dtls-psk-ccm8-cid',
  'dtls-psk-gcm-cid',
  'dtls-psk-cbc-cid',
  'dtls-psk-ccm8-nocid',
  'dtls-psk-ccm8-rebind',
] as const;

/** Session secrets of one handshake (hex strings; `*_mac_key` only for CBC, `*_iv` only for AEAD). */
export interface CaptureSession {
  psk_identity: string;
  client: string;
  server: string;
  /** CID the client chose (records to the client carry it); '' = zero length */
  client_cid: string;
  /** CID the server chose (records to the server carry it) */
  server_cid: string;
  /** e.g. 'TLS_PSK_WITH_AES_128_CCM_8 (0xC0A8)' */
  cipher_suite: string;
  extended_master_secret: boolean;
  client_random: string;
  server_random: string;
  session_id: string;
  pre_master_secret: string;
  session_hash: string;
  master_secret: string;
  key_block: string;
  client_write_mac_key?: string;
  server_write_mac_key?: string;
  client_write_key: string;
  server_write_key: string;
  client_write_iv?: string;
  server_write_iv?: string;
  client_finished_handshake_hash: string;
  client_finished_verify_data: string;
  server_finished_handshake_hash: string;
  server_finished_verify_data: string;
  [extra: string]: unknown;
}

/** Decryption details of an encrypted record (AEAD or CBC fields). */
export interface CaptureDecryption {
  explicit_nonce?: string;
  nonce?: string;
  aad?: string;
  ciphertext?: string;
  tag?: string;
  record_iv?: string;
  mac_input_prefix?: string;
  mac?: string;
  cbc_padding_length?: number;
  /** decrypted bytes (DTLSInnerPlaintext for CID records) */
  decrypted: string;
  real_type?: number;
  real_type_name?: string;
  zero_padding?: number;
  /** record content without inner type/padding */
  content: string;
  /** client_random of the session whose keys decrypt it */
  keys_of_session: string;
  direction: 'client->server' | 'server->client';
}

/** A handshake message header as listed in the capture (plus decoded fields). */
export interface CaptureHandshakeMessage {
  msg_type: number;
  name: string;
  length: number;
  message_seq: number;
  fragment_offset: number;
  fragment_length: number;
  [field: string]: unknown;
}

/** One record of a datagram. */
export interface CaptureRecord {
  offset: number;
  header: string;
  content_type: number;
  content_type_name: string;
  version: string;
  epoch: number;
  sequence_number: number;
  cid: string | null;
  length: number;
  fragment: string;
  decryption?: CaptureDecryption;
  handshake_messages?: CaptureHandshakeMessage[];
  [extra: string]: unknown;
}

/** One UDP datagram. */
export interface CaptureDatagram {
  frame: number;
  time: string;
  src: string;
  dst: string;
  udp_payload_length: number;
  udp_payload: string;
  records: CaptureRecord[];
  src_role: string;
  dst_role: string;
  [extra: string]: unknown;
}

/** A whole capture JSON file. */
export interface Capture {
  file: string;
  endpoints: Record<string, string>;
  psk: { identity: string; identity_hex: string; secret: string; secret_hex: string }[];
  notes: string[];
  sessions: CaptureSession[];
  datagrams: CaptureDatagram[];
  [extra: string]: unknown;
}

const cache = new Map<string, Capture>();

/** True if the capture directory is present (tests skip otherwise). */
export function capturesAvailable(): boolean {
  const found = existsSync(join(CAPTURE_DIR, 'dtls-psk-ccm8-cid.json'));
  // in CI the captures are part of the checkout's surroundings: missing is a failure, not a skip
  if (!found && process.env['CI'] === 'true') throw new Error(`Californium captures not found in ${CAPTURE_DIR}`);
  return found;
}

/** Loads (and caches) `<name>.json` from the capture directory. */
export function loadCapture(name: string): Capture {
  let capture = cache.get(name);
  if (capture === undefined) {
    capture = JSON.parse(readFileSync(join(CAPTURE_DIR, `${name}.json`), 'utf8')) as Capture;
    cache.set(name, capture);
  }
  return capture;
}

/** Hex string → Buffer. */
export function hex(value: string): Buffer {
  return Buffer.from(value, 'hex');
}

/** IANA code from a session's cipher_suite text such as 'TLS_PSK_WITH_AES_128_CCM_8 (0xC0A8)'. */
export function suiteCode(session: CaptureSession): number {
  const m = /\(0x([0-9a-fA-F]{4})\)/.exec(session.cipher_suite);
  if (!m) throw new Error(`no code in ${session.cipher_suite}`);
  return parseInt(m[1]!, 16);
}

/** IANA name from a session's cipher_suite text. */
export function suiteName(session: CaptureSession): string {
  return session.cipher_suite.split(' ')[0]!;
}

/** The session whose keys protect `record` (by keys_of_session = client_random). */
export function sessionOf(capture: Capture, record: CaptureRecord): CaptureSession {
  const random = record.decryption?.keys_of_session;
  const session = capture.sessions.find((s) => s.client_random === random);
  if (!session) throw new Error(`no session for record with keys_of_session ${random}`);
  return session;
}

/** Every record of the capture with its datagram, in capture order. */
export function* allRecords(capture: Capture): Generator<{ datagram: CaptureDatagram; record: CaptureRecord }> {
  for (const datagram of capture.datagrams) {
    for (const record of datagram.records) yield { datagram, record };
  }
}

/** Raw handshake messages (12-byte header + body) of a plaintext handshake record fragment. */
export function splitHandshakeMessages(fragment: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset + 12 <= fragment.length) {
    const fragmentLength = fragment.readUIntBE(offset + 9, 3);
    out.push(fragment.subarray(offset, offset + 12 + fragmentLength));
    offset += 12 + fragmentLength;
  }
  return out;
}
