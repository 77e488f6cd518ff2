// Receive test client: destination port rule and the /requests query (clients.md §6).
import { describe, expect, it } from 'vitest';
import { toClientOptions } from '../../src/clients/common-options.js';
import { DEFAULT_HOST, receivetestTarget, targetPort } from '../../src/clients/receivetest/target.js';

const DEV = '0f8fad5b-d9cb-469f-a165-70867728950e';
const NOW = 1_700_000_123_456;

describe('targetPort', () => {
  it('default host without port: 5783 (coap) / 5784 (coaps)', () => {
    expect(targetPort(new URL(`coap://${DEFAULT_HOST}`))).toBe(5783);
    expect(targetPort(new URL(`coaps://${DEFAULT_HOST}`))).toBe(5784);
    expect(targetPort(new URL(`coap://${DEFAULT_HOST}/requests?x`))).toBe(5783);
  });
  it('an explicit port is kept, also on the default host', () => {
    expect(targetPort(new URL(`coap://${DEFAULT_HOST}:5683`))).toBe(5683);
    expect(targetPort(new URL(`coaps://${DEFAULT_HOST}:6000`))).toBe(6000);
    expect(targetPort(new URL('coap://127.0.0.1:40000'))).toBe(40000);
  });
  it('other hosts without port: the scheme default 5683 / 5684', () => {
    expect(targetPort(new URL('coap://127.0.0.1'))).toBe(5683);
    expect(targetPort(new URL('coaps://localhost'))).toBe(5684);
    expect(targetPort(new URL('coap://[::1]'))).toBe(5683);
  });
});

describe('receivetestTarget', () => {
  it('POST /requests?dev=<uuid>&rid=RID<ms>&ep without extra query', () => {
    const t = receivetestTarget(new URL('coap://127.0.0.1:5783'), DEV, NOW);
    expect(t.rid).toBe('RID1700000123456');
    expect(t.query).toEqual([`dev=${DEV}`, 'rid=RID1700000123456', 'ep']);
    expect(t.extra).toBeUndefined();
    expect(t.base.href).toBe('coap://127.0.0.1:5783');
    expect(t.text).toBe(`coap://127.0.0.1:5783/requests?dev=${DEV}&rid=RID1700000123456&ep`);
  });

  it('the default host gets the receive test port', () => {
    const t = receivetestTarget(new URL(`coaps://${DEFAULT_HOST}`), DEV, NOW);
    expect(t.base.href).toBe(`coaps://${DEFAULT_HOST}:5784`);
    expect(t.text.startsWith(`coaps://${DEFAULT_HOST}:5784/requests?dev=`)).toBe(true);
  });

  it('the query of the URI is appended as extra options (decoded), the path is dropped', () => {
    const t = receivetestTarget(new URL('coap://[::1]:7000/some/path?rlen=200&x%3Dy&&z'), 'anonymous', NOW);
    expect(t.extra).toBe('rlen=200&x=y&&z');
    expect(t.query).toEqual(['dev=anonymous', 'rid=RID1700000123456', 'ep', 'rlen=200', 'x=y', 'z']);
    expect(t.base.href).toBe('coap://[::1]:7000');
    expect(t.text).toBe('coap://[::1]:7000/requests?dev=anonymous&rid=RID1700000123456&ep&rlen=200&x=y&z');
  });

  it('an empty query is no extra query', () => {
    const t = receivetestTarget(new URL('coap://127.0.0.1:1/?'), DEV, NOW);
    expect(t.extra).toBeUndefined();
    expect(t.query).toHaveLength(3);
  });

  it('with the common options: default destination and scheme by authentication', () => {
    const plain = toClientOptions({ _: [] });
    expect(receivetestTarget(plain.uri, DEV, NOW).base.href).toBe(`coap://${DEFAULT_HOST}:5783`);
    const psk = toClientOptions({ _: [], auth: 'PSK' });
    expect(receivetestTarget(psk.uri, DEV, NOW).base.href).toBe(`coaps://${DEFAULT_HOST}:5784`);
    const given = toClientOptions({ _: ['127.0.0.1?rlen=100'] });
    const t = receivetestTarget(given.uri, DEV, NOW);
    expect(t.base.href).toBe('coap://127.0.0.1:5683');
    expect(t.extra).toBe('rlen=100');
  });
});
