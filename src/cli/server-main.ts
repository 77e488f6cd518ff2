#!/usr/bin/env node
// The `extended-test-server` executable: parse flags, start the servers, run the console (cli.md §4-§6).
import { parseServerArgs, usage } from './options.js';
import type { CoapServer } from '../coap/server.js';
import { logStarted, startApp, type App, type AppRole } from '../server/app.js';
import { collectHealth, dumpHealth, logHealth } from '../server/health.js';
import { runWorker, workerIndexOf } from '../workers/worker-process.js';
import { startWorkerPool, type WorkerPool } from '../workers/primary.js';
import { loadRestoredForWorkers, readStoreForWorkers, restoreStateOfWorkers, saveWorkersStoreFile, type SplitStream, type WorkerStreams } from '../workers/store-parts.js';
import { checkPortsFree, workerPlanOf, type WorkerPlan } from '../workers/public-ports.js';
import { startConsole } from '../server/console.js';
import { createConsoleRestart } from '../restart/console.js';
import { dtlsConnectorsOf, loadStream } from '../restart/persist.js';
import { deleteStoreFile, loadStoreFile, saveStoreFile, storeFileOptions } from '../restart/store-file.js';
import { createLogger, extractLogArgs, logUsage, resolveLogSettings } from '../log/index.js';
import { keepYoungGenerationSmall } from '../server/young-generation.js';
import { decideWorkers, requestedWorkers } from '../workers/worker-count.js';

const EXIT_USAGE = 255;
const EXIT_STARTUP = 1;
const STARTUP_PREFIX = 'Failed to create extplugtest server:';

/** The usage plus the log options while the option table does not list them. */
function withLogUsage(text: string): string {
  return text.includes('--log-format') ? text : `${text}\n\n${logUsage()}`;
}

/** The start-up failure text: the prefix once, then the reason, or one line per reason. */
function startupFailure(reasons: readonly string[]): string {
  if (reasons.length === 1) return `${STARTUP_PREFIX} ${reasons[0]}\n`;
  return `${STARTUP_PREFIX}\n${reasons.map((r) => `  ${r}\n`).join('')}`;
}

