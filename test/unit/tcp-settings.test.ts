// The TCP. keys (config.md §5) as the TCP/TLS endpoint settings of each server.
import { describe, expect, it } from 'vitest';
import { parseProperties, renderProperties } from '../../src/config/index.js';
import { tcpSettingsFor } from '../../src/tcp/settings.js';

describe('tcpSettingsFor', () => {
  it('gives both servers the config.md §5 values and the connection bounds', () => {
    const p = parseProperties('');
    for (const server of ['extended', 'plugtest'] as const) {
      expect(tcpSettingsFor(p, server)).toEqual({
        maxConnections: 50000,
        idleTimeout: 3_600_000,
        handshakeTimeout: 60_000,
        sessionTimeout: 3_600_000,
        maxWriteBuffer: 262144,
        clientAuth: 'WANTED',
      });
    }
  });

  it('reads the file, and --client-auth overrides the mode', () => {
    const p = parseProperties('TCP.MAX_CONNECTIONS=3\nTCP.CONNECTION_IDLE_TIMEOUT=0[s]\nTCP.HANDSHAKE_TIMEOUT=5[s]\nTCP.CLIENT_AUTHENTICATION_MODE=NONE\n');
    expect(tcpSettingsFor(p, 'extended')).toMatchObject({ maxConnections: 3, idleTimeout: 0, handshakeTimeout: 5000, clientAuth: 'NONE' });
    expect(tcpSettingsFor(p, 'extended', 'NEEDED').clientAuth).toBe('NEEDED');
  });

  it('refuses a connection bound below 1', () => {
    expect(() => parseProperties('TCP.MAX_CONNECTIONS=0\n')).toThrow(/TCP.MAX_CONNECTIONS=0/);
  });

  it('writes every TCP. key into the properties file', () => {
    const keys = renderProperties()
      .split('\n')
      .filter((l) => l.startsWith('TCP.'))
      .map((l) => l.slice(0, l.indexOf('=')));
    expect(keys).toEqual([
      'TCP.CLIENT_AUTHENTICATION_MODE',
      'TCP.CONNECTION_IDLE_TIMEOUT',
      'TCP.CONNECT_TIMEOUT',
      'TCP.HANDSHAKE_TIMEOUT',
      'TCP.MAX_CONNECTIONS',
      'TCP.MAX_WRITE_BUFFER_SIZE',
      'TCP.SESSION_TIMEOUT',
      'TCP.VERIFY_SERVER_CERTIFICATES_SUBJECT',
      'TCP.WORKER_THREADS',
    ]);
  });
});
