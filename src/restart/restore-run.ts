// The new instance's side of the blue/green restore (cluster.md §10 steps 2-5): find the old instance
// (the --other-restore address, or the k8s double), download its state and load it into the running
// connectors. Never throws: every failure is logged and the instance simply starts empty.
import type { Logger } from 'pino';
import { createK8sApi } from '../cluster/k8s/api.js';
import { readK8sEnv, type K8sEnvSource } from '../cluster/k8s/env.js';
import { findRestoreDouble } from '../cluster/k8s/restore-double.js';
import type { DtlsConnector } from '../dtls/connector.js';
import type { HttpsCredentials } from './https-certs.js';
import { loadStream, type LoadOutcome } from './persist.js';
import { downloadRestoreState, hostPort } from './restore-client.js';

/** Where the old instance is: a fixed address (pair mode) or the k8s double on the same port. */
export type RestoreSource = { kind: 'pair'; host: string; port: number } | { kind: 'k8s'; port: number; mode: 'cluster' | 'single'; env?: K8sEnvSource };

/** Input of runRestore. */
export interface RestoreRunOptions {
  source: RestoreSource;
  /** The client credentials; undefined when they could not be loaded (then nothing is restored). */
  credentials: HttpsCredentials | undefined;
  connectors(): DtlsConnector[];
  /** loads the downloaded plain stream (default: loadStream into connectors(); a multi-worker primary: split over the workers) */
  load?: (plain: Buffer) => Promise<LoadOutcome>;
  logger: Logger;
}

/** Finds, downloads and loads the old instance's state; resolves with the number of connections restored. */
export async function runRestore(options: RestoreRunOptions): Promise<number> {
  const { logger } = options;
  try {
    const target = await locate(options.source, logger);
    if (target === undefined) return 0;
    if (options.credentials === undefined) {
      logger.warn(`restore: no client credentials, not restoring from ${hostPort(target)}`);
      return 0;
    }
    const start = performance.now();
    const plain = await downloadRestoreState({ ...target, credentials: options.credentials, logger });
    const outcome = options.load !== undefined ? await options.load(plain) : loadStream(options.connectors(), plain, logger, { remapWildcard: true });
    plain.fill(0);
    if (!outcome.ok) logger.warn(`restore from ${hostPort(target)}: damaged state stream (see the load message); the failed component's connections were dropped`);
    logger.info(`restored ${outcome.items} connections from ${hostPort(target)} in ${Math.round(performance.now() - start)} ms`);
    return outcome.items;
  } catch (err) {
    logger.warn(`restore failed: ${(err as Error).message}`);
    return 0;
  }
}

async function locate(source: RestoreSource, logger: Logger): Promise<{ host: string; port: number } | undefined> {
  if (source.kind === 'pair') return { host: source.host, port: source.port };
  const env = readK8sEnv(source.env);
  const double = await findRestoreDouble({
    api: createK8sApi(env),
    hostName: env.hostName,
    mode: source.mode,
    restoreSelectorLabel: env.restoreSelectorLabel,
    logger,
  });
  return double.address === undefined ? undefined : { host: double.address, port: source.port };
}
