// Baseline server on the npm `coap` package doing the same work as ours: POST /echo → 2.04 text/plain echoing the payload.
import coap from 'coap';
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** Handle on a running baseline server. */
export interface NpmCoapServer {
  /** closes the server socket */
  close(): Promise<void>;
}

/** Starts the npm-coap echo server on host:port; rcvbuf > 0 sets the socket receive buffer (else the OS default). */
export async function startNpmCoapServer(port: number, host = '127.0.0.1', rcvbuf = 0): Promise<NpmCoapServer> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  const server = coap.createServer({ type }, (req, res) => {
    if (req.method === 'POST' && req.url === '/echo') {
      res.code = '2.04';
      res.setOption('Content-Format', 'text/plain');
      res.end(req.payload);
    } else {
      res.code = '4.04';
      res.end();
    }
  });
  const close = (): Promise<void> => new Promise<void>((done) => server.close(() => done()));
  if (rcvbuf <= 0) {
    await new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
    return { close };
  }
  // listen(socket) is the library's public way to use an externally created socket (here: with a bigger buffer)
  const sock = dgram.createSocket({ type, recvBufferSize: rcvbuf });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => resolve());
  });
  server.listen(sock);
  return {
    close: async () => {
      await close();
      sock.close();
    },
  };
}

/** CLI entry: `node dist/bench/npm-coap-server.js --port 5785 [--rcvbuf bytes]`; stops on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5785' },
      host: { type: 'string', default: '127.0.0.1' },
      rcvbuf: { type: 'string', default: '0' },
    },
  });
  const server = await startNpmCoapServer(Number(values.port), values.host, Number(values.rcvbuf));
  console.log(`npm coap echo server on ${values.host}:${values.port}`);
  const stop = (): void => {
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
