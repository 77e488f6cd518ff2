// Reads the OS UDP receive-drop counters (Linux /proc/net/snmp, /proc/net/snmp6) and logs increases.
import fs from 'node:fs';
import type { Logger } from 'pino';

/** UDP error counters of the OS (undefined fields where the platform has none). */
export interface UdpDrops {
  inErrors: number;
  rcvbufErrors: number;
}

/** Parses the Udp lines of /proc/net/snmp and the Udp6 lines of /proc/net/snmp6. */
export function parseUdpDrops(snmp: string, snmp6: string): UdpDrops {
  const drops: UdpDrops = { inErrors: 0, rcvbufErrors: 0 };
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp: '));
  if (lines.length >= 2) {
    const names = lines[0]!.split(/\s+/).slice(1);
    const values = lines[1]!.split(/\s+/).slice(1).map(Number);
    drops.inErrors += values[names.indexOf('InErrors')] ?? 0;
    drops.rcvbufErrors += values[names.indexOf('RcvbufErrors')] ?? 0;
  }
  for (const line of snmp6.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === 'Udp6InErrors') drops.inErrors += Number(value) || 0;
    if (name === 'Udp6RcvbufErrors') drops.rcvbufErrors += Number(value) || 0;
  }
  return drops;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Polls the counters every `interval` ms and warns when drops increased; stop() ends it. */
export function startUdpDropsReader(interval: number, logger: Logger): { stop(): void } {
  if (!fs.existsSync('/proc/net/snmp') || interval <= 0) return { stop() {} };
  let last = parseUdpDrops(read('/proc/net/snmp'), read('/proc/net/snmp6'));
  const timer = setInterval(() => {
    const now = parseUdpDrops(read('/proc/net/snmp'), read('/proc/net/snmp6'));
    const inErrors = now.inErrors - last.inErrors;
    const rcvbuf = now.rcvbufErrors - last.rcvbufErrors;
    if (inErrors > 0 || rcvbuf > 0) logger.warn({ inErrors, rcvbufErrors: rcvbuf }, 'OS dropped UDP datagrams');
    last = now;
  }, interval);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
