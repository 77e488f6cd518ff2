// Replays the client side of the Californium 3.14.0 captures through our server connector with the
// capture's server random, session id, CID and cookie injected: our server must produce the reference's
// datagrams (byte-identical for AEAD suites; for CBC the records decrypt with the captured keys to the
// captured plaintext), verify the client Finished and deliver the application data with the right context.
import { describe, expect, it } from 'vitest';
import { cipherSuiteByCode } from '../../src/dtls/cipher-suites.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import type { CookieGenerator } from '../../src/dtls/cookie.js';
import { epochKeysForRole, splitKeyBlock } from '../../src/dtls/keys.js';
import { parseDatagram } from '../../src/dtls/record.js';
import { createRecordProtection } from '../../src/dtls/record-protection.js';
import type { EndpointContext } from '../../src/transport/connector.js';
import { capturesAvailable, hex, loadCapture, suiteCode, type Capture, type CaptureDatagram } from '../helpers/captures.js';

const CAPTURES = ['dtls-psk-ccm8-cid', 'dtls-psk-gcm-cid', 'dtls-psk-cbc-cid', 'dtls-psk-ccm8-nocid', 'dtls-psk-ccm8-rebind'] as const;

function split(addr: string): { address: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { address: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

interface Replay {
  outputs: { datagram: Buffer; address: string; port: number }[];
  received: { data: Buffer; ctx: EndpointContext }[];
  server: DtlsConnector;
  expectedOut: CaptureDatagram[];
}

async function replay(capture: Capture): Promise<Replay> {
  const session = capture.sessions[0]!;
  const serverAddr = Object.entries(capture.endpoints).find(([, role]) => role === 'server')![0];
  const hvr = capture.datagrams.find((d) => d.src === serverAddr && d.records[0]!.handshake_messages?.[0]?.name === 'hello_verify_request')!;
  const cookie = hex(hvr.records[0]!.handshake_messages![0]!['cookie'] as string);
  const cookies: CookieGenerator = { generate: () => cookie, verify: (_a, _p, _b, c) => c.equals(cookie) };
  const outputs: Replay['outputs'] = [];
  const server = new DtlsConnector({
    address: '127.0.0.1',
    port: 0,
    role: 'server',
    cookieGenerator: cookies,
    random: (purpose) => hex(purpose === 'random' ? session.server_random : purpose === 'session-id' ? session.session_id : session.server_cid),
    outboundFilter: (datagram, address, port) => {
      outputs.push({ datagram, address, port });
      return false;
    },
  });
  await server.start();
  const expectedOut = capture.datagrams.filter((d) => d.src === serverAddr);
  const received: Replay['received'] = [];
  let appOut = 0;
  server.onDatagram = (data, ctx) => {
    received.push({ data: Buffer.from(data), ctx });
    // answer with the reference's response plaintext (the next server application record)
    const responses = expectedOut.flatMap((d) => d.records).filter((r) => r.epoch === 1 && r.decryption?.real_type === 23 || (r.content_type === 23 && r.decryption));
    const response = responses[appOut++];
    if (response) server.send(hex(response.decryption!.content), ctx);
  };
  for (const d of capture.datagrams) {
    if (d.dst !== serverAddr) continue;
    const from = split(d.src);
    server.receiveDatagram(hex(d.udp_payload), from.address, from.port);
  }
  return { outputs, received, server, expectedOut };
}

describe.skipIf(!capturesAvailable())('server handshake against the Californium captures', () => {
  for (const name of CAPTURES) {
    it(`${name}: reproduces the reference's server datagrams and delivers the request`, async () => {
      const capture = loadCapture(name);
      const session = capture.sessions[0]!;
      const suite = cipherSuiteByCode(suiteCode(session))!;
      const { outputs, received, server, expectedOut } = await replay(capture);
      try {
        expect(outputs.length).toBe(expectedOut.length);
        // the client's view of the keys decrypts what our server wrote
        const clientView = createRecordProtection(epochKeysForRole(splitKeyBlock(hex(session.key_block), suite), suite, 'client'));
        const clientCidLength = session.client_cid.length / 2;
        outputs.forEach((out, i) => {
          const ref = expectedOut[i]!;
          const to = split(ref.dst);
          expect(`${out.address}:${out.port}`).toBe(`${to.address}:${to.port}`);
          if (suite.aead) {
            expect(out.datagram.toString('hex')).toBe(ref.udp_payload);
            return;
          }
          const ours = parseDatagram(out.datagram, clientCidLength);
          expect(ours.length).toBe(ref.records.length);
          ours.forEach((rec, j) => {
            const refRec = ref.records[j]!;
            expect([rec.type, rec.epoch, rec.seq]).toEqual([refRec.content_type, refRec.epoch, refRec.sequence_number]);
            if (rec.epoch === 0) expect(rec.fragment.toString('hex')).toBe(refRec.fragment);
            else expect(clientView.decrypt(rec)?.plaintext.toString('hex')).toBe(refRec.decryption!.content);
          });
        });
        // every client request reached onDatagram with the reference's context values
        const requests = capture.datagrams.filter((d) => d.dst === expectedOut[0]!.src && d.records.some((r) => r.decryption?.real_type === 23 || (r.content_type === 23 && r.decryption)));
        expect(received.length).toBe(requests.length);
        received.forEach((r, i) => {
          const req = requests[i]!;
          const rec = req.records[0]!;
          expect(r.data.toString('hex')).toBe(rec.decryption!.content);
          const from = split(req.src);
          expect(r.ctx.address).toBe(from.address);
          expect(r.ctx.port).toBe(from.port);
          const dtls = r.ctx.dtls!;
          expect(dtls.peerIdentity).toBe('Client_identity');
          expect(dtls.cipherSuite).toBe(suite.name);
          expect(dtls.sessionId.toString('hex')).toBe(session.session_id);
          expect(dtls.readCid?.toString('hex')).toBe(session.server_cid);
          expect(dtls.writeCid?.toString('hex')).toBe(session.client_cid);
          expect(dtls.extendedMasterSecret).toBe(true);
          expect(dtls.secureRenegotiation).toBe(true);
          expect(dtls.newestRecord).toBe(true);
          expect(dtls.readSequence).toBe(rec.sequence_number);
          // dtls.md §9 with a 1500 MTU (loopback capped); the reference showed the same numbers
          const cid = session.client_cid.length / 2;
          expect(dtls.messageSizeLimit).toBe(1500 - 64 - 13 - cid - suite.maxExpansion - (cid > 0 ? 1 : 0));
        });
        if (name === 'dtls-psk-ccm8-rebind') {
          const last = received[received.length - 1]!.ctx.dtls!;
          expect(last.prevAddress).toBe('127.0.0.1');
          expect(last.prevPort).toBe(60544);
          expect(received[0]!.ctx.dtls!.prevPort).toBeUndefined();
        }
        expect(server.stats['handshakes succeeded']).toBe(1);
        expect(server.detailStats.helloVerifyRequests).toBe(1);
      } finally {
        await server.stop();
      }
    });
  }

  for (const mode of ['NONE', 'DECRYPT_ERROR'] as const) {
    it(`the captured flight 5 with another PSK secret: the Finished is discarded (${mode === 'NONE' ? 'silence' : 'decrypt_error'})`, async () => {
      const capture = loadCapture('dtls-psk-ccm8-cid');
      const session = capture.sessions[0]!;
      const cookie = hex(capture.datagrams[1]!.records[0]!.handshake_messages![0]!['cookie'] as string);
      const outputs: Buffer[] = [];
      const server = new DtlsConnector({
        address: '127.0.0.1',
        port: 0,
        config: { pskFailureAlert: mode },
        pskStore: { lookup: (id) => (id === 'Client_identity' ? Buffer.from('otherPSK') : undefined) },
        cookieGenerator: { generate: () => cookie, verify: () => true },
        random: (purpose) => hex(purpose === 'random' ? session.server_random : purpose === 'session-id' ? session.session_id : session.server_cid),
        outboundFilter: (d) => (outputs.push(d), false),
      });
      await server.start();
      try {
        for (const frame of [3, 5]) {
          const d = capture.datagrams.find((x) => x.frame === frame)!;
          server.receiveDatagram(hex(d.udp_payload), '127.0.0.1', 52263);
        }
        expect(server.stats['dropped received mac-errors']).toBe(1);
        const last = parseDatagram(outputs[outputs.length - 1]!, 6)[0]!;
        if (mode === 'NONE') {
          // no alert: the last datagram is still our ServerHello flight; the handshake waits (and times out)
          expect(last.type).toBe(22);
          expect(server.store.size).toBe(1);
          expect(server.stats['handshakes failed']).toBe(0);
        } else {
          expect(last.type).toBe(21);
          expect([...last.fragment]).toEqual([2, 51]); // fatal decrypt_error
          expect(server.store.size).toBe(0);
          expect(server.stats['handshakes failed']).toBe(1);
        }
      } finally {
        await server.stop();
      }
    });
  }
});
