import { describe, expect, it } from 'vitest';
import { DEFAULT_STACK_CONFIG } from '../../src/coap/stack-config.js';
import { ConfigError, parseProperties, portsFor, stackConfigFor } from '../../src/config/index.js';

describe('stackConfigFor', () => {
  const defaults = parseProperties('');

  it('gives the extended server its config.md values', () => {
    expect(stackConfigFor(defaults, 'extended', false)).toEqual({
      ...DEFAULT_STACK_CONFIG,
      maxActivePeers: 1_000_000,
      maxPeerInactivityPeriod: 180_000,
      preferredBlockSize: 1024,
      maxMessageSize: 1024,
      deduplicator: 'PEERS_MARK_AND_SWEEP',
      peersMarkAndSweepMessages: 16,
    });
    expect(stackConfigFor(defaults, 'extended', false).tcpNumberOfBulkBlocks).toBe(4);
  });

  it('gives the plugtest server its config.md values', () => {
    expect(stackConfigFor(defaults, 'plugtest', false)).toEqual({
      ...DEFAULT_STACK_CONFIG,
      maxActivePeers: 10_000,
      preferredBlockSize: 64,
      maxMessageSize: 64,
      notificationCheckInterval: 30_000,
      notificationCheckIntervalCount: 4,
      // BERT off (config.md §2: COAP.TCP_NUMBER_OF_BULK_BLOCKS 1)
      tcpNumberOfBulkBlocks: 1,
    });
  });

  it('uses the EXTERNAL_UDP_* sizes for coap/UDP on external addresses', () => {
    const p = parseProperties('EXTERNAL_UDP_MAX_MESSAGE_SIZE=128\nEXTERNAL_UDP_PREFERRED_BLOCK_SIZE=32\n');
    for (const server of ['extended', 'plugtest'] as const) {
      const ext = stackConfigFor(p, server, true);
      const local = stackConfigFor(p, server, false);
      expect(ext.maxMessageSize).toBe(128);
      expect(ext.preferredBlockSize).toBe(32);
      expect({ ...ext, maxMessageSize: 0, preferredBlockSize: 0 }).toEqual({
        ...local,
        maxMessageSize: 0,
        preferredBlockSize: 0,
      });
    }
    expect(stackConfigFor(defaults, 'extended', true).maxMessageSize).toBe(64);
    expect(stackConfigFor(defaults, 'extended', true).preferredBlockSize).toBe(64);
  });

  it('follows file values, per server', () => {
    const p = parseProperties(
      [
        'COAP.ACK_TIMEOUT=3[s]',
        'COAP.MAX_RETRANSMIT=2',
        'COAP.DEDUPLICATOR=NO_DEDUPLICATOR',
        'PLUGTEST.COAP.DEDUPLICATOR=CROP_ROTATION',
        'COAP.BLOCKWISE_STRICT_BLOCK2_OPTION=true',
        'COAP.STRICT_EMPTY_MESSAGE_FORMAT=false',
        'COAP.USE_RANDOM_MID_START=false',
        'COAP.TOKEN_SIZE_LIMIT=4',
        'PLUGTEST.COAP.MAX_SERVER_OBSERVES=7',
      ].join('\n'),
    );
    const ext = stackConfigFor(p, 'extended', false);
    const plug = stackConfigFor(p, 'plugtest', false);
    for (const c of [ext, plug]) {
      expect(c.ackTimeout).toBe(3000);
      expect(c.maxRetransmit).toBe(2);
      expect(c.blockwiseStrictBlock2Option).toBe(true);
      expect(c.strictEmptyMessageFormat).toBe(false);
      expect(c.useRandomMidStart).toBe(false);
      expect(c.tokenSizeLimit).toBe(4);
    }
    expect(ext.deduplicator).toBe('NO_DEDUPLICATOR');
    expect(plug.deduplicator).toBe('CROP_ROTATION');
    expect(ext.maxServerObserves).toBe(50_000);
    expect(plug.maxServerObserves).toBe(7);
  });
});

describe('portsFor', () => {
  it('gives 5783/5784 to the extended and 5683/5684 to the plugtest server', () => {
    const p = parseProperties('');
    expect(portsFor(p, 'extended')).toEqual({ coap: 5783, coaps: 5784 });
    expect(portsFor(p, 'plugtest')).toEqual({ coap: 5683, coaps: 5684 });
  });

  it('follows the file', () => {
    const p = parseProperties('COAP.COAP_PORT=15783\nPLUGTEST.COAP.COAP_SECURE_PORT=15684\n');
    expect(portsFor(p, 'extended')).toEqual({ coap: 15783, coaps: 5784 });
    expect(portsFor(p, 'plugtest')).toEqual({ coap: 5683, coaps: 15684 });
  });

  it('rejects bad port values naming key and value', () => {
    expect(() => parseProperties('PLUGTEST.COAP.COAP_PORT=0\n')).toThrow(ConfigError);
    expect(() => parseProperties('PLUGTEST.COAP.COAP_PORT=0\n')).toThrow('Californium3.properties:1: PLUGTEST.COAP.COAP_PORT=0: expected an integer, 1 to 65535');
  });
});
