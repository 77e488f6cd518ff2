// A cheap many-session DTLS generator (issue 10): opens `count` established DTLS 1.2 PSK sessions
// (TLS_PSK_WITH_AES_128_CCM_8, RFC 6655) against a server and leaves them idle. Library + CLI.
// The server keys connections by peer address and replaces an older connection when a new handshake from the same
// address completes (src/dtls/connection-store.ts establish(): 'replaced', even when the older one has a CID), so
// every session needs its own source address:port: session slot i binds 127.0.0.(2 + floor(i / 40000)) port
// 20000 + (i % 40000), does one handshake (RFC 6347 §4.2 flights with the cookie exchange, RFC 7627 extended master
// secret, RFC 9146 connection_id offered), closes its socket and forgets the keys. At most `concurrency` sockets are
// open at a time; a slot whose port is taken (EADDRINUSE) is skipped.
// Run: npx tsc -p tsconfig.json && node dist/bench/idle-sessions.js --port 5784 --count 100000 [--concurrency 200]
//      [--cid 6] [--identity-prefix cali.idle.] [--secret .fornium] [--timeout 10] [--json]
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { cipherSuiteByName, type CipherSuite } from '../src/dtls/cipher-suites.js';
import { deriveKeyBlock, epochKeysForRole, extendedMasterSecret, handshakeHash, masterSecret, pskPreMasterSecret, verifyData } from '../src/dtls/keys.js';
import { ContentType, DTLS_1_2, encodeRecord, parseDatagram, type DtlsRecord } from '../src/dtls/record.js';
import { createRecordProtection, type RecordProtection } from '../src/dtls/record-protection.js';
import { encodeClientHello } from '../src/dtls/handshake/client-hello.js';
import { encodeClientKeyExchange } from '../src/dtls/handshake/client-key-exchange.js';
import { HandshakeType, TLS_EMPTY_RENEGOTIATION_INFO_SCSV } from '../src/dtls/handshake/constants.js';
import { decodeHandshakeFragments, encodeFullHandshakeMessage, isWholeMessage } from '../src/dtls/handshake/header.js';
import { decodeHelloVerifyRequest } from '../src/dtls/handshake/hello-verify-request.js';
import { decodeServerHello } from '../src/dtls/handshake/server-hello.js';
import type { HelloExtensions } from '../src/dtls/handshake/extensions.js';
import { cliNumber } from './cli-number.js';

/** The cipher suite every session uses. */
const SUITE: CipherSuite = cipherSuiteByName('TLS_PSK_WITH_AES_128_CCM_8')!;
/** Source ports per loopback address: slot i uses port FIRST_PORT + i % PORTS_PER_ADDRESS. */
export const PORTS_PER_ADDRESS = 40_000;
/** First source port of every address. */
export const FIRST_PORT = 20_000;
/** Last octet of the first source address (127.0.0.2). */
export const FIRST_ADDRESS_OCTET = 2;
/** Hard bounds: sessions per run, sockets in flight. */
const MAX_COUNT = 1_000_000;
const MAX_CONCURRENCY = 2_000;
/** First retransmission after this many ms, doubling (RFC 6347 §4.2.4.1 uses 1 s). */
const DEFAULT_RETRANSMIT_MS = 1_000;

/** Options of openIdleSessions. */
export interface IdleSessionsOptions {
  /** server address (loopback only) and DTLS port */
  host: string;
  port: number;
  /** established sessions wanted */
  count: number;
  /** length of the CID this client offers (RFC 9146 §3; the server then issues its own); null: no connection_id extension. Default 6. */
  cid?: number | null;
  /** PSK identity of session i: prefix + i (the server's cali. identities share the secret .fornium). Default 'cali.idle.' */
  pskIdentityPrefix?: string;
  /** PSK secret. Default '.fornium' */
  pskSecret?: Buffer;
  /** sockets (handshakes) in flight. Default 200 */
  concurrency?: number;
  /** a handshake not done after this many ms fails (its slot is given up). Default 10,000 */
  timeoutMs?: number;
  /** first retransmission timeout (doubles). Default 1,000 */
  retransmitMs?: number;
  /** stop after this many failed handshakes. Default count / 10 + 100 */
  maxFailures?: number;
  /** first session slot (a second run against the same server starts where the first ended). Default 0 */
  firstSlot?: number;
  /** called about once a second and at the end */
  onProgress?: (p: IdleProgress) => void;
}

