// The raw DTLS test client (test/helpers/raw-dtls, independent of src/) against the Californium capture
// dtls-psk-ccm8-nocid (client CID empty, server CID 6 bytes): key schedule byte for byte (premaster,
// session hash, master secret, key block, both verify_data), record protection with the RFC 9146 AAD
// (client → server) and the RFC 6347 AAD (server → client), CoAP bytes, and the whole client object
// replaying the handshake against a fake server on 127.0.0.1 that answers with the captured datagrams.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { capturesAvailable, hex, loadCapture, type Capture, type CaptureRecord } from '../helpers/captures.js';
import {
  ContentType,
  HandshakeType,
  RawDtlsClient,
  ccm8KeyBlock,
  decodeCoap,
  encodeClientHello,
  encodeGet,
  encodeMessage,
  forgedRecord,
  fragmentMessage,
  masterSecret,
  openRecord,
  parseDatagram,
  parseFragments,
  prf,
  pskPreMasterSecret,
  sealRecord,
  transcriptHash,
  verifyData,
} from '../helpers/raw-dtls/index.js';

const NAME = 'dtls-psk-ccm8-nocid';

/** The record of frame `frame` at index `i`. */
function rec(c: Capture, frame: number, i: number): CaptureRecord {
  return c.datagrams.find((d) => d.frame === frame)!.records[i]!;
}

