// Graceful-restart section of `npm run bench` (restart.md): saveConnectors / loadConnectors (src/restart/persist.ts)
// of a DtlsConnector holding 4,000 and 100,000 synthetic established PSK AES-128-CCM_8 connections with 6-byte CIDs,
// with the AES-128-CBC envelope (a password) and plain; median of several runs, ms and bytes per connection.
// In-process, no sockets: the connectors are constructed but never started (their labels use the configured port).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { cipherSuiteByName } from '../src/dtls/cipher-suites.js';
import type { ConnectionJson } from '../src/dtls/connection.js';
import { DtlsConnector } from '../src/dtls/connector.js';
import { loadConnectors, saveConnectors } from '../src/restart/persist.js';
import { formatTable, type BenchContext, type Section, type SectionResult, type TargetCheck } from './sections.js';

/** Targets (issue text): 4,000 connections saved / loaded within this many ms, at most this many bytes each. */
export const TARGET_SAVE_MS = 20;
export const TARGET_LOAD_MS = 20;
export const TARGET_BYTES_PER_CONNECTION = 200;
/** Reference figures of the first implementation, for comparison. */
const REFERENCE = { saveMs: 44, loadMs: 54, bytesPerConnection: 284 };
/** Connection counts and runs per count (median taken). */
const SIZES: ReadonlyArray<{ n: number; runs: number }> = [
  { n: 4_000, runs: 15 },
  { n: 100_000, runs: 3 },
];
/** The password of the encrypted runs (AES-128-CBC envelope, cipher id 0x0201). */
const PASSWORD = Buffer.from('bench-password');
/** Max age of the save (12 h, the restore default): nothing is filtered out. */
const MAX_AGE_MS = 12 * 3_600_000;
const PORT = 5684;

/** A logger that keeps the warnings (the run fails if a load logs one). */
function quietLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const nop = (): void => {};
  const logger = { info: nop, debug: nop, trace: nop, warn: (m: unknown) => warnings.push(String(m)), error: (m: unknown) => warnings.push(String(m)) };
  return { logger: logger as unknown as Logger, warnings };
}

/**
 * `n` established server connections as a benchmark client population produces them: PSK AES-128-CCM_8, 6-byte
 * CIDs both ways, a distinct peer address and a distinct `cali.<16 hex>` identity each, random secrets and keys,
 * some traffic in the replay window, idle 0..10 min, handshake 0..1 h ago.
 */
export function syntheticConnections(n: number, now = Date.now()): ConnectionJson[] {
  const suite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
  const out: ConnectionJson[] = [];
  for (let i = 0; i < n; i++) {
    const rnd = randomBytes(32 + 48 + 2 * 20 + 6 + 8 + 8);
    let p = 0;
    const take = (len: number): Buffer => rnd.subarray(p, (p += len));
    const sessionId = take(32);
    const master = take(48);
    const read = take(20);
    const write = take(20);
    const writeCid = take(6);
    const identity = `cali.${take(8).toString('hex').toUpperCase()}`;
    const r = take(8);
    const readCid = Buffer.alloc(6);
    readCid.writeUIntBE(i + 1, 0, 6);
    const handshakeTime = now - (r.readUInt32BE(0) % 3_600_000);
    const maxSeq = r.readUInt16BE(4) % 5000;
    out.push({
      version: 1,
      role: 'server',
      address: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
      port: 20_000 + (i % 40_000),
      readCid: readCid.toString('hex'),
      writeCid: writeCid.toString('hex'),
      session: {
        id: sessionId.toString('hex'),
        cipherSuite: suite.code,
        masterSecret: master.toString('hex'),
        peerIdentity: identity,
        extendedMasterSecret: true,
        secureRenegotiation: true,
        creationTime: handshakeTime,
        recordSizeLimit: null,
        maxFragmentLength: null,
        sendCertificateType: null,
        receiveCertificateType: null,
        namedGroup: null,
      },
      epoch: {
        keys: {
          cipherSuite: suite.code,
          epoch: 1,
          read: { key: read.subarray(0, 16).toString('hex'), iv: read.subarray(16).toString('hex'), macKey: '' },
          write: { key: write.subarray(0, 16).toString('hex'), iv: write.subarray(16).toString('hex'), macKey: '' },
        },
        // in-order traffic with an occasional lost record
        window: { maxSeq, lo: (ones(maxSeq + 1) - (r[6]! & 0x10 && maxSeq > 15 ? 1 << (r[6]! & 0x0f) : 0)) >>> 0, hi: ones(maxSeq + 1 - 32) },
        nextSeq: maxSeq + 1 + (r[7]! % 3),
      },
      seq0: 2,
      lastActivity: now - (r.readUInt16BE(2) % 600) * 1000 - (r[7]! % 1000),
      handshakeTime,
      messageSizeLimit: 1331,
      prevAddress: null,
      prevPort: null,
      router: null,
      macErrors: 0,
      macErrorStart: 0,
      doublePrincipal: false,
      resumptionRequired: false,
    });
  }
  return out;
}

/** A uint32 with the lowest `bits` bits set (0..32 of them). */
function ones(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : 2 ** bits - 1;
}

