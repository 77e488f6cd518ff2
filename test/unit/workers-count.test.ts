// --workers N (issue 13): parsed as an integer 1..256; one worker on a Node.js without SO_REUSEPORT for UDP (with a
// warning), a refusal naming what is missing where more than one could share the port.
import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../../src/cli/options.js';
import { decideWorkers } from '../../src/workers/worker-count.js';

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

  it('Node.js 24: more than one is refused with what is missing', () => {
    const d = decideWorkers(2, '24.22.3', 'linux');
    expect('refused' in d && d.refused).toBe(
      '--workers 2: more than one worker is not available in this version yet (routing by CID between workers and the state they share are missing); use --workers 1',
    );
  });
});
