import { describe, expect, it } from 'vitest';
import { cipherSuiteByName } from '../../src/dtls/cipher-suites.js';
import { createEpochState, epochStateFromJson, epochStateToJson, takeSequenceNumber } from '../../src/dtls/epoch-state.js';
import { deriveKeyBlock, epochKeysForRole } from '../../src/dtls/keys.js';
import { parseRecord } from '../../src/dtls/record.js';
import { createRecordProtection } from '../../src/dtls/record-protection.js';
import { accept, isDuplicate } from '../../src/dtls/replay-window.js';

describe('epoch state (graceful restart)', () => {
  const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
  const kb = deriveKeyBlock(Buffer.alloc(48, 9), Buffer.alloc(32, 1), Buffer.alloc(32, 2), suite);

  it('hands out sequence numbers from 0 and stops at 2^48', () => {
    const state = createEpochState(epochKeysForRole(kb, suite, 'server'));
    expect([takeSequenceNumber(state), takeSequenceNumber(state)]).toEqual([0, 1]);
    state.nextSeq = 2 ** 48 - 1;
    expect(takeSequenceNumber(state)).toBe(2 ** 48 - 1);
    expect(takeSequenceNumber(state)).toBeUndefined();
  });

  it('survives a JSON round trip and keeps decrypting and rejecting replays', () => {
    const server = createEpochState(epochKeysForRole(kb, suite, 'server'));
    const client = createRecordProtection(epochKeysForRole(kb, suite, 'client'));
    const cid = Buffer.from('aabbccddeeff', 'hex');
    const first = parseRecord(client.encryptRecord(23, 1, 5, Buffer.from('a'), cid), 0, 6)!;
    accept(server.window, first.seq);
    takeSequenceNumber(server);

    const restored = epochStateFromJson(JSON.parse(JSON.stringify(epochStateToJson(server))))!;
    expect(restored).toEqual(server);
    const protection = createRecordProtection(restored.keys);
    expect(isDuplicate(restored.window, first.seq)).toBe(true);
    const second = parseRecord(client.encryptRecord(23, 1, 6, Buffer.from('b'), cid), 0, 6)!;
    expect(isDuplicate(restored.window, second.seq)).toBe(false);
    expect(protection.decrypt(second)).toEqual({ type: 23, plaintext: Buffer.from('b') });
    expect(takeSequenceNumber(restored)).toBe(1);
    expect(epochStateFromJson({ ...epochStateToJson(server), nextSeq: -1 })).toBeUndefined();
  });
});
