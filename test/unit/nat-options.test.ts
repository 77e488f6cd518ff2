// Command line of the NAT tool (clients.md §7.1).
import { describe, expect, it } from 'vitest';
import { LB_TIMEOUT_MS, MAX_NAT_ENTRIES, NAT_TIMEOUT_MS, natUsage, parseNatArgs, type NatArgsResult } from '../../src/nat/options.js';

function ok(result: NatArgsResult): Extract<NatArgsResult, { kind: 'ok' }> {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result;
}

function error(result: NatArgsResult): Extract<NatArgsResult, { kind: 'error' }> {
  if (result.kind !== 'error') throw new Error(`expected error, got ${JSON.stringify(result)}`);
  return result;
}

describe('parseNatArgs', () => {
  it('prints the usage with fewer than 2 arguments', () => {
    for (const argv of [[], [':5784']]) {
      const r = parseNatArgs(argv);
      expect(r.kind).toBe('usage');
      if (r.kind === 'usage') expect(r.text).toBe(natUsage());
    }
    const usage = natUsage();
    for (const word of ['-r', '-x', '-tnat=', '-tlb=', '-n=', '-d=', '-f=', '-b=', '-s=', '--cid=', '--']) {
      expect(usage).toContain(word);
    }
    expect(usage).toContain(`Default ${NAT_TIMEOUT_MS}[ms]`);
    expect(usage).toContain(`Default ${LB_TIMEOUT_MS}[ms]`);
    expect(usage).toContain(`Default ${MAX_NAT_ENTRIES}`);
  });

  it('wildcard form: :port and destinations, IPv6 in brackets', () => {
    const r = ok(parseNatArgs([':5784', 'localhost:15784', '[::1]:25784']));
    expect(r.options.binds).toEqual([':5784']);
    expect(r.options.destinations).toEqual(['localhost:15784', '[::1]:25784']);
    expect(r.lines).toEqual(['in : :5784 => <any>:5784', 'out: localhost:15784 => localhost:15784', 'out: [::1]:25784 => [::1]:25784']);
    expect(r.options.reverse).toBeUndefined();
  });

  it('explicit bind list ended by --', () => {
    const r = ok(parseNatArgs(['[::1]:5684', '127.0.0.1:5684', '--', 'node1:5684', 'node2:5784', '-r']));
    expect(r.options.binds).toEqual(['[::1]:5684', '127.0.0.1:5684']);
    expect(r.options.destinations).toEqual(['node1:5684', 'node2:5784']);
    expect(r.options.reverse).toBe(true);
  });

  it('explicit bind list without -- is an error', () => {
    expect(error(parseNatArgs(['127.0.0.1:5684', 'node1:5684'])).message).toBe('Missing destination!');
    expect(error(parseNatArgs(['127.0.0.1:5684', '--'])).message).toBe('Missing destination!');
  });

  it('rejects bad addresses', () => {
    expect(error(parseNatArgs([':5784', '::1:5684'])).message).toMatch(/brackets/);
    expect(error(parseNatArgs([':5784', 'host:99999'])).message).toMatch(/invalid port/);
    expect(error(parseNatArgs([':5784', ':15784'])).message).toMatch(/<any>/);
  });

  it('prints a confirmation line per option, after the address lines', () => {
    const r = ok(
      parseNatArgs([':5784', 'h:1', '-r', '-x', '-tnat=1000', '-tlb=2000', '-n=50', '-f=10', '-b=20', '-s=100:50', '-q', '--cid=1=h:1']),
    );
    expect(r.lines).toEqual([
      'in : :5784 => <any>:5784',
      'out: h:1 => h:1',
      'enable NAT reverse update.',
      'enable DTLS filter.',
      'NAT timeout 1000[ms].',
      'LoadBalancer timeout 2000[ms].',
      'NAT max. entries 50.',
      'dropping 10% of forward messages.',
      'dropping 20% of backwards messages.',
      'size limit 100 bytes, 50 %.',
      "option '-q' unknown!",
      'CID load balancer: node-id 1 => h:1.',
    ]);
    expect(r.options).toMatchObject({
      reverse: true,
      dtlsFilter: true,
      natTimeoutMs: 1000,
      lbTimeoutMs: 2000,
      maxEntries: 50,
      dropForward: 10,
      dropBackward: 20,
      sizeLimit: 100,
      sizeLimitPercent: 50,
      cid: [{ nodeId: 1, destination: 'h:1' }],
    });
  });

  it('-d drops both directions and excludes -f/-b', () => {
    const r = ok(parseNatArgs([':1', 'h:1', '-d=30', '-f=10', '-b=5']));
    expect(r.options.dropForward).toBe(30);
    expect(r.options.dropBackward).toBe(30);
    expect(r.lines.slice(2)).toEqual(['dropping 30% of messages.', 'dropping already provided!', 'dropping already provided!']);
    const r2 = ok(parseNatArgs([':1', 'h:1', '-f=10', '-d=30']));
    expect(r2.options.dropForward).toBe(10);
    expect(r2.options.dropBackward).toBeUndefined();
    expect(r2.lines.slice(2)).toEqual(['dropping 10% of forward messages.', 'dropping already provided!']);
  });

  it('values without = and the default size-limit probability', () => {
    const r = ok(parseNatArgs([':1', 'h:1', '-d7', '-s500', '-tnat0']));
    expect(r.options).toMatchObject({ dropForward: 7, dropBackward: 7, sizeLimit: 500, sizeLimitPercent: 100, natTimeoutMs: 0 });
    expect(r.lines).toContain('size limit 500 bytes, 100 %.');
  });

  it('bad option values are errors, lines so far are kept', () => {
    const e = error(parseNatArgs([':1', 'h:1', '-r', '-d=abc']));
    expect(e.message).toMatch(/invalid number 'abc'/);
    expect(e.lines).toContain('enable NAT reverse update.');
    expect(error(parseNatArgs([':1', 'h:1', '-d=150'])).message).toMatch(/150% out of range \[0\.\.\.100\]/);
    expect(error(parseNatArgs([':1', 'h:1', '-s=10:101'])).message).toMatch(/out of range/);
    expect(error(parseNatArgs([':1', 'h:1', '-n=0'])).message).toMatch(/at least 1/);
    expect(error(parseNatArgs([':1', 'h:1', '-tnat=-5'])).message).toMatch(/invalid number/);
  });

  it('unknown options do not stop parsing', () => {
    const r = ok(parseNatArgs([':1', 'h:1', '--foo', '-tx', '-r']));
    expect(r.lines).toContain("option '--foo' unknown!");
    expect(r.lines).toContain("option '-tx' unknown!");
    expect(r.options.reverse).toBe(true);
  });

  it('--cid: comma list, repeated options, separate value, destinations optional', () => {
    const r = ok(parseNatArgs([':1', '--cid=1=127.0.0.2:5684,2=[::1]:5684', '--cid', '3=h:7', '--cid=1=127.0.0.2:5684']));
    expect(r.options.cid).toEqual([
      { nodeId: 1, destination: '127.0.0.2:5684' },
      { nodeId: 2, destination: '[::1]:5684' },
      { nodeId: 3, destination: 'h:7' },
    ]);
    expect(r.options.destinations).toEqual([]);
    expect(r.lines).toContain('CID load balancer: node-id 1 => 127.0.0.2:5684, node-id 2 => [::1]:5684.');
    expect(r.lines).toContain('CID load balancer: node-id 3 => h:7.');
  });

  it('--cid errors', () => {
    expect(error(parseNatArgs([':1', 'h:1', '--cid=256=h:1'])).message).toMatch(/node-id 0\.\.255/);
    expect(error(parseNatArgs([':1', 'h:1', '--cid=x'])).message).toMatch(/<node-id>=<host:port>/);
    expect(error(parseNatArgs([':1', 'h:1', '--cid=1=h:1,1=h:2'])).message).toMatch(/mapped twice/);
    expect(error(parseNatArgs([':1', 'h:1', '--cid=1=h'])).message).toMatch(/not an address/);
    expect(error(parseNatArgs([':1', 'h:1', '--cid'])).message).toMatch(/needs/);
    expect(error(parseNatArgs([':1', '-r'])).message).toBe('Missing destination!');
  });
});
