// The clients' coap+tcp and coaps+tcp options (clients.md §2, RFC 8323 §8): schemes and default ports, the TLS
// settings from the client options, the receive test's ports, and the `>>> TLS(...)` session lines.
import { describe, expect, it } from 'vitest';
import { toClientOptions } from '../../src/clients/common-options.js';
import { sessionLines } from '../../src/clients/print.js';
import { targetPort } from '../../src/clients/receivetest/target.js';
import { isTcpScheme, tlsClientSettings } from '../../src/clients/tcp-client.js';
import { DEFAULT_PORTS, resolveDestination } from '../../src/clients/transport.js';

function opts(uri: string, extra: Record<string, unknown> = {}) {
  return toClientOptions({ _: [uri], ...extra });
}

describe('client options over TCP', () => {
  it('accepts coap+tcp and coaps+tcp, refuses other schemes', () => {
    expect(isTcpScheme(opts('coap+tcp://127.0.0.1/test').uri)).toBe(true);
    expect(isTcpScheme(opts('coaps+tcp://127.0.0.1/test').uri)).toBe(true);
    expect(isTcpScheme(opts('coap://127.0.0.1/test').uri)).toBe(false);
    expect(() => opts('http://127.0.0.1/test')).toThrow(/scheme 'http' is not supported/);
  });

  it('default ports 5683 and 5684 (RFC 8323 §8.1, §8.2); the receive test uses 5783/5784 on the default host', async () => {
    expect(DEFAULT_PORTS['coap+tcp:']).toBe(5683);
    expect(DEFAULT_PORTS['coaps+tcp:']).toBe(5684);
    expect((await resolveDestination(new URL('coap+tcp://127.0.0.1/x'))).port).toBe(5683);
    expect((await resolveDestination(new URL('coaps+tcp://127.0.0.1/x'))).port).toBe(5684);
    expect(targetPort(new URL('coap+tcp://californium.eclipseprojects.io'))).toBe(5783);
    expect(targetPort(new URL('coaps+tcp://californium.eclipseprojects.io'))).toBe(5784);
    expect(targetPort(new URL('coap+tcp://127.0.0.1'))).toBe(5683);
  });

  it('TLS settings: demo trust store and client certificate by default, --anonymous, --trust-all, SNI for names', () => {
    const d = tlsClientSettings(opts('coaps+tcp://127.0.0.1/x'));
    expect(d.ca).toHaveLength(1);
    expect(d.ca[0]).toContain('BEGIN CERTIFICATE');
    expect(d.cert).toContain('BEGIN CERTIFICATE');
    expect(d.key).toContain('PRIVATE KEY');
    expect(d.trustAll).toBe(false);
    expect(d.verifySubject).toBe(false);
    expect(d.servername).toBeUndefined();
    const anon = tlsClientSettings(opts('coaps+tcp://localhost/x', { anonymous: true, 'trust-all': true }));
    expect(anon.cert).toBeUndefined();
    expect(anon.key).toBeUndefined();
    expect(anon.ca).toEqual([]);
    expect(anon.trustAll).toBe(true);
    expect(anon.servername).toBe('localhost');
    expect(() => tlsClientSettings(opts('coaps+tcp://127.0.0.1/x', { cert: 'x.pem' }))).toThrow(/--cert needs --private-key/);
    expect(() => tlsClientSettings(opts('coaps+tcp://127.0.0.1/x', { trusts: '/nonexistent.pem' }))).toThrow(/--trusts: /);
  });

  it('session lines of a coaps+tcp response; none for coap+tcp', () => {
    const tls = { cipherSuite: 'TLS_AES_128_GCM_SHA256', protocol: 'TLSv1.3', sessionId: Buffer.from('0102030405060708', 'hex'), resumed: false, peerIdentity: 'CN=cf-server,C=CA' };
    expect(sessionLines({ address: '127.0.0.1', port: 5684, tls })).toEqual([
      '>>> TLS(127.0.0.1:5684,ID:0102030405)',
      '>>> TLSv1.3 TLS_AES_128_GCM_SHA256',
      '>>> x509 [CN=cf-server,C=CA]',
    ]);
    expect(sessionLines({ address: '127.0.0.1', port: 5683 })).toBeUndefined();
  });
});
