// Readiness probe: repeats a CON request until the server answers it (any code), bounded by a timeout.
import dgram from 'node:dgram';
import { buildTemplate, CODE_POST, formatCode, MID_OFFSET, textPayload, TOKEN_OFFSET } from './coap-wire.js';

/** What the probe saw: the answer's code ("2.04") and type. */
export interface ProbeAnswer {
  code: string;
  type: number;
  payload: string;
}

/** Sends CON POST /<path> every intervalMs until an answer with a matching MID arrives; rejects after timeoutMs. */
export function probeCoap(port: number, host = '127.0.0.1', path = 'echo', timeoutMs = 15_000, intervalMs = 200): Promise<ProbeAnswer> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const template = buildTemplate({ type: 0, code: CODE_POST, tokenLength: 4, path, contentFormat: 0, payload: textPayload(40) });
  const sentMids = new Set<number>();
  let mid = (Math.random() * 0x10000) | 0;
  return new Promise<ProbeAnswer>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, answer?: ProbeAnswer): void => {
      clearInterval(timer);
      clearTimeout(deadline);
      sock.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    sock.on('error', () => {
      // ICMP port unreachable while the server is not yet bound: keep probing
    });
    sock.on('message', (msg) => {
      if (msg.length < 4 || !sentMids.has((msg[2]! << 8) | msg[3]!)) return;
      const tkl = msg[0]! & 0x0f;
      const marker = msg.indexOf(0xff, 4 + tkl);
      finish(undefined, {
        code: formatCode(msg[1]!),
        type: (msg[0]! >> 4) & 3,
        payload: marker >= 0 ? msg.toString('utf8', marker + 1) : '',
      });
    });
    const send = (): void => {
      mid = (mid + 1) & 0xffff;
      sentMids.add(mid);
      const buf = Buffer.from(template);
      buf.writeUInt16BE(mid, MID_OFFSET);
      buf.writeUInt32BE(mid, TOKEN_OFFSET);
      sock.send(buf, port, host);
    };
    deadline = setTimeout(() => finish(new Error(`no CoAP answer from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    timer = setInterval(send, intervalMs);
    send();
  });
}
