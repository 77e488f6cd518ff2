#!/usr/bin/env node
// The `extended-test-server` executable: parse flags, start the servers, run the console (cli.md §4-§6).
import readline from 'node:readline';
import pino from 'pino';
import { parseServerArgs, refusedFlags } from './options.js';
import type { CoapServer } from '../coap/server.js';
import { startApp, type App } from '../server/app.js';
import { createConsoleRestart } from '../restart/console.js';
import { dtlsConnectorsOf } from '../restart/persist.js';
import { deleteStoreFile, loadStoreFile, saveStoreFile, storeFileOptions } from '../restart/store-file.js';

const EXIT_USAGE = 255;
const EXIT_STARTUP = 1;

async function main(): Promise<void> {
  const result = parseServerArgs(process.argv.slice(2));
  if (result.kind === 'help') {
    process.stdout.write(result.text + '\n');
    process.exit(0);
  }
  if (result.kind === 'error') {
    process.stderr.write(`${result.message}\n\n${result.usage}\n`);
    process.exit(EXIT_USAGE);
  }
  const opts = result.options;
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: undefined });
  const { refused, warnings } = refusedFlags(opts);
  if (refused.length > 0) {
    for (const r of refused) process.stderr.write(`Failed to create extplugtest server: ${r}\n`);
    process.stderr.write('Exiting\n');
    process.exit(EXIT_STARTUP);
  }
  for (const w of warnings) logger.warn(w);

  const store = storeFileOptions(opts);
  let app: App | undefined;
  let exiting = false;
  const exit = async (status: number) => {
    if (exiting) return;
    exiting = true;
    try {
      // restart.md §3: delete any old file, stop the servers, write the new file
      if (store !== undefined) deleteStoreFile(store.file, logger);
      await app?.stop();
      if (store !== undefined && app !== undefined) saveStoreFile(store, dtlsConnectorsOf(app.servers), logger);
    } finally {
      logger.info('Exit ...');
      logger.flush();
      process.exit(status);
    }
  };
  try {
    const beforeStart = store === undefined ? undefined : (servers: readonly CoapServer[]) => loadStoreFile(store, dtlsConnectorsOf(servers), logger);
    app = await startApp(opts, logger, () => void exit(0), process.cwd(), beforeStart);
  } catch (err) {
    process.stderr.write(`Failed to create extplugtest server: ${(err as Error).message}\n`);
    if (!(err instanceof Error && err.name === 'StartupError') && process.env.LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error).stack}\n`);
    process.stderr.write('Exiting\n');
    process.exit(EXIT_STARTUP);
  }
  process.on('SIGINT', () => void exit(0));
  process.on('SIGTERM', () => void exit(0));
  const running = app;
  const restart = createConsoleRestart(
    { connectors: () => dtlsConnectorsOf(running.servers), stopServers: () => running.stopServers(), startServers: () => running.startServers() },
    logger,
  );
  // console commands run one after the other
  let pending = Promise.resolve();
  const queue = (task: () => Promise<void>): void => {
    pending = pending.then(task).catch((err: unknown) => logger.error(`console: ${(err as Error).message}`));
  };
  // console: each line is echoed; `exit` stops the servers, `save`/`load` keep the DTLS state (cli.md §5); EOF only stops reading
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    process.stdout.write(`> ${line}\n`);
    if (line === 'exit') void exit(0);
    else if (line.startsWith('save')) queue(() => restart.save(line.slice(4)));
    else if (line.startsWith('load')) queue(() => restart.load(line.slice(4)));
  });
}

void main();
