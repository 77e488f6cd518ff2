// --workers N (issue 13): parsed as an integer 1..256; one worker on a Node.js without SO_REUSEPORT for UDP (with a
// warning); the set-ups that cannot run with several workers yet are named.
import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../../src/cli/options.js';
import { decideWorkers, workerConflicts, type WorkerSetup } from '../../src/workers/worker-count.js';

describe('--workers', () => {
  it('defaults to 1 and takes integers from 1 to 256', () => {
    const d = parseServerArgs([]);
    expect(d.kind === 'ok' && d.options.workers).toBe(1);
    const w = parseServerArgs(['--workers', '4']);
    expect(w.kind === 'ok' && w.options.workers).toBe(4);
    for (const bad of ['0', '257', '1.5', 'two', '-1']) expect(parseServerArgs(['--workers', bad]).kind, bad).toBe('error');
  });

  it('one worker: nothing to say', () => {
    expect(decideWorkers(1, '20.19.2', 'linux')).toEqual({ workers: 1 });
    expect(decideWorkers(1, '24.22.3', 'linux')).toEqual({ workers: 1 });
  });

  it('Node.js 20: one worker and a warning naming the version it needs', () => {
    const d = decideWorkers(4, '20.19.2', 'linux');
    expect(d).toEqual({ workers: 1, warning: expect.stringContaining('--workers 4: Node.js 20.19.2 on linux cannot share a UDP port') });
    expect('warning' in d && d.warning).toContain('running one worker');
  });

  it('Node.js 24 on Linux: the workers asked for', () => {
    expect(decideWorkers(2, '24.22.3', 'linux')).toEqual({ workers: 2 });
    expect(decideWorkers(2, '22.12.0', 'linux')).toEqual({ workers: 2 });
    expect(decideWorkers(2, '22.11.0', 'linux').workers).toBe(1);
    expect(decideWorkers(2, '24.22.3', 'darwin').workers).toBe(1);
  });
});

describe('what cannot run with several workers yet', () => {
  const plain: WorkerSetup = { cluster: false, storeFile: false, restore: false, monitor: false, cidLength: 6, nodeId: undefined };

  it('the default set-up runs with any number of workers; one worker runs with anything', () => {
    expect(workerConflicts(4, plain)).toEqual([]);
    expect(workerConflicts(4, { ...plain, cidLength: 0 })).toEqual([]);
    expect(workerConflicts(1, { cluster: true, storeFile: true, restore: true, monitor: true, cidLength: 3, nodeId: 7 })).toEqual([]);
  });

  it('each conflict is named with what to do', () => {
    const all = workerConflicts(2, { cluster: true, storeFile: true, restore: true, monitor: true, cidLength: 4, nodeId: 7 });
    expect(all).toEqual([
      '--workers 2: several workers inside a DTLS cluster node are not available in this version yet; use --workers 1 with the cluster flags',
      '--workers 2: --store-file with several workers is not available in this version yet; use --workers 1',
      '--workers 2: the restore service with several workers is not available in this version yet; use --workers 1',
      '--workers 2: --k8s-monitor with several workers is not available in this version yet; use --workers 1',
      '--workers 2: the workers route by the node-id byte of the CIDs, which needs DTLS.CONNECTION_ID_LENGTH of at least 5 (or 0: no CIDs), not 4',
      '--workers 2: each worker writes its own index as the CIDs\' node-id; DTLS.CONNECTION_ID_NODE_ID (7) must be empty',
    ]);
  });
});
