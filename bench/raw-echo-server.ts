// Throwaway CoAP echo server on raw dgram (no stack, no dedup): shows the load generator's own ceiling.
// Answers CON POST /echo with a piggybacked ACK 2.04 text/plain echoing the payload; other requests get 4.04.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CODE_CHANGED, CODE_NOT_FOUND, CODE_POST, walkOptions } from './coap-wire.js';

/** Starts the raw echo server on host:port; resolves with the bound socket. */
export function startRawEchoServer(port: number, host = '127.0.0.1'): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  sock.on('message', (msg, rinfo) => {
    const n = msg.length;
    if (n < 4 || msg[0]! >> 6 !== 1) return;
    const type = (msg[0]! >> 4) & 3;
    const tkl = msg[0]! & 0x0f;
    // only requests (code class 0, not empty) in CON/NON; ignore ACK/RST and malformed tokens
    if (type > 1 || tkl > 8 || n < 4 + tkl || msg[1] === 0 || msg[1]! >> 5 !== 0) return;
    const walk = walkOptions(msg);
    if (!walk) return;
    const isEcho = msg[1] === CODE_POST && walk.path === 'echo';
    const plen = isEcho ? n - walk.payloadOffset : 0;
    const out = Buffer.allocUnsafe(4 + tkl + (isEcho ? 1 + (plen > 0 ? 1 + plen : 0) : 0));
    // CON → piggybacked ACK with the same MID; NON → NON with MID reused (good enough for a throwaway)
    out[0] = 0x40 | ((type === 0 ? 2 : 1) << 4) | tkl;
    out[1] = isEcho ? CODE_CHANGED : CODE_NOT_FOUND;
    out[2] = msg[2]!;
    out[3] = msg[3]!;
    msg.copy(out, 4, 4, 4 + tkl);
    if (isEcho) {
      let p = 4 + tkl;
      out[p++] = 0xc0; // Content-Format (12), empty value = 0 text/plain
      if (plen > 0) {
        out[p++] = 0xff;
        msg.copy(out, p, walk.payloadOffset, n);
      }
    }
    sock.send(out, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

/** CLI entry: `node dist/bench/raw-echo-server.js --port 5790`; stops on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '5790' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const sock = await startRawEchoServer(Number(values.port), values.host);
  console.log(`raw echo server on ${values.host}:${values.port}`);
  const stop = (): void => {
    sock.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
