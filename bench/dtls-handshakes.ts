// Full DTLS handshakes per second between our client and server connectors on loopback (with the
// HelloVerifyRequest exchange, as a real client sees it). The server runs in a worker thread so that
// client and server each get a core; several client connectors handshake in parallel.
// Run: npx tsc -p tsconfig.json && node dist/bench/dtls-handshakes.js [--seconds 5] [--parallel 16] [--single] [--only psk|x509|rpk]
// Prints handshakes/s per suite; no assertions (targets: 2,000 PSK/s, 500 ECDHE_ECDSA/s on 2 cores).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { cipherSuiteByName } from '../src/dtls/cipher-suites.js';
import { DtlsConnector } from '../src/dtls/connector.js';
import { loadDemoCredentials, loadServerIdentity, defaultPkiDir } from '../src/dtls/credentials/demo-pki.js';
import { join } from 'node:path';

interface Scenario {
  name: string;
  suite: string;
  /** client presents cf-client (X.509) */
  clientCert: boolean;
  certificateTypes: ('X_509' | 'RAW_PUBLIC_KEY')[];
}

const SCENARIOS: Scenario[] = [
  { name: 'PSK (TLS_PSK_WITH_AES_128_CCM_8)', suite: 'TLS_PSK_WITH_AES_128_CCM_8', clientCert: false, certificateTypes: ['X_509'] },
  { name: 'ECDHE_ECDSA x509, client cert', suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', clientCert: true, certificateTypes: ['X_509'] },
  { name: 'ECDHE_ECDSA RPK, client RPK', suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', clientCert: true, certificateTypes: ['RAW_PUBLIC_KEY'] },
];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function startServer(): Promise<DtlsConnector> {
  const pki = loadDemoCredentials();
  const server = new DtlsConnector({
    address: '127.0.0.1',
    port: 0,
    role: 'server',
    identities: pki.identities,
    trustAnchors: pki.trustAnchors,
    config: { maxConnections: 100_000, clientAuthentication: 'WANTED' },
  });
  await server.start();
  return server;
}

async function runScenario(port: number, s: Scenario, seconds: number, parallel: number): Promise<number> {
  const pki = loadDemoCredentials();
  const dir = defaultPkiDir();
  const identity = loadServerIdentity('cf-client', join(dir, 'cf-client-chain.pem'), join(dir, 'cf-client-key.pem'));
  const clients: DtlsConnector[] = [];
  for (let i = 0; i < parallel; i++) {
    const c = new DtlsConnector({
      address: '127.0.0.1',
      port: 0,
      role: 'client',
      pskIdentity: `cali.${i.toString(16).toUpperCase().padStart(16, '0')}`,
      pskSecret: Buffer.from('.fornium'),
      identities: s.clientCert ? [identity] : [],
      trustAnchors: pki.trustAnchors,
      offeredCipherSuites: [cipherSuiteByName(s.suite)!],
      config: { certificateTypes: s.certificateTypes, maxConnections: 16 },
    });
    c.forceFullHandshake = true;
    await c.start();
    clients.push(c);
  }
  // warm-up
  await Promise.all(clients.map((c) => c.connect('127.0.0.1', port)));
  let done = 0;
  let failed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const maxCount = 200_000;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end && done < maxCount) {
        try {
          await c.connect('127.0.0.1', port);
          done++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.stop()));
  if (failed > 0) console.log(`  (${failed} handshakes failed)`);
  return done / elapsed;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const parallel = arg('parallel', 16);
  const single = process.argv.includes('--single');
  let port: number;
  let stopServer: () => Promise<void>;
  if (single) {
    const server = await startServer();
    port = server.localPort;
    stopServer = () => server.stop();
  } else {
    const worker = new Worker(new URL(import.meta.url), { workerData: { server: true } });
    port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => resolve(m.port));
      worker.once('error', reject);
    });
    stopServer = async () => {
      await worker.terminate();
    };
  }
  console.log(`DTLS full handshakes/s (loopback, ${parallel} parallel clients, ${seconds} s each, server ${single ? 'in the same thread' : 'in a worker thread'}):`);
  const only = process.argv.indexOf('--only');
  const filter = only >= 0 ? process.argv[only + 1]!.toLowerCase() : '';
  for (const s of SCENARIOS.filter((x) => x.name.toLowerCase().includes(filter))) {
    const rate = await runScenario(port, s, seconds, parallel);
    console.log(`  ${s.name.padEnd(36)} ${rate.toFixed(0)} handshakes/s`);
  }
  await stopServer();
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else if ((workerData as { server?: boolean }).server) {
  void startServer().then((server) => parentPort!.postMessage({ port: server.localPort }));
}
