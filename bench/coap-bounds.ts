// Micro-benchmark of the bounded CoAP state (issue 10, "eviction and bounds made explicit"): decoding
// malformed datagrams with a result object vs. a thrown Error, deduplicator checks at their bounds per
// mode, the memory one remembered message takes (to size COAP.DEDUPLICATOR_MAX_MESSAGES), and block-wise
// stores under byte-budget pressure. Prints the figures and writes them as JSON. Bounded in time and count.
// Run: npx tsc -p tsconfig.json && node --expose-gc dist/bench/coap-bounds.js [--out coap-bounds.json] [--ms 1000]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { decode, decodeMessage, encode, isFormatFailure } from '../src/coap/codec.js';
import { createDeduplicator } from '../src/coap/dedup.js';
import { TransferBudget, TransferStore, transferBytes, type Block2Transfer } from '../src/coap/blockwise.js';
import { BOUND_COUNTER_NAMES, PeriodCounters, type BoundCounterName } from '../src/coap/stats.js';
import { ACK, CON, Code, Opt } from '../src/coap/message.js';
import { DEFAULT_STACK_CONFIG, type DeduplicatorMode } from '../src/coap/stack-config.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'coap-bounds.json' }, ms: { type: 'string', default: '1000' } } });
const DURATION_MS = Math.min(10_000, Math.max(100, Number(values.ms)));

/** Runs `step` in batches for DURATION_MS (after a warm-up) and returns operations per second. */
function rate(step: (i: number) => void): number {
  for (let i = 0; i < 20_000; i++) step(i);
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0;
  while (elapsed < DURATION_MS && ops < 500_000_000) {
    for (let i = 0; i < 10_000; i++) step(ops + i);
    ops += 10_000;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return Math.round((ops * 1000) / elapsed);
}

const figures: Record<string, number | string> = { durationMs: DURATION_MS, node: process.version };
const print = (key: string, value: number, unit: string): void => {
  figures[key] = value;
  console.log(`${key}: ${value.toLocaleString('en-US')} ${unit}`);
};

// 1. decoding: malformed datagrams (token length 9, a truncated option) and a valid GET
const malformed = [Buffer.from([0x49, 0x01, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9]), Buffer.from([0x44, 0x01, 0x12, 0x34, 1, 2, 3, 4, 0xbd])];
const valid = encode({ type: CON, code: Code.GET, mid: 1, token: Buffer.alloc(8, 1), options: [{ number: Opt.URI_PATH, value: Buffer.from('benchmark') }, { number: Opt.URI_QUERY, value: Buffer.from('rlen=20') }], payload: Buffer.alloc(0) });
let sink = 0;
print('decode malformed, result object (ops/s)', rate((i) => {
  const r = decodeMessage(malformed[i & 1]!);
  if (isFormatFailure(r)) sink += r.mid;
}), 'ops/s');
print('decode malformed, thrown Error (ops/s)', rate((i) => {
  try {
    decode(malformed[i & 1]!);
  } catch {
    sink++;
  }
}), 'ops/s');
print('decode valid GET (ops/s)', rate(() => {
  const r = decodeMessage(valid);
  if (!isFormatFailure(r)) sink += r.mid;
}), 'ops/s');

// 2. deduplicator checks at their bounds, new MIDs: (a) 1,000 peers within MAX_ACTIVE_PEERS, the message
// bound (20,000) evicting; (b) 2,000 peers cycling through MAX_ACTIVE_PEERS=1,000 (a peer evicted per check)
const response = encode({ type: ACK, code: Code.CONTENT, mid: 1, token: Buffer.alloc(8, 1), options: [], payload: Buffer.alloc(20, 0x41) });
const peerNames = Array.from({ length: 2000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:5683`);
for (const [label, peers, maxActivePeers] of [['messages', 1000, 150_000], ['peers', 2000, 1000]] as const) {
  for (const mode of ['MARK_AND_SWEEP', 'PEERS_MARK_AND_SWEEP', 'CROP_ROTATION'] as DeduplicatorMode[]) {
    const counter = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
    const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: mode, dedupMaxMessages: 20_000, maxActivePeers, peersMarkAndSweepMessages: 16 }, counter);
    const now = Date.now();
    const r = rate((i) => {
      const h = d.check(peerNames[i % peers]!, Math.floor(i / peers) & 0xffff, now, true);
      if (h >= 0) d.setResponse(h, response);
    });
    const evicted = counter.rows().filter(([, cur]) => cur > 0).map(([k, cur]) => `${k} ${cur}`).join(', ');
    print(`dedup ${mode} check, ${label} bound evicting (ops/s)`, r, `ops/s (size ${d.size}, peers ${d.peers}; ${evicted})`);
  }
}

// 3. memory per remembered message (MARK_AND_SWEEP, 40-byte cached responses, 1,000 peers)
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  const N = 200_000;
  const used = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = used();
  const d = createDeduplicator({ ...DEFAULT_STACK_CONFIG, deduplicator: 'MARK_AND_SWEEP', dedupMaxMessages: N });
  const now = Date.now();
  for (let i = 0; i < N; i++) {
    const res = Buffer.allocUnsafe(40);
    const p = i % 1000;
    const h = d.check(`10.1.${p >> 8}.${p & 255}:5683`, Math.floor(i / 1000), now, true);
    if (h >= 0) d.setResponse(h, res);
  }
  const per = Math.round((used() - before) / N);
  print('dedup memory per remembered message (bytes, 40-byte response)', per, `bytes (${N.toLocaleString('en-US')} messages, ${d.peers} peers)`);
  print('dedup memory at the default bound (MiB)', Math.round((per * DEFAULT_STACK_CONFIG.dedupMaxMessages) / 1048576), `MiB for COAP.DEDUPLICATOR_MAX_MESSAGES=${DEFAULT_STACK_CONFIG.dedupMaxMessages}`);
  d.clear();
} else {
  console.log('(run with node --expose-gc for the memory figures)');
}

// 4. block-wise stores under byte-budget pressure: 1 KiB bodies, a 256 KiB budget
{
  const counter = new PeriodCounters<BoundCounterName>(BOUND_COUNTER_NAMES);
  const budget = new TransferBudget(256 * 1024, counter);
  const store = new TransferStore<Block2Transfer>(100_000, 300_000, budget, transferBytes, counter);
  const body = Buffer.alloc(1024);
  const now = Date.now();
  const r = rate((i) => store.set('peer' + (i % 5000), { code: Code.CONTENT, payload: body, options: [], time: now }));
  print('blockwise set under byte budget (ops/s)', r, `ops/s (kept ${store.size}, bytes ${budget.bytes}, evicted by bytes ${counter.get('blockwise-evicted by bytes')})`);
}

figures['sink'] = String(sink % 7);
fs.writeFileSync(values.out!, JSON.stringify(figures, null, 2) + '\n');
console.log(`figures written to ${values.out}`);