function connector(maxConnections: number): DtlsConnector {
  return new DtlsConnector({ address: '127.0.0.1', port: PORT, role: 'server', config: { cidLength: 6, maxConnections } });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** Figures of one (count, envelope) combination. */
interface Figure {
  connections: number;
  envelope: 'aes-128-cbc' | 'plain';
  runs: number;
  saveMs: number;
  loadMs: number;
  saveMsMin: number;
  loadMsMin: number;
  saveMsRuns: number[];
  loadMsRuns: number[];
  bytes: number;
  bytesPerConnection: number;
}

/**
 * Fills a source connector once, then `runs` times: save it, load the bytes into a fresh connector, and
 * continue with that one (consecutive restarts: no untimed garbage between the timed steps); medians.
 */
function measure(ctx: BenchContext, items: readonly ConnectionJson[], runs: number, password: Buffer | undefined): Figure {
  const n = items.length;
  const saveMsRuns: number[] = [];
  const loadMsRuns: number[] = [];
  let bytes = 0;
  let source = connector(n + 10);
  if (source.loadConnections(items) !== n) throw new Error('synthetic connections not restored');
  for (let run = 0; run < runs; run++) {
    const { logger, warnings } = quietLogger();
    const t0 = performance.now();
    const saved = saveConnectors([source], password, MAX_AGE_MS, logger);
    const t1 = performance.now();
    if (saved.connections !== n || source.store.size !== 0) throw new Error(`saved ${saved.connections} of ${n} connections`);
    bytes = saved.data.length;
    const target = connector(n + 10);
    const t2 = performance.now();
    const outcome = loadConnectors([target], saved.data, password, logger);
    const t3 = performance.now();
    if (!outcome.ok || outcome.items !== n || target.store.size !== n) {
      throw new Error(`loaded ${outcome.items} of ${n} (ok ${outcome.ok}, store ${target.store.size}): ${warnings.join('; ')}`);
    }
    if (warnings.length > 0) throw new Error(`unexpected warnings: ${warnings.join('; ')}`);
    saveMsRuns.push(round2(t1 - t0));
    loadMsRuns.push(round2(t3 - t2));
    source = target;
  }
  source.store.clear();
  const f: Figure = {
    connections: n,
    envelope: password === undefined ? 'plain' : 'aes-128-cbc',
    runs,
    saveMs: round2(median(saveMsRuns)),
    loadMs: round2(median(loadMsRuns)),
    saveMsMin: Math.min(...saveMsRuns),
    loadMsMin: Math.min(...loadMsRuns),
    saveMsRuns,
    loadMsRuns,
    bytes,
    bytesPerConnection: round2(bytes / n),
  };
  ctx.log(
    `  ${n} connections, ${f.envelope}: save ${f.saveMs} ms, load ${f.loadMs} ms (medians of ${runs}; fastest ${f.saveMsMin} / ${f.loadMsMin} ms), ${bytes} bytes = ${f.bytesPerConnection} bytes/connection`,
  );
  return f;
}

async function runRestart(ctx: BenchContext): Promise<SectionResult> {
  const figures: Figure[] = [];
  for (const { n, runs } of SIZES) {
    const items = syntheticConnections(n);
    // warm-up (JIT) with a small population, not counted
    measure({ ...ctx, log: () => {} }, items.slice(0, 500), 5, PASSWORD);
    for (const password of [PASSWORD, undefined]) figures.push(measure(ctx, items, runs, password));
  }
  const get = (n: number, envelope: Figure['envelope']): Figure | undefined => figures.find((f) => f.connections === n && f.envelope === envelope);
  const enc4k = get(4_000, 'aes-128-cbc');
  const report = [
    `machine load average at section end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs); medians of the runs`,
    'saveConnectors / loadConnectors of one DtlsConnector (not bound) with synthetic established PSK AES-128-CCM_8 server connections',
    '(6-byte CIDs both ways, distinct peer addresses and cali.<16 hex> identities); save includes emptying the store, load includes',
    "the envelope, parsing, the load rules and inserting into the connection store (the record protection is built on a connection's first record);",
    'each run saves the connector the previous run loaded (consecutive restarts)',
    '',
    ...formatTable(
      ['connections', 'envelope', 'save ms', 'load ms', 'min save', 'min load', 'µs/conn save', 'µs/conn load', 'bytes', 'bytes/conn'],
      figures.map((f) => [
        f.connections,
        f.envelope,
        f.saveMs,
        f.loadMs,
        f.saveMsMin,
        f.loadMsMin,
        round2((f.saveMs * 1000) / f.connections),
        round2((f.loadMs * 1000) / f.connections),
        f.bytes,
        f.bytesPerConnection,
      ]),
    ),
    '',
    `reference (first implementation, 4,000 connections): save ${REFERENCE.saveMs} ms, load ${REFERENCE.loadMs} ms, ~${REFERENCE.bytesPerConnection} bytes/connection`,
  ];
  const checks: TargetCheck[] = [
    { name: 'restart: save 4,000 connections (AES-128-CBC)', value: enc4k?.saveMs, atMost: TARGET_SAVE_MS, unit: 'ms' },
    { name: 'restart: load 4,000 connections (AES-128-CBC)', value: enc4k?.loadMs, atMost: TARGET_LOAD_MS, unit: 'ms' },
    { name: 'restart: saved bytes per connection (AES-128-CBC, 4,000)', value: enc4k?.bytesPerConnection, atMost: TARGET_BYTES_PER_CONNECTION, unit: 'bytes' },
  ];
  return {
    report,
    checks,
    data: {
      targets: { saveMs: TARGET_SAVE_MS, loadMs: TARGET_LOAD_MS, bytesPerConnection: TARGET_BYTES_PER_CONNECTION },
      reference: REFERENCE,
      figures,
    },
  };
}

/** Save/load of the DTLS connection state (graceful restart). */
export const restartSection: Section = { id: 'restart', title: 'Graceful restart: save/load of DTLS connections', run: runRestart };
