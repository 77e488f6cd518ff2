// How many worker processes run for `--workers N` (issue 13): a Node.js without SO_REUSEPORT for UDP runs one, with
// a log line saying why; more than one is refused while the workers' CID routing and shared state are missing.
import { reusePortSupported } from '../transport/datagram.js';

/** Most workers --workers accepts. */
export const MAX_WORKERS = 256;

/** What runs for `--workers requested`: a count (with a warning when it is fewer than asked), or a refusal. */
export type WorkerDecision = { workers: number; warning?: string } | { refused: string };

/** Decides the worker count for `requested` on this Node.js (`version`, `platform`: for tests). */
export function decideWorkers(requested: number, version: string = process.versions.node, platform: string = process.platform): WorkerDecision {
  if (requested <= 1) return { workers: 1 };
  if (!reusePortSupported(version, platform)) {
    return { workers: 1, warning: `--workers ${requested}: Node.js ${version} on ${platform} cannot share a UDP port between processes (SO_REUSEPORT needs Node.js 22.12 or later on Linux), running one worker` };
  }
  return { refused: `--workers ${requested}: more than one worker is not available in this version yet (routing by CID between workers and the state they share are missing); use --workers 1` };
}