/** Progress of a run. */
export interface IdleProgress {
  established: number;
  failed: number;
  inFlight: number;
  elapsedMs: number;
}

/** Result of openIdleSessions. */
export interface IdleSessionsResult {
  target: string;
  requested: number;
  established: number;
  /** handshakes that failed (timeout, alert, unexpected message), by reason */
  failed: number;
  failures: Record<string, number>;
  /** slots skipped because their source port was taken */
  bindErrors: number;
  /** flights sent again (loss on the loopback or a slow server) */
  retransmissions: number;
  /** slots used: [first, end) (pass `end` as firstSlot of a further run) */
  firstSlot: number;
  endSlot: number;
  elapsedMs: number;
  sessionsPerSecond: number;
  /** generator CPU time of the run (ms) */
  cpuMs: number;
}

/** The source address and port of a session slot. */
export function slotAddress(slot: number): { address: string; port: number } {
  const octet = FIRST_ADDRESS_OCTET + Math.floor(slot / PORTS_PER_ADDRESS);
  if (!Number.isInteger(slot) || slot < 0 || octet > 254) throw new RangeError(`session slot ${slot} out of range`);
  return { address: `127.0.0.${octet}`, port: FIRST_PORT + (slot % PORTS_PER_ADDRESS) };
}

/** Checks that a host is a loopback address. */
function assertLoopback(host: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host)) throw new Error(`refusing non-loopback (or IPv6) host ${host}`);
}

/** What one handshake needs. */
interface SessionParams {
  host: string;
  port: number;
  identity: Buffer;
  secret: Buffer;
  /** our CID (offered), undefined: no extension */
  cid: Buffer | undefined;
  timeoutMs: number;
  retransmitMs: number;
}

/** Outcome of one handshake: 'ok' or the failure reason; retransmissions it needed. */
interface SessionOutcome {
  result: 'ok' | string;
  retransmissions: number;
}