async function main(): Promise<void> {
  keepYoungGenerationSmall();
  // the log options are not in the option table: taken out before it parses the rest
  const logArgs = extractLogArgs(process.argv.slice(2));
  const result = parseServerArgs(logArgs.argv);
  if (result.kind === 'help') {
    process.stdout.write(withLogUsage(result.text) + '\n');
    process.exit(0);
  }
  if (result.kind === 'error') {
    process.stderr.write(`${result.message}\n\n${withLogUsage(result.usage)}\n`);
    process.exit(EXIT_USAGE);
  }
  if (logArgs.error !== undefined) {
    process.stderr.write(`${logArgs.error}\n\n${withLogUsage(usage())}\n`);
    process.exit(EXIT_USAGE);
  }
  const opts = result.options;
  const { settings, warnings: logWarnings } = resolveLogSettings(logArgs, process.env, process.stdout.isTTY === true);
  const logger = createLogger(settings);
  const workerIndex = workerIndexOf();
  if (workerIndex !== undefined) {
    // a worker of a multi-worker server: the primary checked the flags and the set-up, and warned
    await runWorker(opts, logger.child({ worker: workerIndex }), workerIndex);
    return;
  }
  for (const w of logWarnings) logger.warn(w);
  // the workers need the properties (WORKERS, the CID settings, the ports); a bad file is reported by startApp below
  let plan: WorkerPlan | undefined;
  try {
    plan = workerPlanOf(opts, process.cwd());
  } catch {
    plan = undefined;
  }
  const workers = decideWorkers(requestedWorkers(opts.workers, plan?.workersProperty), plan?.setup);
  if (workers.message !== undefined) logger[workers.message.level](workers.message.text);
  const refused = workers.refused ?? [];
  if (refused.length > 0) {
    process.stderr.write(startupFailure(refused));
    process.stderr.write('Exiting\n');
    process.exit(EXIT_STARTUP);
  }

  const store = storeFileOptions(opts);
  let app: App | undefined;
  let pool: WorkerPool | undefined;
  /** the app once start-up completed (the workers too): only then is the store file loaded and written */
  let serving: App | undefined;
  let exiting = false;
  const exit = async (status: number) => {
    if (exiting) return;
    exiting = true;
    try {
      // restart.md §3: delete any old file, stop the servers, write the new file
      // (a signal during start-up leaves the store file alone: it may not have been loaded yet)
      const saving = store !== undefined && serving !== undefined;
      if (saving) deleteStoreFile(store.file, logger);
      // several workers: each stops and hands over its connections; the primary writes the one file
      const workerStates = saving && pool !== undefined ? await pool.saveStreams(store.maxAgeMs) : [];
      await Promise.all([app?.stop(), pool?.stop()]);
      if (saving && serving !== undefined) {
        const connectors = dtlsConnectorsOf(serving.servers);
        if (pool === undefined) saveStoreFile(store, connectors, logger);
        else saveWorkersStoreFile(store, connectors, workerStates, logger);
      }
    } finally {
      logger.info('Exit ...');
      logger.flush();
      process.exit(status);
    }
  };
  // installed before start-up logs anything: a SIGTERM sent on seeing the start-up lines must stop the server cleanly
  process.on('SIGINT', () => void exit(0));
  process.on('SIGTERM', () => void exit(0));
  try {
    const several = plan !== undefined && workers.workers > 1 ? plan : undefined;
    // the pool once it runs (the restore service may only be called after start-up)
    const workerStreams = (): WorkerStreams => {
      if (pool === undefined) throw new Error('the workers are not running');
      return pool;
    };
    let poolStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (poolStarted = resolve));
    // after /restore handed the connections out, the workers' servers are stopped: not ready any more
    let handedOver = false;
    let split: SplitStream | undefined;
    if (several !== undefined) {
      await checkPortsFree(several.ports, several.tcpPorts);
      // --store-file: the primary's connections, and each worker's: those whose CIDs it issued
      split = store === undefined ? undefined : readStoreForWorkers(store, workers.workers, several.coapsLabels, several.cidWorkerByte, logger);
    }
    const own = split?.primary;
    const beforeStart =
      store === undefined
        ? undefined
        : several === undefined
          ? (servers: readonly CoapServer[]) => loadStoreFile(store, dtlsConnectorsOf(servers), logger)
          : (servers: readonly CoapServer[]) => {
              if (own === undefined) return;
              loadStream(dtlsConnectorsOf(servers), own, logger);
              own.fill(0);
            };
    const role: AppRole =
      several === undefined
        ? { kind: 'single' }
        : {
            kind: 'primary',
            workersHealth: () => pool?.health() ?? Promise.resolve([]),
            // before the workers started: not ready, no metrics of theirs
            workersMonitoring: {
              started: () => started,
              clusterReady: () => pool?.clusterReady() ?? Promise.resolve(false),
              running: () => !handedOver && (pool?.running() ?? false),
              metrics: () => pool?.metrics() ?? Promise.resolve([]),
              restoreState: (maxAgeMs) => {
                handedOver = true;
                return restoreStateOfWorkers(dtlsConnectorsOf(app?.servers ?? []), workerStreams(), maxAgeMs, logger);
              },
              restoreLoad: (plain) => loadRestoredForWorkers(plain, dtlsConnectorsOf(app?.servers ?? []), workerStreams(), workers.workers, several.coapsLabels, several.cidWorkerByte, logger),
            },
          };
    app = await startApp(opts, logger, () => void exit(0), process.cwd(), beforeStart, role);
    if (several !== undefined) {
      // after the primary's own ports are bound: a worker's ephemeral management socket cannot take one of them
      const parts = split?.workers;
      pool = await startWorkerPool({
        count: workers.workers,
        module: process.argv[1]!,
        args: process.argv.slice(2),
        systemStart: Math.round(performance.timeOrigin),
        exit: () => void exit(0),
        logger,
        ...(parts !== undefined ? { storePart: (i: number) => parts[i] } : {}),
      });
      pool.setPrimaryDiagnostics(app.diagnostics);
      poolStarted();
      if (store !== undefined && split !== undefined) {
        logger.info(`store file ${store.file}: loaded by the primary and ${workers.workers} workers`);
        deleteStoreFile(store.file, logger);
      }
      logStarted(logger, app.version);
    }
  } catch (err) {
    await Promise.all([pool?.stop(), app?.stop()]);
    process.stderr.write(startupFailure([(err as Error).message]));
    const debug = settings.level === 'debug' || settings.level === 'trace';
    if (!(err instanceof Error && err.name === 'StartupError') && debug) process.stderr.write(`${(err as Error).stack}\n`);
    process.stderr.write('Exiting\n');
    process.exit(EXIT_STARTUP);
  }
  const running = app;
  serving = app;
  const ownRestart = createConsoleRestart(
    { connectors: () => dtlsConnectorsOf(running.servers), stopServers: () => running.stopServers(), startServers: () => running.startServers() },
    logger,
  );
  const workerPool = pool;
  // save and load act on this process' servers and on every worker's
  const restart =
    workerPool === undefined
      ? ownRestart
      : {
          save: async (password: string) => void (await Promise.all([ownRestart.save(password), workerPool.save(password)])),
          load: async (password: string) => void (await Promise.all([ownRestart.load(password), workerPool.load(password)])),
        };
  // cli.md §5: each line is echoed; empty line → health dump, `exit`, `save`/`load`, `help`; EOF only stops reading
  startConsole({
    input: process.stdin,
    write: (text) => process.stdout.write(text),
    logger,
    actions: {
      health: () => {
        if (workerPool === undefined) dumpHealth(running.servers, logger, { all: true });
        else void workerPool.health().then((h) => logHealth([...collectHealth(running.servers), ...h], logger, { all: true }));
      },
      save: (password) => restart.save(password),
      load: (password) => restart.load(password),
      exit: () => void exit(0),
    },
  });
}

void main();
