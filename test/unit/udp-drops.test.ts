// Parsing of the OS UDP drop counters.
import { describe, expect, it } from 'vitest';
import { parseUdpDrops } from '../../src/server/udp-drops.js';

describe('udp drops', () => {
  it('sums IPv4 and IPv6 InErrors and RcvbufErrors', () => {
    const snmp = 'Ip: a b\nIp: 1 2\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 100 3 7 90 5 0\n';
    const snmp6 = 'Udp6InDatagrams  40\nUdp6InErrors   2\nUdp6RcvbufErrors  1\n';
    expect(parseUdpDrops(snmp, snmp6)).toEqual({ inErrors: 9, rcvbufErrors: 6 });
    expect(parseUdpDrops('', '')).toEqual({ inErrors: 0, rcvbufErrors: 0 });
  });
});
