// A scriptable raw DTLS 1.2 PSK client for state-machine tests (TLS_PSK_WITH_AES_128_CCM_8, RFC 6655;
// RFC 6347 handshake with cookie exchange, RFC 7627 extended master secret, optional RFC 9146 CID).
// It never decides what to send: a test builds handshake messages and records one by one (any epoch,
// sequence number, message_seq, fragmentation, forged MAC) and sends any list of records as one datagram.
// Everything the server sends is kept, decrypted where the keys exist, with alerts, handshake fragments,
// server Finished check and CoAP decoded. Imports nothing from src/.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { forgedRecord, openRecord, sealRecord } from './ccm8.js';
import { decodeCoap, encodeGet, type CoapMessage } from './coap.js';
import {
  CipherSuite,
  ExtensionType,
  HandshakeType,
  encodeClientHello,
  encodeMessage,
  encodePskClientKeyExchange,
  isWhole,
  parseFragments,
  parseHelloVerifyRequest,
  parseServerHello,
  type HandshakeFragment,
  type HandshakeMessage,
  type ServerHello,
} from './handshake.js';
import { ccm8KeyBlock, masterSecret, pskPreMasterSecret, transcriptHash, verifyData, type Ccm8Keys } from './keys.js';
import { hasMessage, isServerFinished, summarize, type Received } from './observe.js';
import { ContentType, encodeRecord, parseDatagram, type WireRecord } from './record.js';

/** How a RawDtlsClient is opened. */
export interface RawClientOptions {
  /** server address and port */
  host: string;
  port: number;
  /** local address to bind (default 127.0.0.1) and port (default: any) */
  bindAddress?: string;
  bindPort?: number;
  /** PSK identity and secret used by default (Client_identity / secretPSK) */
  identity?: string;
  secret?: string;
  /** ClientHello random (default: random) */
  random?: Buffer;
  /** offer extended_master_secret (RFC 7627; default true) */
  offerEms?: boolean;
  /** offer connection_id (RFC 9146) with this CID of ours; undefined: no CID extension */
  cid?: Buffer;
}

/** Record options: epoch (default 0 for plaintext types, see each builder) and sequence number (default: next). */
export interface RecordOptions {
  epoch?: number;
  seq?: number;
}

interface Waiter {
  pred: (r: Received) => boolean;
  from: number;
  resolve: (r: Received | undefined) => void;
  timer: NodeJS.Timeout;
}

/** The raw client: one UDP socket, the handshake transcript and keys, and everything received. */
export class RawDtlsClient {
  readonly random: Buffer;
  readonly identity: string;
  readonly secret: string;
  /** handshake messages hashed so far, from the ClientHello with cookie on (RFC 6347 §4.2.6) */
  transcript: Buffer[] = [];
  serverHello: ServerHello | undefined;
  master: Buffer | undefined;
  keys: Ccm8Keys | undefined;
  /** extended master secret in use (offered and echoed) */
  ems = false;
  /** CID to put into our protected records (the server's, RFC 9146) */
  writeCid: Buffer | undefined;
  /** the server Finished verify_data we expect (known once our Finished is built) */
  expectedServerVerifyData: Buffer | undefined;
  /** every record received, in order */
  readonly received: Received[] = [];
  datagrams = 0;
  private readonly seqs = new Map<number, number>();
  private messageSeq = 0;
  private readonly serverSeqsHashed = new Set<number>();
  private readonly waiters = new Set<Waiter>();
  private readonly t0 = Date.now();

  private constructor(
    readonly socket: dgram.Socket,
    readonly opts: RawClientOptions,
  ) {
    this.random = opts.random ?? randomBytes(32);
    this.identity = opts.identity ?? 'Client_identity';
    this.secret = opts.secret ?? 'secretPSK';
    socket.on('message', (msg) => this.onDatagram(msg));
  }

