// A worker's coaps nodes (issue 13): CIDs carry the worker index, and the management table points each node at
// the other workers' nodes on the same public address (never at itself, never at another address' nodes).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DTLS_CONFIG } from '../../src/dtls/config.js';
import { DtlsConnector } from '../../src/dtls/connector.js';
import { applyMgmtTable, createWorkerNode, isMgmtTable, WORKER_MGMT_ADDRESS } from '../../src/workers/worker-endpoints.js';

const logger = pino({ level: 'silent' });

function node(address: string, index: number, cidLength = 6) {
  return createWorkerNode({
    address,
    port: 5784,
    index,
    config: { ...DEFAULT_DTLS_CONFIG, cidLength },
    connector: (a, p, config, transport) => new DtlsConnector({ address: a, port: p, role: 'server', config, transport, logger }),
    logger,
  });
}

describe('worker nodes', () => {
  it('the worker index is the node-id of its CIDs; without CIDs there is none', () => {
    expect(node('127.0.0.1', 3).config.nodeId).toBe(3);
    expect(node('127.0.0.1', 3, 0).config.nodeId).toBeUndefined();
    expect(() => node('127.0.0.1', 256)).toThrow('worker index 256 out of range 0..255');
  });

  it('the table routes each node-id to that worker on the same address', () => {
    const v4 = node('127.0.0.1', 1);
    const v6 = node('::1', 1);
    applyMgmtTable([v4, v6], 1, { 0: { '127.0.0.1': 40000, '::1': 40001 }, 1: { '127.0.0.1': 40002, '::1': 40003 }, 2: { '127.0.0.1': 40004 } });
    expect(v4.transport.resolver.nodeAddress(0)).toEqual({ address: WORKER_MGMT_ADDRESS, port: 40000 });
    expect(v4.transport.resolver.nodeAddress(2)).toEqual({ address: WORKER_MGMT_ADDRESS, port: 40004 });
    expect(v4.transport.resolver.nodeAddress(1)).toBeUndefined();
    expect(v6.transport.resolver.nodeAddress(0)).toEqual({ address: WORKER_MGMT_ADDRESS, port: 40001 });
    expect(v6.transport.resolver.nodeAddress(2)).toBeUndefined();
    // forwarded records are taken only from the other workers' management sockets
    expect(v4.transport.resolver.isNode({ address: WORKER_MGMT_ADDRESS, port: 40000 })).toBe(true);
    expect(v4.transport.resolver.isNode({ address: WORKER_MGMT_ADDRESS, port: 40001 })).toBe(false);
  });

  it('only well-formed tables are taken', () => {
    expect(isMgmtTable({ 0: { '127.0.0.1': 40000 } })).toBe(true);
    for (const bad of [null, 'x', { a: { '127.0.0.1': 1 } }, { 0: { '127.0.0.1': 0 } }, { 0: { '127.0.0.1': 70000 } }, { 0: 5 }]) expect(isMgmtTable(bad)).toBe(false);
  });
});
