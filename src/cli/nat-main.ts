#!/usr/bin/env node
// The `nat` executable: UDP NAT / load balancer test tool with a console on stdin (clients.md §7).
import readline from 'node:readline';
import pino from 'pino';
import { formatHostPort } from '../nat/address.js';
import { parseNatArgs, startNat, type Nat } from '../nat/nat.js';

function print(text: string): void {
  if (text !== '') process.stdout.write(`${text}\n`);
}

/** Writes pending stdout and ends the process. */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

async function main(): Promise<number | undefined> {
  const parsed = parseNatArgs(process.argv.slice(2));
  if (parsed.kind === 'usage') {
    print(parsed.text);
    return 0;
  }
  for (const line of parsed.lines) print(line);
  if (parsed.kind === 'error') {
    process.stderr.write(`${parsed.message}\n`);
    return 1;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: undefined }, pino.destination(2));
  let nat: Nat;
  try {
    nat = await startNat(parsed.options, { logger });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  const shutdown = (): void => {
    void nat.stop().then(() => exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // announced only once the signal handlers are in place: a SIGTERM sent on seeing this line must stop the NAT cleanly
  for (const l of nat.listeners) print(`listening on ${formatHostPort(l.address, l.port)}`);

  // console lines run one after the other; at end of input the NAT keeps running (like the reference)
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue.then(async () => {
      if (nat.stopping) return;
      try {
        print(await nat.commandAsync(line));
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
      }
      if (nat.stopping) {
        rl.close();
        await nat.stopped;
        exit(0);
      }
    });
  });
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    exit(1);
  },
);
