// Third-party and load peers through a DTLS CID cluster behind the NAT: libcoap's coap-client-openssl
// (PSK, no CID: the NAT keeps it on one node), and the benchmark client with the NAT clearing its
// entries every 2 s (CID records reach their node through forwarding; no request is lost).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, startTestNat, type TestCluster } from '../helpers/cluster.js';
import { expectComplete, runClient } from '../helpers/benchmark-run.js';
import { runCoapClient } from '../helpers/libcoap.js';
import { requirePeer } from '../helpers/peers.js';
import type { Nat } from '../../src/nat/nat.js';

const openssl = requirePeer('coap-client-openssl');

let cluster: TestCluster;
let nat: Nat & { port: number };

beforeAll(async () => {
  cluster = await startCluster({ mode: 'secure' });
  nat = await startTestNat(cluster.destinations);
}, 30_000);

afterAll(async () => {
  await nat?.stop();
  await cluster?.stop();
});

describe('peers through the cluster', () => {
  it.skipIf(openssl.skipReason !== undefined)('coap-client-openssl (PSK, no CID) GETs /mycontext and PUTs through the NAT', async () => {
    const uri = `coaps://127.0.0.1:${nat.port}/mycontext`;
    const r = await runCoapClient(openssl.path!, ['-u', 'Client_identity', '-k', 'secretPSK', uri]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ip: 127\.0\.0\.1$/m);
    expect(r.stdout).toMatch(/^node-id: [123]$/m);
    expect(r.stdout).toMatch(/^peer: Client_identity$/m);
    // no CID: the record was not forwarded
    expect(r.stdout).not.toMatch(/^via:/m);
    const echo = await runCoapClient(openssl.path!, ['-u', 'Client_identity', '-k', 'secretPSK', '-m', 'post', '-e', 'hello cluster', `coaps://127.0.0.1:${nat.port}/echo`]);
    expect(echo.code, echo.stderr).toBe(0);
    expect(echo.stdout).toContain('hello cluster');
  });

  it('the benchmark client (CID) through the NAT with `clear` every 2 s loses no request', async () => {
    const clears: string[] = [];
    const timer = setInterval(() => clears.push(nat.command('clear')), 2000);
    let run;
    try {
      run = await runClient([`coaps://127.0.0.1:${nat.port}/benchmark?rlen=40`, '--clients', '20', '--requests', '40', '--cid-length', '6', '--interval', '15'], 60_000);
    } finally {
      clearInterval(timer);
    }
    // the run spanned several clears, each dropping live entries
    expect(clears.length).toBeGreaterThanOrEqual(2);
    expect(clears.some((c) => /^[1-9]\d* - NAT entries dropped\.$/m.test(c))).toBe(true);
    const r = expectComplete(run, 20, 800);
    expect(r.errors).toBe(0);
    expect(r.connects).toBe(20);
    expect(r.connects + r.success).toBe(800);
  }, 90_000);
});
