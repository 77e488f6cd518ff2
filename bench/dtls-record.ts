// Micro-benchmark of the DTLS record layer: encrypt + parse + decrypt of 100-byte application records.
// Run: npx tsc -p tsconfig.json && node dist/bench/dtls-record.js  (prints ops/s, no assertions)
import { cipherSuiteByName } from '../src/dtls/cipher-suites.js';
import { deriveKeyBlock, epochKeysForRole } from '../src/dtls/keys.js';
import { ContentType, parseRecord } from '../src/dtls/record.js';
import { createRecordProtection } from '../src/dtls/record-protection.js';
import { accept, createReplayWindow, isDuplicate } from '../src/dtls/replay-window.js';

const PAYLOAD = Buffer.alloc(100, 0x42);
const DURATION_MS = Number(process.env['BENCH_MS'] ?? 1000);

/** Runs encrypt → parse → replay check → decrypt in a loop and returns round trips per second. */
function run(suiteName: string, cid: Buffer | undefined): number {
  const suite = cipherSuiteByName(suiteName)!;
  const kb = deriveKeyBlock(Buffer.alloc(48, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 3), suite);
  const sender = createRecordProtection(epochKeysForRole(kb, suite, 'client'));
  const receiver = createRecordProtection(epochKeysForRole(kb, suite, 'server'));
  const window = createReplayWindow();
  const cidLength = cid?.length ?? 0;
  let seq = 0;
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) {
      const bytes = sender.encryptRecord(ContentType.APPLICATION_DATA, 1, seq, PAYLOAD, cid);
      const record = parseRecord(bytes, 0, cidLength);
      if (record === undefined || isDuplicate(window, record.seq)) throw new Error('parse/replay failed');
      const result = receiver.decrypt(record);
      if (result === undefined || result.plaintext.length !== PAYLOAD.length) throw new Error('decrypt failed');
      accept(window, record.seq);
      seq++;
    }
  };
  loop(2000); // warm-up
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0;
  while (elapsed < DURATION_MS) {
    loop(1000);
    ops += 1000;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (ops * 1000) / elapsed;
}

for (const [suite, cid] of [
  ['TLS_PSK_WITH_AES_128_CCM_8', Buffer.from('010203040506', 'hex')],
  ['TLS_PSK_WITH_AES_128_CCM_8', undefined],
  ['TLS_PSK_WITH_AES_128_GCM_SHA256', Buffer.from('010203040506', 'hex')],
  ['TLS_PSK_WITH_AES_128_CBC_SHA256', Buffer.from('010203040506', 'hex')],
] as const) {
  const rate = run(suite, cid);
  console.log(`${suite} ${cid ? 'cid=6' : 'no-cid'} 100B: ${Math.round(rate)} encrypt+decrypt ops/s`);
}
