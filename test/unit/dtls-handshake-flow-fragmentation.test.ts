// Flight packing and fragmentation (RFC 6347 §4.1.1, §4.2.3): several records per datagram, messages
// split to fit the MTU and the peer's record_size_limit, reassembled by the peer.
import { afterEach, describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import type { DtlsConnector } from '../../src/dtls/connector.js';
import { packFlight, type FlightEntry, type RecordSealer } from '../../src/dtls/flight.js';
import { createReassembler, decodeHandshakeFragments, HandshakeType, type HandshakeFragment } from '../../src/dtls/handshake/index.js';
import { encodeRecord, parseDatagram } from '../../src/dtls/record.js';
import { client, clientIdentity, demoPki, echoServer, roundTrip } from '../helpers/dtls-pair.js';

const started: DtlsConnector[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

function plainSealer(): RecordSealer & { seq: number } {
  const s = {
    seq: 0,
    overhead: () => 13,
    seal: (type: number, epoch: number, plaintext: Buffer) => encodeRecord(type, 0xfefd, epoch, s.seq++, plaintext),
  };
  return s;
}

function message(msgType: number, messageSeq: number, size: number): FlightEntry {
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = (i * 7 + messageSeq) & 0xff;
  return { kind: 'handshake', epoch: 0, msg: { msgType, messageSeq, body } };
}

describe('packFlight', () => {
  it('packs small messages into one datagram', () => {
    const entries = [message(2, 1, 80), message(14, 2, 0)];
    const datagrams = packFlight(entries, 1472, 16384, plainSealer());
    expect(datagrams.length).toBe(1);
    expect(parseDatagram(datagrams[0]!, 0).length).toBe(2);
  });

  it('fragments large messages within the datagram and record limits and reassembles them', () => {
    const entries = [message(2, 1, 90), message(11, 2, 3000), message(12, 3, 150), { kind: 'ccs', epoch: 0 } as FlightEntry, message(14, 4, 0)];
    const maxDatagram = 548;
    const maxPlaintext = 512;
    const sealer = plainSealer();
    const datagrams = packFlight(entries, maxDatagram, maxPlaintext, sealer);
    const reassembler = createReassembler({ nextSeq: 1 });
    let fragmented = 0;
    let ccs = 0;
    for (const d of datagrams) {
      expect(d.length).toBeLessThanOrEqual(maxDatagram);
      for (const r of parseDatagram(d, 0)) {
        expect(r.fragment.length).toBeLessThanOrEqual(maxPlaintext);
        if (r.type === 20) {
          ccs++;
          continue;
        }
        const frags = decodeHandshakeFragments(r.fragment);
        expect(frags.ok).toBe(true);
        for (const f of (frags as { value: HandshakeFragment[] }).value) {
          if (f.header.fragmentLength < f.header.length) fragmented++;
          expect(reassembler.push(f).status).toBe('accepted');
        }
      }
    }
    expect(ccs).toBe(1);
    expect(fragmented).toBeGreaterThanOrEqual(6);
    for (const e of entries) {
      if (e.kind !== 'handshake') continue;
      const m = reassembler.next()!;
      expect(m.msgType).toBe(e.msg.msgType);
      expect(m.body.equals(e.msg.body)).toBe(true);
    }
    // sequence numbers are taken at sealing time: a repack (retransmission) uses new ones
    const before = sealer.seq;
    packFlight(entries, maxDatagram, maxPlaintext, sealer);
    expect(sealer.seq).toBeGreaterThan(before);
  });

  it('refuses a datagram size that cannot carry a fragment', () => {
    expect(() => packFlight([message(11, 0, 100)], 20, 16384, plainSealer())).toThrow(RangeError);
  });
});

describe('fragmented certificate handshakes over loopback', () => {
  it('MTU 576 and record_size_limit 512 / 256: certificate chains fragmented both ways', async () => {
    const pki = demoPki();
    const serverDatagrams: Buffer[] = [];
    const clientDatagrams: Buffer[] = [];
    const s = await echoServer({
      identities: pki.identities,
      trustAnchors: pki.trustAnchors,
      config: { maxTransmissionUnit: 576, recordSizeLimit: 512 },
      outboundFilter: (d) => (serverDatagrams.push(d), true),
    });
    const c = await client({
      identities: [clientIdentity()],
      trustAnchors: pki.trustAnchors,
      offeredCipherSuites: [cipherSuiteByName('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8')!],
      config: { certificateTypes: ['X_509'], maxTransmissionUnit: 576, recordSizeLimit: 256 },
      outboundFilter: (d) => (clientDatagrams.push(d), true),
    });
    started.push(s.server, c.client);
    const { atServer } = await roundTrip(c, s, 'fragmented');
    expect(atServer.ctx.dtls!.peerIdentity).toBe('CN=cf-client,OU=Californium,O=Eclipse IoT,L=Ottawa,C=CA');
    // dtls.md §9: min(576 − 64 − 13 − 6, client's record_size_limit 256) − CCM_8 expansion − inner type
    expect(atServer.ctx.dtls!.messageSizeLimit).toBe(256 - 16 - 1);
    const certificateFragments = (datagrams: Buffer[], limit: number): number => {
      let n = 0;
      for (const d of datagrams) {
        expect(d.length).toBeLessThanOrEqual(576 - 28);
        for (const r of parseDatagram(d, 6)) {
          if (r.type !== 22 || r.epoch !== 0) continue;
          expect(r.fragment.length).toBeLessThanOrEqual(limit);
          const frags = decodeHandshakeFragments(r.fragment);
          if (!frags.ok) continue;
          for (const f of frags.value) if (f.header.msgType === HandshakeType.CERTIFICATE && f.header.fragmentLength < f.header.length) n++;
        }
      }
      return n;
    };
    expect(certificateFragments(serverDatagrams, 256)).toBeGreaterThanOrEqual(3);
    expect(certificateFragments(clientDatagrams, 512)).toBeGreaterThanOrEqual(2);
    // the server's flight 4 needed more than one datagram
    expect(serverDatagrams.length).toBeGreaterThanOrEqual(4);
  });
});
