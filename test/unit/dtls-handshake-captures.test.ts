// Handshake wire formats against the Californium 3.14.0 captures
// (../shared/testdata/californium beside the repository, README "Common facts" and sections 1-4).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ContentType,
  ExtensionType,
  HandshakeType,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
  clientHelloBodyWithoutCookie,
  createReassembler,
  decodeChangeCipherSpec,
  decodeClientHello,
  decodeClientKeyExchange,
  decodeFinished,
  decodeHandshakeFragments,
  decodeHandshakeMessage,
  decodeHelloVerifyRequest,
  decodeServerHello,
  decodeServerHelloDone,
  encodeChangeCipherSpec,
  encodeClientHello,
  encodeClientKeyExchange,
  encodeFinished,
  encodeFullHandshakeMessage,
  encodeHandshakeFragment,
  encodeHelloVerifyRequest,
  encodeServerHello,
  encodeServerHelloDone,
  hasRenegotiationScsv,
  offersSecureRenegotiation,
  type DecodeResult,
  type DecodedClientHello,
  type HandshakeMessage,
} from '../../src/dtls/handshake/index.js';
import { CAPTURE_DIR } from '../helpers/captures.js';

const DIR = CAPTURE_DIR;

interface JsonMessage {
  msg_type: number;
  name: string;
  length: number;
  message_seq: number;
  fragment_offset: number;
  fragment_length: number;
  [k: string]: unknown;
}
interface JsonRecord {
  content_type: number;
  epoch: number;
  sequence_number: number;
  fragment: string;
  handshake_messages?: JsonMessage[];
  decryption?: { content?: string; real_type?: number };
}
interface JsonDatagram {
  frame: number;
  src: string;
  dst: string;
  records: JsonRecord[];
}
interface JsonSession {
  client: string;
  server: string;
  psk_identity: string;
  client_cid: string;
  server_cid: string;
  client_random: string;
  server_random: string;
  session_id: string;
  cipher_suite: string;
  session_hash: string;
  client_finished_verify_data: string;
  server_finished_handshake_hash: string;
  server_finished_verify_data: string;
}
interface Capture {
  file: string;
  sessions: JsonSession[];
  datagrams: JsonDatagram[];
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const load = (name: string): Capture => JSON.parse(readFileSync(join(DIR, name), 'utf8')) as Capture;
const PSK_FILES = readdirSync(DIR).filter((f) => f.startsWith('dtls-psk-') && f.endsWith('.json')).sort();
const ALL_FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

function value<T>(r: DecodeResult<T>): T {
  if (!r.ok) throw new Error(`decode failed: ${r.alert} ${r.reason}`);
  return r.value;
}

/** A handshake fragment taken from a capture, plaintext (epoch 0) or decrypted (epoch 1). */
interface CapturedFragment {
  frame: number;
  src: string;
  dst: string;
  epoch: number;
  recordFragment: Buffer;
  json: JsonMessage[];
}

function handshakeRecords(cap: Capture): CapturedFragment[] {
  const out: CapturedFragment[] = [];
  for (const dg of cap.datagrams) {
    for (const rec of dg.records) {
      if (!rec.handshake_messages) continue;
      let content: Buffer;
      if (rec.content_type === ContentType.HANDSHAKE && rec.epoch === 0) content = hex(rec.fragment);
      else if (rec.decryption?.content !== undefined) content = hex(rec.decryption.content);
      else continue;
      out.push({ frame: dg.frame, src: dg.src, dst: dg.dst, epoch: rec.epoch, recordFragment: content, json: rec.handshake_messages });
    }
  }
  return out;
}

const suiteCode = (s: string): number => Number.parseInt(/\(0x([0-9A-Fa-f]{4})\)/.exec(s)![1]!, 16);
const jsonSuites = (m: JsonMessage): number[] => (m.cipher_suites as string[]).map((s) => Number.parseInt(s, 16));
const jsonExt = (m: JsonMessage): Array<{ type: number; data: string }> => m.extensions as Array<{ type: number; data: string }>;

/** Re-encodes a decoded handshake body with the matching encoder. */
function reencode(msgType: number, body: Buffer): Buffer {
  switch (msgType) {
    case HandshakeType.CLIENT_HELLO:
      return encodeClientHello(value(decodeClientHello(body)));
    case HandshakeType.HELLO_VERIFY_REQUEST:
      return encodeHelloVerifyRequest(value(decodeHelloVerifyRequest(body)));
    case HandshakeType.SERVER_HELLO:
      return encodeServerHello(value(decodeServerHello(body)));
    case HandshakeType.SERVER_HELLO_DONE:
      value(decodeServerHelloDone(body));
      return encodeServerHelloDone();
    case HandshakeType.CLIENT_KEY_EXCHANGE:
      return encodeClientKeyExchange(value(decodeClientKeyExchange(body, 'psk')));
    case HandshakeType.FINISHED:
      return encodeFinished(value(decodeFinished(body)));
    default:
      throw new Error(`unexpected type ${msgType}`);
  }
}

describe('every handshake record of every capture', () => {
  for (const file of ALL_FILES) {
    it(`${file}: decodes, matches the JSON decode and re-encodes byte-identically`, () => {
      const cap = load(file);
      const records = handshakeRecords(cap);
      expect(records.length).toBeGreaterThan(0);
      const seenTypes = new Set<number>();
      for (const rec of records) {
        const frags = value(decodeHandshakeFragments(rec.recordFragment));
        expect(frags.length).toBe(rec.json.length);
        const reencoded: Buffer[] = [];
        frags.forEach((f, i) => {
          const j = rec.json[i]!;
          expect(f.header).toEqual({
            msgType: j.msg_type,
            length: j.length,
            messageSeq: j.message_seq,
            fragmentOffset: j.fragment_offset,
            fragmentLength: j.fragment_length,
          });
          seenTypes.add(j.msg_type);
          const body = reencode(j.msg_type, f.fragment);
          expect(body.toString('hex')).toBe(f.fragment.toString('hex'));
          reencoded.push(encodeHandshakeFragment({ header: f.header, fragment: body }));
          checkFields(j, f.fragment);
        });
        expect(Buffer.concat(reencoded).toString('hex')).toBe(rec.recordFragment.toString('hex'));
      }
      expect([...seenTypes].sort((a, b) => a - b)).toEqual([1, 2, 3, 14, 16, 20]);
    });
  }
});

/** Compares a decoded body with the capture's own JSON decode. */
function checkFields(j: JsonMessage, body: Buffer): void {
  switch (j.msg_type) {
    case HandshakeType.CLIENT_HELLO: {
      const ch = value(decodeClientHello(body));
      expect(ch.clientVersion).toBe(Number.parseInt(j.client_version as string, 16));
      expect(ch.random.toString('hex')).toBe(j.random);
      expect(ch.sessionId.toString('hex')).toBe(j.session_id);
      expect(ch.cookie.toString('hex')).toBe(j.cookie);
      expect(ch.cipherSuites).toEqual(jsonSuites(j));
      expect(ch.compressionMethods).toEqual([0]);
      expect(ch.extensions?.order).toEqual(jsonExt(j).map((e) => e.type));
      break;
    }
    case HandshakeType.HELLO_VERIFY_REQUEST: {
      const hvr = value(decodeHelloVerifyRequest(body));
      expect(hvr.serverVersion).toBe(Number.parseInt(j.server_version as string, 16));
      expect(hvr.cookie.toString('hex')).toBe(j.cookie);
      break;
    }
    case HandshakeType.SERVER_HELLO: {
      const sh = value(decodeServerHello(body));
      expect(sh.random.toString('hex')).toBe(j.random);
      expect(sh.sessionId.toString('hex')).toBe(j.session_id);
      expect(sh.cipherSuite).toBe(Number.parseInt(j.cipher_suite as string, 16));
      expect(sh.extensions?.order).toEqual(jsonExt(j).map((e) => e.type));
      break;
    }
    case HandshakeType.CLIENT_KEY_EXCHANGE: {
      const ckx = value(decodeClientKeyExchange(body, 'psk'));
      expect(ckx.form).toBe('psk');
      if (ckx.form === 'psk') expect(ckx.identity.toString('hex')).toBe(j.psk_identity);
      break;
    }
    case HandshakeType.FINISHED:
      expect(value(decodeFinished(body)).verifyData.toString('hex')).toBe(j.verify_data);
      break;
    default:
  }
}

/** Expected facts from README sections 1-4 (and 5 for the rebind capture). */
const README_FACTS: Record<string, { suite: number; clientCid: string; serverCid: string }> = {
  'dtls-psk-ccm8-cid.json': { suite: 0xc0a8, clientCid: '7839e0d1149d', serverCid: 'b724636c9c35' },
  'dtls-psk-gcm-cid.json': { suite: 0x00a8, clientCid: '9cfec376c696', serverCid: 'b7f9f01411b9' },
  'dtls-psk-cbc-cid.json': { suite: 0x00ae, clientCid: '2f333d763f0a', serverCid: '5821389306f0' },
  'dtls-psk-ccm8-nocid.json': { suite: 0xc0a8, clientCid: '', serverCid: 'de47063148d5' },
  'dtls-psk-ccm8-rebind.json': { suite: 0xc0a8, clientCid: 'e276566b2273', serverCid: 'e1afcca40591' },
};

/** The handshake of one session, reassembled per direction the way the state machine will. */
interface SessionFlights {
  clientHello1: DecodedClientHello;
  clientHello2: DecodedClientHello;
  clientMessages: HandshakeMessage[];
  serverMessages: HandshakeMessage[];
  oldClientFragments: number;
}

function sessionFlights(cap: Capture, s: JsonSession): SessionFlights {
  const records = handshakeRecords(cap);
  // in the cluster capture two nodes also start handshakes towards each other: keep each role's messages
  const clientTypes = [HandshakeType.CLIENT_HELLO, HandshakeType.CLIENT_KEY_EXCHANGE, HandshakeType.FINISHED] as number[];
  const fromClient = records.filter(
    (r) => r.src === s.client && r.dst === s.server && clientTypes.includes(r.json[0]!.msg_type),
  );
  const fromServer = records.filter(
    (r) => r.src === s.server && r.dst === s.client && r.json[0]!.msg_type !== HandshakeType.CLIENT_HELLO,
  );
  // the first ClientHello is answered statelessly (RFC 6347 §4.2.1); decode it on its own
  const first = value(decodeHandshakeFragments(fromClient[0]!.recordFragment))[0]!;
  expect(first.header.msgType).toBe(HandshakeType.CLIENT_HELLO);
  const clientHello1 = value(decodeClientHello(first.fragment));
  // the server's reassembler starts at the message_seq of the ClientHello carrying the cookie
  const serverSide = createReassembler({ nextSeq: 1 });
  const clientSide = createReassembler({ nextSeq: 0 });
  const clientMessages: HandshakeMessage[] = [];
  const serverMessages: HandshakeMessage[] = [];
  let oldClientFragments = 0;
  for (const rec of fromClient) {
    for (const f of value(decodeHandshakeFragments(rec.recordFragment))) {
      const st = serverSide.push(f);
      if (st.status === 'old') oldClientFragments++;
      else expect(st.status).toBe('accepted');
      for (let m = serverSide.next(); m; m = serverSide.next()) clientMessages.push(m);
    }
  }
  for (const rec of fromServer) {
    for (const f of value(decodeHandshakeFragments(rec.recordFragment))) {
      expect(clientSide.push(f).status).toBe('accepted');
      for (let m = clientSide.next(); m; m = clientSide.next()) serverMessages.push(m);
    }
  }
  return {
    clientHello1,
    clientHello2: value(decodeClientHello(clientMessages[0]!.body)),
    clientMessages,
    serverMessages,
    oldClientFragments,
  };
}

describe('README facts of the PSK captures (sections 1-4, 5)', () => {
  it('covers every dtls-psk capture', () => {
    expect(PSK_FILES).toEqual(Object.keys(README_FACTS).sort());
  });
  for (const file of PSK_FILES) {
    it(`${file}: hellos, cookie, CIDs, extensions and PSK identity`, () => {
      const cap = load(file);
      const facts = README_FACTS[file]!;
      expect(cap.sessions).toHaveLength(1);
      const s = cap.sessions[0]!;
      expect(suiteCode(s.cipher_suite)).toBe(facts.suite);
      const fl = sessionFlights(cap, s);
      expect(fl.oldClientFragments).toBe(1); // the first ClientHello (seq 0) is "old" for the stateful side

      // ClientHello without and with cookie: forced suite + SCSV, extensions 23 and 54 only
      for (const ch of [fl.clientHello1, fl.clientHello2]) {
        expect(ch.clientVersion).toBe(0xfefd);
        expect(ch.random.toString('hex')).toBe(s.client_random);
        expect(ch.sessionId.length).toBe(0);
        expect(ch.cipherSuites).toEqual([facts.suite, TLS_EMPTY_RENEGOTIATION_INFO_SCSV]);
        expect(hasRenegotiationScsv(ch)).toBe(true);
        expect(offersSecureRenegotiation(ch)).toBe(true);
        expect(ch.extensions?.order).toEqual([ExtensionType.EXTENDED_MASTER_SECRET, ExtensionType.CONNECTION_ID]);
        expect(ch.extensions?.extendedMasterSecret).toBe(true);
        expect(ch.extensions?.connectionId?.toString('hex')).toBe(facts.clientCid);
        expect(ch.extensions?.renegotiationInfo).toBeUndefined();
        expect(ch.extensions?.unknown).toEqual([]);
      }
      expect(fl.clientHello1.cookie.length).toBe(0);
      expect(fl.clientHello2.cookie.length).toBe(32);

      // HelloVerifyRequest: DTLS 1.2, 32-byte cookie echoed by the second ClientHello, same message_seq 0
      const [hvrMsg, shMsg, shdMsg, serverFinMsg] = fl.serverMessages;
      expect(fl.serverMessages.map((m) => [m.msgType, m.messageSeq])).toEqual([
        [HandshakeType.HELLO_VERIFY_REQUEST, 0],
        [HandshakeType.SERVER_HELLO, 1],
        [HandshakeType.SERVER_HELLO_DONE, 2],
        [HandshakeType.FINISHED, 3],
      ]);
      const hvr = value(decodeHelloVerifyRequest(hvrMsg!.body));
      expect(hvr.serverVersion).toBe(0xfefd);
      expect(hvr.cookie.length).toBe(32);
      expect(hvr.cookie.equals(fl.clientHello2.cookie)).toBe(true);

      // the cookie HMAC input is the same for both ClientHellos: body without the cookie field
      const without1 = clientHelloBodyWithoutCookie(fl.clientHello1);
      expect(clientHelloBodyWithoutCookie(fl.clientHello2).toString('hex')).toBe(without1.toString('hex'));
      expect(without1.length).toBe(fl.clientHello1.raw.length - 1); // only the empty cookie's length byte
      expect(fl.clientHello2.raw.length).toBe(fl.clientHello1.raw.length + 32);

      // ServerHello: suite, 32-byte session id, extensions 23, 65281 (data 00), 54 in that order
      const sh = value(decodeServerHello(shMsg!.body));
      expect(sh.serverVersion).toBe(0xfefd);
      expect(sh.random.toString('hex')).toBe(s.server_random);
      expect(sh.sessionId.toString('hex')).toBe(s.session_id);
      expect(sh.sessionId.length).toBe(32);
      expect(sh.cipherSuite).toBe(facts.suite);
      expect(sh.compressionMethod).toBe(0);
      expect(sh.extensions?.order).toEqual([
        ExtensionType.EXTENDED_MASTER_SECRET,
        ExtensionType.RENEGOTIATION_INFO,
        ExtensionType.CONNECTION_ID,
      ]);
      expect(sh.extensions?.extendedMasterSecret).toBe(true);
      expect(sh.extensions?.renegotiationInfo?.length).toBe(0);
      expect(sh.extensions?.connectionId?.toString('hex')).toBe(facts.serverCid);
      expect(shdMsg!.body.length).toBe(0);

      // ClientKeyExchange: PSK identity Client_identity; then the client's Finished (epoch 1)
      expect(fl.clientMessages.map((m) => [m.msgType, m.messageSeq])).toEqual([
        [HandshakeType.CLIENT_HELLO, 1],
        [HandshakeType.CLIENT_KEY_EXCHANGE, 2],
        [HandshakeType.FINISHED, 3],
      ]);
      const ckx = value(decodeClientKeyExchange(fl.clientMessages[1]!.body, 'psk'));
      expect(ckx).toEqual({ form: 'psk', identity: Buffer.from('Client_identity') });
      const dispatched = value(decodeHandshakeMessage(fl.clientMessages[1]!, { keyExchange: 'psk' }));
      expect(dispatched.msgType).toBe(HandshakeType.CLIENT_KEY_EXCHANGE);
      expect(value(decodeFinished(fl.clientMessages[2]!.body)).verifyData.toString('hex')).toBe(s.client_finished_verify_data);
      expect(value(decodeFinished(serverFinMsg!.body)).verifyData.toString('hex')).toBe(s.server_finished_verify_data);
    });
  }
});

describe('transcript rule (RFC 6347 §4.2.6, README "Key schedule")', () => {
  for (const file of ALL_FILES) {
    it(`${file}: SHA-256 over full-header forms CH2..CKE = session_hash; + client Finished = server hash`, () => {
      const cap = load(file);
      for (const s of cap.sessions) {
        const fl = sessionFlights(cap, s);
        const [ch2, ckx, clientFin] = fl.clientMessages;
        const [, sh, shd] = fl.serverMessages;
        const transcript = [ch2!, sh!, shd!, ckx!].map(encodeFullHandshakeMessage);
        const hash = createHash('sha256').update(Buffer.concat(transcript)).digest('hex');
        expect(hash).toBe(s.session_hash);
        const serverHash = createHash('sha256')
          .update(Buffer.concat([...transcript, encodeFullHandshakeMessage(clientFin!)]))
          .digest('hex');
        expect(serverHash).toBe(s.server_finished_handshake_hash);
        // the first ClientHello and the HelloVerifyRequest are not part of it
        const withFirst = createHash('sha256')
          .update(Buffer.concat([encodeFullHandshakeMessage({ msgType: 1, messageSeq: 0, body: fl.clientHello1.raw }), ...transcript]))
          .digest('hex');
        expect(withFirst).not.toBe(s.session_hash);
      }
    });
  }
});

describe('ChangeCipherSpec records of the captures', () => {
  it('decode and re-encode', () => {
    let n = 0;
    for (const file of ALL_FILES) {
      for (const dg of load(file).datagrams) {
        for (const rec of dg.records) {
          if (rec.content_type !== ContentType.CHANGE_CIPHER_SPEC) continue;
          expect(decodeChangeCipherSpec(hex(rec.fragment)).ok).toBe(true);
          expect(encodeChangeCipherSpec().toString('hex')).toBe(rec.fragment);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThanOrEqual(10);
  });
});