describe.skipIf(!capturesAvailable())('raw DTLS client vs. the Californium capture dtls-psk-ccm8-nocid', () => {
  const c = capturesAvailable() ? loadCapture(NAME) : (undefined as unknown as Capture);
  const s = c?.sessions[0]!;

  it('PRF (RFC 5246 §5) known answer: the TLS 1.2 SHA-256 PRF test vector', () => {
    // widely published vector (IETF TLS list, "TLS 1.2 PRF test vectors", SHA-256)
    const out = prf(
      hex('9bbe436ba940f017b17652849a71db35'),
      'test label',
      hex('a0ba9f936cda311827a6f796ffd5198c'),
      100,
    );
    expect(out.subarray(0, 16).toString('hex')).toBe('e3f229ba727be17b8d122620557cd453');
    expect(out.length).toBe(100);
  });

  it('premaster, session hash, master secret (EMS), key block and both verify_data match the capture', () => {
    expect(pskPreMasterSecret(Buffer.from('secretPSK')).toString('hex')).toBe(s.pre_master_secret);
    // transcript: ClientHello with cookie, ServerHello, ServerHelloDone, ClientKeyExchange (RFC 6347 §4.2.6)
    const ch2 = hex(rec(c, 3, 0).fragment);
    const sh = hex(rec(c, 4, 0).fragment);
    const shd = hex(rec(c, 4, 1).fragment);
    const cke = hex(rec(c, 5, 0).fragment);
    const transcript = [ch2, sh, shd, cke];
    expect(transcriptHash(transcript).toString('hex')).toBe(s.session_hash);
    const master = masterSecret({
      preMasterSecret: hex(s.pre_master_secret),
      clientRandom: hex(s.client_random),
      serverRandom: hex(s.server_random),
      sessionHash: transcriptHash(transcript),
    });
    expect(master.toString('hex')).toBe(s.master_secret);
    const keys = ccm8KeyBlock(master, hex(s.client_random), hex(s.server_random));
    expect(keys.keyBlock.toString('hex')).toBe(s.key_block);
    expect(keys.clientWriteKey.toString('hex')).toBe(s.client_write_key);
    expect(keys.serverWriteKey.toString('hex')).toBe(s.server_write_key);
    expect(keys.clientWriteIv.toString('hex')).toBe(s.client_write_iv!);
    expect(keys.serverWriteIv.toString('hex')).toBe(s.server_write_iv!);
    expect(verifyData(master, 'client', transcriptHash(transcript)).toString('hex')).toBe(s.client_finished_verify_data);
    const clientFinished = hex(rec(c, 5, 2).decryption!.content);
    expect(transcriptHash([...transcript, clientFinished]).toString('hex')).toBe(s.server_finished_handshake_hash);
    expect(verifyData(master, 'server', transcriptHash([...transcript, clientFinished])).toString('hex')).toBe(s.server_finished_verify_data);
    // without EMS the master secret differs (RFC 5246 §8.1 seed = randoms)
    const plain = masterSecret({ preMasterSecret: hex(s.pre_master_secret), clientRandom: hex(s.client_random), serverRandom: hex(s.server_random) });
    expect(plain.equals(master)).toBe(false);
  });

  it('sealing reproduces the captured records: tls12_cid client records (RFC 9146 §5 AAD) and plain server records', () => {
    const w = { key: hex(s.client_write_key), iv: hex(s.client_write_iv!) };
    const sw = { key: hex(s.server_write_key), iv: hex(s.server_write_iv!) };
    const cid = hex(s.server_cid);
    for (const [frame, i, type] of [
      [5, 2, ContentType.HANDSHAKE],
      [7, 0, ContentType.APPLICATION_DATA],
    ] as const) {
      const r = rec(c, frame, i);
      const sealed = sealRecord(w, { type, epoch: r.epoch, seq: r.sequence_number, content: hex(r.decryption!.content), cid });
      expect(sealed.toString('hex'), `frame ${frame}`).toBe(r.header + r.fragment);
    }
    for (const [frame, i] of [
      [6, 1],
      [8, 0],
    ] as const) {
      const r = rec(c, frame, i);
      const sealed = sealRecord(sw, { type: r.content_type, epoch: r.epoch, seq: r.sequence_number, content: hex(r.decryption!.content) });
      expect(sealed.toString('hex'), `frame ${frame}`).toBe(r.header + r.fragment);
    }
  });

  it('opening: captured records decrypt; a flipped bit, a forged record or the wrong direction key do not', () => {
    const sw = { key: hex(s.server_write_key), iv: hex(s.server_write_iv!) };
    const cw = { key: hex(s.client_write_key), iv: hex(s.client_write_iv!) };
    const server = parseDatagram(hex(c.datagrams.find((d) => d.frame === 8)!.udp_payload)).records[0]!;
    const opened = openRecord(sw, server);
    expect(opened?.type).toBe(ContentType.APPLICATION_DATA);
    expect(opened?.content.toString('hex')).toBe(rec(c, 8, 0).decryption!.content);
    expect(openRecord(cw, server)).toBeUndefined();
    const flipped = { ...server, fragment: Buffer.from(server.fragment) };
    flipped.fragment[20]! ^= 1;
    expect(openRecord(sw, flipped)).toBeUndefined();
    // client → server tls12_cid records carry the server's 6-byte CID
    const fl5 = parseDatagram(hex(c.datagrams.find((d) => d.frame === 5)!.udp_payload), 6).records;
    expect(fl5.map((r) => [r.type, r.epoch, r.seq])).toEqual([
      [22, 0, 2],
      [20, 0, 3],
      [25, 1, 0],
    ]);
    expect(fl5[2]!.cid?.toString('hex')).toBe(s.server_cid);
    const fin = openRecord(cw, fl5[2]!);
    expect(fin?.type).toBe(ContentType.HANDSHAKE);
    expect(fin?.content.toString('hex')).toBe(rec(c, 5, 2).decryption!.content);
    const forged = parseDatagram(forgedRecord({ type: ContentType.HANDSHAKE, epoch: 1, seq: 0, length: 24 })).records[0]!;
    expect(forged.fragment.length).toBe(8 + 24 + 8);
    expect(openRecord(cw, forged)).toBeUndefined();
  });

  it('ClientHello body, handshake header and fragments, CoAP GET bytes', () => {
    const ch2 = parseFragments(hex(rec(c, 3, 0).fragment))![0]!;
    const cookie = hex(c.datagrams[1]!.records[0]!.handshake_messages![0]!['cookie'] as string);
    const body = encodeClientHello({
      random: hex(s.client_random),
      cookie,
      cipherSuites: [0xc0a8, 0x00ff],
      extensions: [
        [23, Buffer.alloc(0)],
        [54, Buffer.from([0])],
      ],
    });
    expect(body.equals(ch2.bytes)).toBe(true);
    expect(encodeMessage({ msgType: HandshakeType.CLIENT_HELLO, messageSeq: 1, body }).toString('hex')).toBe(rec(c, 3, 0).fragment);
    const msg = { msgType: HandshakeType.CLIENT_HELLO, messageSeq: 1, body };
    const pieces = fragmentMessage(msg, [
      { offset: 0, length: 10 },
      { offset: 10, length: body.length - 10, totalLength: body.length + 3 },
    ]);
    const parsed = parseFragments(Buffer.concat(pieces))!;
    expect(parsed.map((f) => [f.length, f.fragmentOffset, f.fragmentLength])).toEqual([
      [body.length, 0, 10],
      [body.length + 3, 10, body.length - 10],
    ]);
    expect(Buffer.concat(parsed.map((f) => f.bytes)).equals(body)).toBe(true);

    const get = rec(c, 7, 0).decryption!.content;
    expect(encodeGet(['mycontext'], 34785, hex('2c9e8b319811a563')).toString('hex')).toBe(get);
    const rsp = decodeCoap(hex(rec(c, 8, 0).decryption!.content))!;
    expect([rsp.type, rsp.code, rsp.mid, rsp.token.toString('hex')]).toEqual([2, '2.05', 34785, '2c9e8b319811a563']);
    expect(rsp.payload.toString()).toMatch(/^ip: 127\.0\.0\.1\n/);
  });

  describe('the RawDtlsClient object replays the capture against a fake server', () => {
    let fake: dgram.Socket | undefined;
    let client: RawDtlsClient | undefined;
    afterEach(() => {
      client?.close();
      fake?.close();
      client = fake = undefined;
    });

    it('sends the captured client datagrams byte for byte and checks the server Finished and response', async () => {
      const dg = (frame: number) => hex(c.datagrams.find((d) => d.frame === frame)!.udp_payload);
      const seen: Buffer[] = [];
      const sock = dgram.createSocket('udp4');
      fake = sock;
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      // the fake server answers the n-th client datagram with the captured server datagram
      const answers = [dg(2), dg(4), dg(6), dg(8)];
      sock.on('message', (m, rinfo) => {
        seen.push(m);
        const a = answers[seen.length - 1];
        if (a !== undefined) sock.send(a, rinfo.port, rinfo.address);
      });
      const cl = await RawDtlsClient.open({ host: '127.0.0.1', port: sock.address().port, random: hex(s.client_random), cid: Buffer.alloc(0) });
      client = cl;
      const sh = await cl.helloFlights(2000);
      expect(sh.random.toString('hex')).toBe(s.server_random);
      expect(cl.ems).toBe(true);
      expect(cl.writeCid?.toString('hex')).toBe(s.server_cid);
      const from = cl.mark();
      const cke = cl.clientKeyExchange();
      cl.send(cl.handshake(cke), cl.changeCipherSpec(), cl.handshake(cl.finished(), { epoch: 1 }));
      const fin = await cl.waitServerFinished(2000, from);
      expect(fin?.finishedOk).toBe(true);
      const token = hex('2c9e8b319811a563');
      cl.send(cl.appData(encodeGet(['mycontext'], 34785, token)));
      const rsp = await cl.waitCoap(token, 2000);
      expect(rsp?.coap?.code).toBe('2.05');
      expect(seen.map((b) => b.toString('hex'))).toEqual([dg(1), dg(3), dg(5), dg(7)].map((b) => b.toString('hex')));
    });
  });
});
