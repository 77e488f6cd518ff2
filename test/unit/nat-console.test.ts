// Console command texts of the NAT (clients.md §7.4), against a fake NAT.
import { describe, expect, it } from 'vitest';
import { numericEndpoint, type Endpoint } from '../../src/nat/address.js';
import { addDestination, checkBalancer, createBalancer, noteSent, removeDestination } from '../../src/nat/balancer.js';
import { HELP_TEXT, runCommand, runCommandAsync, type NatControl } from '../../src/nat/console.js';
import { zeroCounters } from '../../src/nat/stats.js';

function fake(): NatControl & { calls: string[]; time: number } {
  const balancer = createBalancer(() => 0);
  const counters = zeroCounters();
  let reverse = false;
  const ctl = {
    calls: [] as string[],
    time: 0,
    balancer,
    entryCount: () => 7,
    isReverse: () => reverse,
    setReverse: (on: boolean) => {
      reverse = on;
    },
    counters: () => counters,
    now: () => ctl.time,
    clear: (n?: number) => {
      ctl.calls.push(`clear ${n}`);
      return n === undefined ? 7 : Math.min(n, 7);
    },
    reassign: () => {
      ctl.calls.push('reassign');
      return 7;
    },
    rebalance: () => ({ reassigned: 3, entries: 7 }),
    add: (ep: Endpoint) => addDestination(balancer, ep) !== undefined,
    remove: (ep: Endpoint) => removeDestination(balancer, ep.key) !== undefined,
    exit: () => {
      ctl.calls.push('exit');
    },
    names: new Map<string, Endpoint>(),
  };
  return ctl;
}

describe('NAT console', () => {
  it('help and ?', () => {
    const ctl = fake();
    expect(runCommand(ctl, 'help')).toBe(HELP_TEXT);
    expect(runCommand(ctl, '?')).toBe(HELP_TEXT);
    expect(HELP_TEXT.split('\n')).toHaveLength(9);
    expect(HELP_TEXT).toContain('reverse (on|off) - enable/disable reverse address updates.');
  });

  it('info lists active, stale, probing and pending destinations plus statistics', () => {
    const ctl = fake();
    const a = addDestination(ctl.balancer, numericEndpoint('127.0.0.2', 1))!;
    const s = addDestination(ctl.balancer, numericEndpoint('127.0.0.3', 2))!;
    addDestination(ctl.balancer, numericEndpoint('::1', 3));
    a.usage = 4;
    s.usage = 2;
    expect(runCommand(ctl, '').split('\n')).toEqual([
      '7 NAT entries, reverse address update disabled.',
      '3 destinations.',
      'Destination: 127.0.0.2:1, usage: 4',
      'Destination: 127.0.0.3:2, usage: 2',
      'Destination: [::1]:3, usage: 0',
      expect.stringMatching(/^statistics: 0 forwarded, 0 backwarded, .* 0 wrongly routed .* 0 expired, 0 refused entries\.$/),
    ]);
    noteSent(s, 0);
    checkBalancer(ctl.balancer, 1001, 1000);
    ctl.time = 4500;
    const info = runCommand(ctl, 'info').split('\n');
    expect(info[1]).toBe('2 destinations, 1 stale destinations.');
    expect(info).toContain('Stale      : 127.0.0.3:2, usage: 2, last usage: 3[s] STALE');
    checkBalancer(ctl.balancer, 4500, 1000);
    expect(runCommand(ctl, 'info').split('\n')).toContain('Probing    : 127.0.0.3:2, usage: 2, last usage: -1[s] PROBING');
  });

  it('exit and quit', () => {
    const ctl = fake();
    expect(runCommand(ctl, 'exit')).toBe('>> exit');
    expect(runCommand(ctl, 'quit')).toBe('>> quit');
    expect(ctl.calls).toEqual(['exit', 'exit']);
  });

  it('clear, clear n, reassign, rebalance', () => {
    const ctl = fake();
    expect(runCommand(ctl, 'clear')).toBe('7 - NAT entries dropped.');
    expect(runCommand(ctl, 'clear 2')).toBe('2 - NAT entries dropped.');
    expect(runCommand(ctl, 'clear x')).toMatch(/not a number/);
    expect(runCommand(ctl, 'reassign')).toBe('');
    expect(runCommand(ctl, 'rebalance')).toBe('reassigned 3 destinations of 7.');
    expect(ctl.calls).toEqual(['clear undefined', 'clear 2', 'reassign']);
  });

  it('add and remove literals; silent when nothing changes', () => {
    const ctl = fake();
    expect(runCommand(ctl, 'add 127.0.0.5:5684')).toBe('127.0.0.5:5684 added');
    expect(runCommand(ctl, 'add 127.0.0.5:5684')).toBe('');
    expect(runCommand(ctl, 'add [::1]:5684')).toBe('[::1]:5684 added');
    expect(runCommand(ctl, 'remove [0:0:0:0:0:0:0:1]:5684')).toBe('[0:0:0:0:0:0:0:1]:5684 removed');
    expect(runCommand(ctl, 'remove 127.0.0.6:5684')).toBe('');
    expect(runCommand(ctl, 'add :5684')).toMatch(/<any>/);
    expect(runCommand(ctl, 'add nohost')).toMatch(/is not an address/);
    expect(runCommand(ctl, 'add localhost:5684')).toMatch(/resolve it first/);
  });

  it('async add resolves host names', async () => {
    const ctl = fake();
    expect(await runCommandAsync(ctl, 'add localhost:5999')).toBe('localhost:5999 added');
    expect(ctl.balancer.active).toHaveLength(1);
    expect(runCommand(ctl, 'remove localhost:5999')).toBe('localhost:5999 removed');
    expect(await runCommandAsync(ctl, 'add nonexistent.invalid:1')).toBe('Address: nonexistent.invalid:1 is unresolved!');
  });

  it('reverse on/off prints info', () => {
    const ctl = fake();
    expect(runCommand(ctl, 'reverse on').split('\n')[0]).toBe('7 NAT entries, reverse address update enabled.');
    expect(runCommand(ctl, 'reverse off').split('\n')[0]).toBe('7 NAT entries, reverse address update disabled.');
  });

  it('unknown commands get a hint', () => {
    expect(runCommand(fake(), 'bogus')).toBe("unknown command 'bogus', use help or ?");
  });
});
