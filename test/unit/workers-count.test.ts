// How many workers run (issue 13): --workers N (1..256), else WORKERS of the properties, else one per core; one on a
// Node.js without SO_REUSEPORT for UDP (a warning when asked for, information when only the default); a set-up that
// cannot run with several workers yet is refused when they were asked for and runs one worker when they were not.
import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../../src/cli/options.js';
import { decideWorkers, requestedWorkers, workerConflicts, type WorkerSetup } from '../../src/workers/worker-count.js';

const plain: WorkerSetup = { cidLength: 6, nodeId: undefined };

describe('--workers and WORKERS', () => {
  it('the flag takes integers from 1 to 256; without it nothing is set', () => {
    const d = parseServerArgs([]);
    expect(d.kind === 'ok' && d.options.workers).toBeUndefined();
    const w = parseServerArgs(['--workers', '4']);
    expect(w.kind === 'ok' && w.options.workers).toBe(4);
    for (const bad of ['0', '257', '1.5', 'two', '-1']) expect(parseServerArgs(['--workers', bad]).kind, bad).toBe('error');
  });

  it('the flag wins, then WORKERS above 0, then one per core', () => {
    expect(requestedWorkers(3, 5, 8)).toEqual({ count: 3, explicit: true });
    expect(requestedWorkers(undefined, 5, 8)).toEqual({ count: 5, explicit: true });
    expect(requestedWorkers(undefined, 0, 8)).toEqual({ count: 8, explicit: false });
    expect(requestedWorkers(undefined, undefined, 2)).toEqual({ count: 2, explicit: false });
    expect(requestedWorkers(undefined, undefined, 1)).toEqual({ count: 1, explicit: false });
    expect(requestedWorkers(undefined, undefined, 512).count).toBe(256);
  });
});

describe('decideWorkers', () => {
  it('one worker: nothing to say', () => {
    expect(decideWorkers({ count: 1, explicit: true }, plain, '20.19.2', 'linux')).toEqual({ workers: 1 });
    expect(decideWorkers({ count: 1, explicit: false }, plain, '24.22.3', 'linux')).toEqual({ workers: 1 });
  });

  it('Node.js 22.12+ on Linux: the workers asked for', () => {
    expect(decideWorkers({ count: 2, explicit: true }, plain, '24.22.3', 'linux')).toEqual({ workers: 2 });
    expect(decideWorkers({ count: 4, explicit: false }, plain, '22.12.0', 'linux')).toEqual({ workers: 4 });
    expect(decideWorkers({ count: 2, explicit: true }, plain, '22.11.0', 'linux').workers).toBe(1);
    expect(decideWorkers({ count: 2, explicit: true }, plain, '24.22.3', 'darwin').workers).toBe(1);
  });

  it('Node.js 20: one worker, a warning when asked for, information for the default', () => {
    expect(decideWorkers({ count: 4, explicit: true }, plain, '20.19.2', 'linux')).toEqual({
      workers: 1,
      message: {
        level: 'warn',
        text: '--workers 4: Node.js 20.19.2 on linux cannot share a UDP port between processes (SO_REUSEPORT needs Node.js 22.12 or later on Linux), running one worker',
      },
    });
    const d = decideWorkers({ count: 2, explicit: false }, plain, '20.19.2', 'linux');
    expect(d.workers).toBe(1);
    expect(d.message?.level).toBe('info');
    expect(d.message?.text).toMatch(/^2 workers \(one per core\): Node\.js 20\.19\.2 on linux cannot share a UDP port .*running one worker$/);
  });

  it('a set-up several workers cannot run yet: refused when asked for, one worker when only the default', () => {
    const fixed = { ...plain, nodeId: 3 };
    expect(decideWorkers({ count: 2, explicit: true }, fixed, '24.22.3', 'linux')).toEqual({
      workers: 1,
      refused: ["--workers 2: each worker writes its own index as the CIDs' node-id; DTLS.CONNECTION_ID_NODE_ID (3) must be empty; use --workers 1"],
    });
    expect(decideWorkers({ count: 2, explicit: false }, fixed, '24.22.3', 'linux')).toEqual({
      workers: 1,
      message: { level: 'info', text: "running one worker, not 2 workers (one per core): each worker writes its own index as the CIDs' node-id; DTLS.CONNECTION_ID_NODE_ID (3) must be empty" },
    });
  });
});

describe('what cannot run with several workers yet', () => {
  it('the default set-up and one without CIDs run', () => {
    expect(workerConflicts(plain)).toEqual([]);
    expect(workerConflicts({ ...plain, cidLength: 0 })).toEqual([]);
  });

  it('each conflict is named', () => {
    expect(workerConflicts({ cidLength: 4, nodeId: 7 })).toEqual([
      'the workers route by the node-id byte of the CIDs, which needs DTLS.CONNECTION_ID_LENGTH of at least 5 (or 0: no CIDs), not 4',
      "each worker writes its own index as the CIDs' node-id; DTLS.CONNECTION_ID_NODE_ID (7) must be empty",
    ]);
    expect(workerConflicts({ ...plain, clusterStore: true })).toEqual(['the shared DTLS connection store (--dtls-cluster-store) runs in one process per cluster node']);
    // the default of one worker per core gives way to it
    expect(decideWorkers({ count: 2, explicit: false }, { ...plain, clusterStore: true }, '24.22.3', 'linux').workers).toBe(1);
  });
});