  /** Opens a UDP socket bound to the loopback address (default 127.0.0.1). */
  static async open(opts: RawClientOptions): Promise<RawDtlsClient> {
    const bind = opts.bindAddress ?? '127.0.0.1';
    const socket = dgram.createSocket(bind.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.bindPort ?? 0, bind, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RawDtlsClient(socket, opts);
  }

  /** Local port. */
  get port(): number {
    return this.socket.address().port;
  }

  /** Closes the socket and ends pending waits. */
  close(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.waiters.clear();
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  // ---- handshake messages ------------------------------------------------------------------------

  private takeMessageSeq(explicit: number | undefined): number {
    const seq = explicit ?? this.messageSeq;
    this.messageSeq = Math.max(this.messageSeq, seq + 1);
    return seq;
  }

  /** The ClientHello body this client sends (cookie empty or given), RFC 6347 §4.2.1. */
  clientHelloBody(cookie: Buffer = Buffer.alloc(0)): Buffer {
    const extensions: Array<readonly [number, Buffer]> = [];
    if (this.opts.offerEms ?? true) extensions.push([ExtensionType.EXTENDED_MASTER_SECRET, Buffer.alloc(0)]);
    if (this.opts.cid !== undefined) extensions.push([ExtensionType.CONNECTION_ID, Buffer.concat([Buffer.from([this.opts.cid.length]), this.opts.cid])]);
    return encodeClientHello({
      random: this.random,
      cookie,
      cipherSuites: [CipherSuite.TLS_PSK_WITH_AES_128_CCM_8, CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
      extensions,
    });
  }

  /**
   * A ClientHello message. With a cookie it starts the transcript (the first ClientHello and the
   * HelloVerifyRequest are not hashed, RFC 6347 §4.2.6).
   */
  clientHello(o: { cookie?: Buffer; messageSeq?: number } = {}): HandshakeMessage {
    const m = { msgType: HandshakeType.CLIENT_HELLO, messageSeq: this.takeMessageSeq(o.messageSeq), body: this.clientHelloBody(o.cookie) };
    this.transcript = [encodeMessage(m)];
    this.serverSeqsHashed.clear();
    return m;
  }

  /**
   * A PSK ClientKeyExchange (RFC 4279 §2) with `identity`; adds it to the transcript and derives the
   * master secret (RFC 7627 session hash when EMS is in use) and the epoch-1 keys from `secret`.
   */
  clientKeyExchange(o: { identity?: string; secret?: string; messageSeq?: number } = {}): HandshakeMessage {
    const sh = this.serverHello;
    if (sh === undefined) throw new Error('no ServerHello yet');
    const m = {
      msgType: HandshakeType.CLIENT_KEY_EXCHANGE,
      messageSeq: this.takeMessageSeq(o.messageSeq),
      body: encodePskClientKeyExchange(Buffer.from(o.identity ?? this.identity, 'utf8')),
    };
    this.transcript.push(encodeMessage(m));
    const preMasterSecret = pskPreMasterSecret(Buffer.from(o.secret ?? this.secret, 'utf8'));
    this.master = masterSecret({
      preMasterSecret,
      clientRandom: this.random,
      serverRandom: sh.random,
      ...(this.ems ? { sessionHash: transcriptHash(this.transcript) } : {}),
    });
    this.keys = ccm8KeyBlock(this.master, this.random, sh.random);
    return m;
  }

  /** The verify_data our Finished must carry now (RFC 5246 §7.4.9). */
  clientVerifyData(): Buffer {
    if (this.master === undefined) throw new Error('no master secret yet');
    return verifyData(this.master, 'client', transcriptHash(this.transcript));
  }

  /**
   * Our Finished (correct verify_data, or `wrong`: every byte inverted). Adds it to the transcript and
   * computes the server Finished we then expect.
   */
  finished(o: { wrong?: boolean; messageSeq?: number } = {}): HandshakeMessage {
    let vd = this.clientVerifyData();
    if (o.wrong) vd = Buffer.from(vd.map((b) => b ^ 0xff));
    const m = { msgType: HandshakeType.FINISHED, messageSeq: this.takeMessageSeq(o.messageSeq), body: vd };
    this.transcript.push(encodeMessage(m));
    this.expectedServerVerifyData = verifyData(this.master!, 'server', transcriptHash(this.transcript));
    return m;
  }

  // ---- records ------------------------------------------------------------------------------------

  /** The next record sequence number of `epoch` (RFC 6347 §4.1: per epoch, starting at 0). */
  nextSeq(epoch: number): number {
    return this.seqs.get(epoch) ?? 0;
  }

  private takeSeq(epoch: number, explicit: number | undefined): number {
    const seq = explicit ?? this.nextSeq(epoch);
    this.seqs.set(epoch, Math.max(this.nextSeq(epoch), seq + 1));
    return seq;
  }

  /**
   * A record of `type` with `content`: epoch 0 in plaintext, epoch ≥ 1 protected with the client write
   * key (a tls12_cid record when the server gave us a non-empty CID).
   */
  record(type: number, content: Buffer, o: RecordOptions = {}): Buffer {
    const epoch = o.epoch ?? 0;
    const seq = this.takeSeq(epoch, o.seq);
    if (epoch === 0) return encodeRecord({ type, epoch, seq, fragment: content });
    if (this.keys === undefined) throw new Error('no keys yet for a protected record');
    return sealRecord(
      { key: this.keys.clientWriteKey, iv: this.keys.clientWriteIv },
      { type, epoch, seq, content, ...(this.writeCid !== undefined ? { cid: this.writeCid } : {}) },
    );
  }

  /** A handshake record holding a whole message (or raw fragment bytes from fragmentMessage). */
  handshake(msg: HandshakeMessage | Buffer, o: RecordOptions = {}): Buffer {
    return this.record(ContentType.HANDSHAKE, Buffer.isBuffer(msg) ? msg : encodeMessage(msg), o);
  }

  /** A ChangeCipherSpec record (RFC 5246 §7.1: the single byte 1), epoch 0 by default. */
  changeCipherSpec(o: RecordOptions = {}): Buffer {
    return this.record(ContentType.CHANGE_CIPHER_SPEC, Buffer.from([1]), o);
  }

  /** An application_data record, epoch 1 by default. */
  appData(content: Buffer, o: RecordOptions = {}): Buffer {
    return this.record(ContentType.APPLICATION_DATA, content, { epoch: 1, ...o });
  }

  /** A record with a random ciphertext and tag (forged MAC), epoch 1 by default; `length` plaintext bytes. */
  forged(type: number, length: number, o: RecordOptions = {}): Buffer {
    const epoch = o.epoch ?? 1;
    const seq = this.takeSeq(epoch, o.seq);
    return forgedRecord({ type, epoch, seq, length, ...(this.writeCid !== undefined ? { cid: this.writeCid } : {}) });
  }

  /** A CoAP CON GET (default /mycontext) with a fresh token and MID, and its application_data record. */
  coapGet(o: RecordOptions & { path?: readonly string[] } = {}): { record: Buffer; token: Buffer; mid: number } {
    const token = randomBytes(8);
    const mid = randomBytes(2).readUInt16BE(0);
    return { record: this.appData(encodeGet(o.path ?? ['mycontext'], mid, token), o), token, mid };
  }

  /** Sends the records as one datagram (RFC 6347 §4.1.1). */
  send(...records: Buffer[]): void {
    this.socket.send(Buffer.concat(records), this.opts.port, this.opts.host);
  }

  // ---- receiving ----------------------------------------------------------------------------------

  /** Index to pass to since()/waitFor(): everything received from now on. */
  mark(): number {
    return this.received.length;
  }

  /** Records received since `mark`. */
  since(mark: number): Received[] {
    return this.received.slice(mark);
  }

  /** The first record since `from` matching `pred`, waiting at most `timeoutMs`; undefined on timeout. */
  waitFor(pred: (r: Received) => boolean, timeoutMs: number, from = 0): Promise<Received | undefined> {
    const found = this.received.slice(from).find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => {
      const w: Waiter = {
        pred,
        from,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          resolve(undefined);
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /** Waits `ms` and returns what arrived meanwhile ([] = silence). */
  async collect(ms: number): Promise<Received[]> {
    const m = this.mark();
    await new Promise((r) => setTimeout(r, ms));
    return this.since(m);
  }

  /** The CoAP response carrying `token`, at most `timeoutMs`. */
  waitCoap(token: Buffer, timeoutMs: number, from = 0): Promise<Received | undefined> {
    return this.waitFor((r) => r.coap !== undefined && r.coap.token.equals(token), timeoutMs, from);
  }

  /** The server Finished (decrypted epoch-1 handshake record with a Finished), at most `timeoutMs`. */
  waitServerFinished(timeoutMs: number, from = 0): Promise<Received | undefined> {
    return this.waitFor(isServerFinished, timeoutMs, from);
  }

  // ---- scripted beginnings ------------------------------------------------------------------------

  /** Sends a ClientHello without cookie and returns the HelloVerifyRequest's cookie (RFC 6347 §4.2.1). */
  async cookieExchange(timeoutMs = 2000): Promise<Buffer> {
    const m = this.mark();
    this.send(this.handshake(this.clientHello()));
    const hvr = await this.waitFor((r) => hasMessage(r, HandshakeType.HELLO_VERIFY_REQUEST), timeoutMs, m);
    if (hvr === undefined) throw new Error(`no HelloVerifyRequest within ${timeoutMs} ms; got ${summarize(this.since(m))}`);
    const f = hvr.handshake!.find((x) => x.msgType === HandshakeType.HELLO_VERIFY_REQUEST)!;
    return parseHelloVerifyRequest(f.bytes).cookie;
  }

  /** Cookie exchange, then the ClientHello with cookie up to the ServerHelloDone (flights 1-4). */
  async helloFlights(timeoutMs = 2000): Promise<ServerHello> {
    const cookie = await this.cookieExchange(timeoutMs);
    const m = this.mark();
    this.send(this.handshake(this.clientHello({ cookie })));
    const done = await this.waitFor((r) => hasMessage(r, HandshakeType.SERVER_HELLO_DONE), timeoutMs, m);
    if (done === undefined || this.serverHello === undefined) {
      throw new Error(`no ServerHello…ServerHelloDone within ${timeoutMs} ms; got ${summarize(this.since(m))}`);
    }
    return this.serverHello;
  }

  // ---- receive path -------------------------------------------------------------------------------

  private onDatagram(datagram: Buffer): void {
    const index = this.datagrams++;
    const { records } = parseDatagram(datagram, this.opts.cid?.length ?? 0);
    for (const rec of records) {
      const r = this.decode(rec, index);
      this.received.push(r);
      for (const w of [...this.waiters]) {
        if (w.pred(r)) {
          this.waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(r);
        }
      }
    }
  }

  private decode(rec: WireRecord, datagram: number): Received {
    const r: Received = { at: Date.now() - this.t0, datagram, record: rec, type: rec.type, decrypted: false, undecryptable: false };
    if (rec.epoch === 0) {
      r.content = rec.fragment;
    } else if (this.keys !== undefined) {
      const plain = openRecord({ key: this.keys.serverWriteKey, iv: this.keys.serverWriteIv }, rec);
      if (plain === undefined) r.undecryptable = true;
      else {
        r.decrypted = true;
        r.type = plain.type;
        r.content = plain.content;
      }
    } else {
      r.undecryptable = true;
    }
    const content = r.content;
    if (content === undefined) return r;
    switch (r.type) {
      case ContentType.ALERT:
        if (content.length >= 2) r.alert = { level: content[0]!, description: content[1]! };
        break;
      case ContentType.HANDSHAKE:
        r.handshake = parseFragments(content);
        for (const f of r.handshake ?? []) this.serverMessage(f, r, rec.epoch);
        break;
      case ContentType.APPLICATION_DATA:
        r.coap = decodeCoap(content);
        break;
      default:
        break;
    }
    return r;
  }

  /** Server handshake messages: ServerHello sets the parameters, hashed messages join the transcript. */
  private serverMessage(f: HandshakeFragment, r: Received, epoch: number): void {
    if (!isWhole(f)) return; // the server's PSK flights are small: no reassembly needed here
    const m = { msgType: f.msgType, messageSeq: f.messageSeq, body: f.bytes };
    if (f.msgType === HandshakeType.FINISHED && epoch > 0) {
      r.finishedOk = this.expectedServerVerifyData !== undefined && this.expectedServerVerifyData.equals(f.bytes);
      return;
    }
    if (f.msgType === HandshakeType.HELLO_VERIFY_REQUEST || epoch !== 0) return;
    if (this.transcript.length === 0 || this.serverSeqsHashed.has(f.messageSeq)) return; // retransmission
    this.serverSeqsHashed.add(f.messageSeq);
    if (f.msgType === HandshakeType.SERVER_HELLO) {
      const sh = parseServerHello(f.bytes);
      this.serverHello = sh;
      this.ems = (this.opts.offerEms ?? true) && sh.extensions.has(ExtensionType.EXTENDED_MASTER_SECRET);
      const cidExt = sh.extensions.get(ExtensionType.CONNECTION_ID);
      if (this.opts.cid !== undefined && cidExt !== undefined && cidExt[0]! > 0) this.writeCid = Buffer.from(cidExt.subarray(1, 1 + cidExt[0]!));
    }
    this.transcript.push(encodeMessage(m));
  }
}