/** Binds a UDP socket to address:port; rejects with the bind error (EADDRINUSE for a taken port). */
function bindSocket(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * One full PSK handshake from a bound socket (client side of RFC 6347 §4.2.1 / RFC 5246 §7.3): ClientHello,
 * HelloVerifyRequest, ClientHello with cookie, ServerHello..ServerHelloDone, ClientKeyExchange + ChangeCipherSpec +
 * Finished, the server's ChangeCipherSpec + Finished (checked). Retransmits its last flight with new record sequence
 * numbers on silence; never throws on what the server sends.
 */
function handshake(socket: dgram.Socket, p: SessionParams): Promise<SessionOutcome> {
  return new Promise<SessionOutcome>((resolve) => {
    const random = randomBytes(32);
    const extensions: HelloExtensions = { extendedMasterSecret: true };
    if (p.cid !== undefined) extensions.connectionId = p.cid;
    const cidLength = p.cid?.length ?? 0;
    let recordSeq = 0;
    let messageSeq = 0;
    /** handshake messages of the transcript (RFC 6347 §4.2.6: from the ClientHello with cookie on) */
    let transcript: Buffer[] = [];
    /** server handshake messages of epoch 0 by message_seq (ServerHello..ServerHelloDone) */
    const serverMessages = new Map<number, { msgType: number; whole: Buffer; body: Buffer }>();
    let state: 'hello' | 'server-hello' | 'finished' | 'done' = 'hello';
    let flight: () => Buffer = () => Buffer.alloc(0);
    let retransmissions = 0;
    let timeout = p.retransmitMs;
    let timer: NodeJS.Timeout | undefined;
    let writeCid: Buffer | undefined;
    let protection: RecordProtection | undefined;
    let expectedServerVerify: Buffer | undefined;
    const deadline = Date.now() + p.timeoutMs;

    const done = (): boolean => state === 'done';
    const finish = (result: string): void => {
      if (state === 'done') return;
      state = 'done';
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve({ result, retransmissions });
    };
    const send = (): void => {
      socket.send(flight(), p.port, p.host);
    };
    const arm = (): void => {
      clearTimeout(timer);
      const left = deadline - Date.now();
      if (left <= 0) return finish('timeout');
      timer = setTimeout(() => {
        if (Date.now() >= deadline) return finish('timeout');
        retransmissions++;
        timeout *= 2;
        send();
        arm();
      }, Math.min(timeout, left));
    };
    const startFlight = (next: () => Buffer): void => {
      flight = next;
      timeout = p.retransmitMs;
      send();
      arm();
    };
    const plainRecord = (type: number, fragment: Buffer): Buffer => encodeRecord(type, DTLS_1_2, 0, recordSeq++, fragment);
    const clientHello = (cookie: Buffer): Buffer =>
      encodeFullHandshakeMessage({
        msgType: HandshakeType.CLIENT_HELLO,
        messageSeq: messageSeq++,
        body: encodeClientHello({
          clientVersion: DTLS_1_2,
          random,
          sessionId: Buffer.alloc(0),
          cookie,
          cipherSuites: [SUITE.code, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
          compressionMethods: [0],
          extensions,
        }),
      });

    /** Flight 5: ClientKeyExchange, ChangeCipherSpec, Finished (epoch 1) once ServerHelloDone is in. */
    const clientFinishedFlight = (): string | undefined => {
      const seqs = [...serverMessages.keys()].sort((a, b) => a - b);
      const first = serverMessages.get(seqs[0]!)!;
      const last = serverMessages.get(seqs[seqs.length - 1]!)!;
      if (first.msgType !== HandshakeType.SERVER_HELLO || last.msgType !== HandshakeType.SERVER_HELLO_DONE) return undefined;
      if (seqs[seqs.length - 1]! - seqs[0]! !== seqs.length - 1) return undefined; // a message still missing
      const hello = decodeServerHello(first.body);
      if (!hello.ok) return `bad ServerHello: ${hello.reason}`;
      if (hello.value.cipherSuite !== SUITE.code) return `server chose suite 0x${hello.value.cipherSuite.toString(16)}`;
      const ems = hello.value.extensions?.extendedMasterSecret === true;
      const serverCid = hello.value.extensions?.connectionId;
      writeCid = serverCid !== undefined && serverCid.length > 0 ? serverCid : undefined;
      for (const s of seqs) transcript.push(serverMessages.get(s)!.whole);
      const cke = encodeFullHandshakeMessage({
        msgType: HandshakeType.CLIENT_KEY_EXCHANGE,
        messageSeq: messageSeq++,
        body: encodeClientKeyExchange({ form: 'psk', identity: p.identity }),
      });
      transcript.push(cke);
      const pms = pskPreMasterSecret(p.secret);
      const master = ems ? extendedMasterSecret(pms, handshakeHash(transcript)) : masterSecret(pms, random, hello.value.random);
      const keyBlock = deriveKeyBlock(master, random, hello.value.random, SUITE);
      protection = createRecordProtection(epochKeysForRole(keyBlock, SUITE, 'client'));
      const fin = encodeFullHandshakeMessage({
        msgType: HandshakeType.FINISHED,
        messageSeq: messageSeq++,
        body: verifyData(master, 'client', handshakeHash(transcript)),
      });
      transcript.push(fin);
      expectedServerVerify = verifyData(master, 'server', handshakeHash(transcript));
      transcript = [];
      let finishedSeq = 0;
      const prot = protection;
      state = 'finished';
      startFlight(() =>
        Buffer.concat([
          plainRecord(ContentType.HANDSHAKE, cke),
          plainRecord(ContentType.CHANGE_CIPHER_SPEC, Buffer.from([1])),
          prot.encryptRecord(ContentType.HANDSHAKE, 1, finishedSeq++, fin, writeCid),
        ]),
      );
      return undefined;
    };

    /** A plaintext (epoch 0) handshake record from the server. */
    const onPlainHandshake = (fragment: Buffer): string | undefined => {
      const frags = decodeHandshakeFragments(fragment);
      if (!frags.ok) return `bad handshake record: ${frags.reason}`;
      for (const f of frags.value) {
        if (!isWholeMessage(f.header)) return 'fragmented server handshake message (not supported here)';
        const whole = encodeFullHandshakeMessage({ msgType: f.header.msgType, messageSeq: f.header.messageSeq, body: f.fragment });
        if (f.header.msgType === HandshakeType.HELLO_VERIFY_REQUEST) {
          if (state !== 'hello') continue; // a late duplicate
          const hvr = decodeHelloVerifyRequest(f.fragment);
          if (!hvr.ok) return `bad HelloVerifyRequest: ${hvr.reason}`;
          const ch = clientHello(hvr.value.cookie);
          transcript = [ch];
          state = 'server-hello';
          startFlight(() => plainRecord(ContentType.HANDSHAKE, ch));
          continue;
        }
        if (state === 'hello' && f.header.msgType === HandshakeType.SERVER_HELLO) state = 'server-hello'; // no cookie exchange
        if (state !== 'server-hello') continue; // retransmitted flight 4 while we wait for the Finished
        if (!serverMessages.has(f.header.messageSeq)) serverMessages.set(f.header.messageSeq, { msgType: f.header.msgType, whole, body: Buffer.from(f.fragment) });
        if (f.header.msgType === HandshakeType.SERVER_HELLO_DONE || serverMessages.size > 1) {
          const failure = clientFinishedFlight();
          if (failure !== undefined) return failure;
        }
      }
      return undefined;
    };

    /** A protected (epoch 1) record from the server: its Finished ends the handshake. */
    const onProtected = (record: DtlsRecord): string | undefined => {
      if (protection === undefined) return undefined;
      const plain = protection.decrypt(record);
      if (plain === undefined) return undefined; // not for these keys: ignored like the record layer does
      if (plain.type === ContentType.ALERT) return `alert ${plain.plaintext[1] ?? '?'}`;
      if (plain.type !== ContentType.HANDSHAKE) return undefined;
      const frags = decodeHandshakeFragments(plain.plaintext);
      if (!frags.ok) return `bad protected handshake record: ${frags.reason}`;
      for (const f of frags.value) {
        if (f.header.msgType !== HandshakeType.FINISHED) continue;
        if (!expectedServerVerify!.equals(f.fragment)) return 'server Finished does not verify';
        finish('ok');
      }
      return undefined;
    };

    function onMessage(datagram: Buffer): void {
      if (state === 'done') return;
      for (const record of parseDatagram(datagram, cidLength)) {
        let failure: string | undefined;
        if (record.epoch === 0) {
          if (record.type === ContentType.ALERT) failure = `alert ${record.fragment[1] ?? '?'}`;
          else if (record.type === ContentType.HANDSHAKE) failure = onPlainHandshake(record.fragment);
        } else {
          failure = onProtected(record);
        }
        if (failure !== undefined) return finish(failure);
        if (done()) return;
      }
    }

    socket.on('message', onMessage);
    socket.on('error', () => {}); // ICMP errors surface as timeouts
    const ch1 = clientHello(Buffer.alloc(0));
    transcript = [ch1];
    startFlight(() => plainRecord(ContentType.HANDSHAKE, ch1));
  });
}

/**
 * Opens `count` established sessions against host:port, each from its own source address:port, at most
 * `concurrency` at a time; resolves when `count` are established or too many failed (maxFailures).
 */
export async function openIdleSessions(o: IdleSessionsOptions): Promise<IdleSessionsResult> {
  assertLoopback(o.host);
  if (!(Number.isInteger(o.count) && o.count >= 1 && o.count <= MAX_COUNT)) throw new Error(`count must be 1..${MAX_COUNT}`);
  const concurrency = o.concurrency ?? 200;
  if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= MAX_CONCURRENCY)) throw new Error(`concurrency must be 1..${MAX_CONCURRENCY}`);
  const cid = o.cid === undefined ? 6 : o.cid;
  if (cid !== null && !(Number.isInteger(cid) && cid >= 0 && cid <= 255)) throw new Error('cid must be 0..255');
  const prefix = o.pskIdentityPrefix ?? 'cali.idle.';
  const secret = o.pskSecret ?? Buffer.from('.fornium');
  const timeoutMs = o.timeoutMs ?? 10_000;
  const retransmitMs = o.retransmitMs ?? DEFAULT_RETRANSMIT_MS;
  const maxFailures = o.maxFailures ?? Math.floor(o.count / 10) + 100;
  const firstSlot = o.firstSlot ?? 0;
  const slotLimit = (254 - FIRST_ADDRESS_OCTET + 1) * PORTS_PER_ADDRESS;
  let nextSlot = firstSlot;
  let established = 0;
  let failed = 0;
  let bindErrors = 0;
  let retransmissions = 0;
  let inFlight = 0;
  const failures: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const progress = (): IdleProgress => ({ established, failed, inFlight, elapsedMs: Date.now() - t0 });
  const ticker = o.onProgress ? setInterval(() => o.onProgress!(progress()), 1000) : undefined;
  const fail = (reason: string): void => {
    failed++;
    const key = reason.slice(0, 80);
    failures[key] = (failures[key] ?? 0) + 1;
  };
  // a taken port is not a failure of the server, but an endless run of them is a failure of the setup
  const maxBindErrors = PORTS_PER_ADDRESS;
  const more = (): boolean => established + inFlight < o.count && failed < maxFailures && bindErrors < maxBindErrors && nextSlot < slotLimit;

  const worker = async (): Promise<void> => {
    while (more()) {
      const slot = nextSlot++;
      const { address, port } = slotAddress(slot);
      inFlight++;
      let socket: dgram.Socket;
      try {
        socket = await bindSocket(address, port);
      } catch (err) {
        inFlight--;
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EACCES') bindErrors++;
        else fail(`bind: ${(err as Error).message}`);
        continue;
      }
      const outcome = await handshake(socket, {
        host: o.host,
        port: o.port,
        identity: Buffer.from(`${prefix}${slot}`, 'utf8'),
        secret,
        cid: cid === null ? undefined : randomBytes(cid),
        timeoutMs,
        retransmitMs,
      });
      socket.close();
      inFlight--;
      retransmissions += outcome.retransmissions;
      if (outcome.result === 'ok') established++;
      else fail(outcome.result);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  } finally {
    if (ticker) clearInterval(ticker);
  }
  o.onProgress?.(progress());
  const elapsedMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    target: `${o.host}:${o.port}`,
    requested: o.count,
    established,
    failed,
    failures,
    bindErrors,
    retransmissions,
    firstSlot,
    endSlot: nextSlot,
    elapsedMs,
    sessionsPerSecond: elapsedMs > 0 ? Math.round((established * 1000) / elapsedMs) : 0,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}

/** One line of a result. */
export function formatIdleResult(r: IdleSessionsResult): string {
  const extra = r.failed > 0 ? `, failures ${JSON.stringify(r.failures)}` : '';
  return (
    `${r.established}/${r.requested} idle DTLS sessions to ${r.target} in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.sessionsPerSecond}/s), ` +
    `${r.failed} failed, ${r.retransmissions} retransmissions, ${r.bindErrors} ports taken, generator cpu ${r.cpuMs} ms${extra}`
  );
}

/** Command line of the CLI. */
function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      count: { type: 'string', default: '10000' },
      cid: { type: 'string', default: '6' },
      'identity-prefix': { type: 'string', default: 'cali.idle.' },
      secret: { type: 'string', default: '.fornium' },
      concurrency: { type: 'string', default: '200' },
      timeout: { type: 'string', default: '10' },
      'first-slot': { type: 'string', default: '0' },
      hold: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = cliNumber;
  if (values.port === undefined) throw new Error('--port is required (the server\'s coaps port)');
  return {
    host: values.host,
    port: num('port', values.port),
    count: num('count', values.count),
    cid: values.cid === 'none' ? null : num('cid', values.cid),
    prefix: values['identity-prefix'],
    secret: Buffer.from(values.secret, 'utf8'),
    concurrency: num('concurrency', values.concurrency),
    timeoutMs: num('timeout', values.timeout) * 1000,
    firstSlot: num('first-slot', values['first-slot']),
    holdMs: num('hold', values.hold) * 1000,
    json: values.json,
  };
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const result = await openIdleSessions({
    host: cli.host,
    port: cli.port,
    count: cli.count,
    cid: cli.cid,
    pskIdentityPrefix: cli.prefix,
    pskSecret: cli.secret,
    concurrency: cli.concurrency,
    timeoutMs: cli.timeoutMs,
    firstSlot: cli.firstSlot,
    onProgress: cli.json ? undefined : (p) => process.stderr.write(`  ${p.established} established, ${p.failed} failed, ${p.inFlight} in flight, ${(p.elapsedMs / 1000).toFixed(0)} s\n`),
  });
  const mem = process.memoryUsage();
  if (cli.json) console.log(JSON.stringify({ ...result, generatorRssBytes: mem.rss, generatorHeapUsedBytes: mem.heapUsed }));
  else console.log(`${formatIdleResult(result)}; generator rss ${(mem.rss / 1048576).toFixed(1)} MB`);
  if (cli.holdMs > 0) await new Promise((r) => setTimeout(r, cli.holdMs));
  if (result.established < result.requested) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
