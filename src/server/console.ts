// The server console (cli.md §5): lines from stdin are echoed as `> <line>` and interpreted.
// Answers (help, unknown command) are plain text beside the echo; what the commands do is logged.
import readline from 'node:readline';
import type { Logger } from 'pino';

/** One interpreted console line. */
export type ConsoleCommand =
  | { kind: 'health' }
  | { kind: 'help' }
  | { kind: 'exit' }
  | { kind: 'save'; password: string }
  | { kind: 'load'; password: string }
  | { kind: 'unknown'; command: string };

/**
 * Interprets one line (without its line end). `save`/`load` are matched at the start of the line and
 * the rest, blanks included, is the password text (restart.md §3); only a trailing CR (CRLF input) is
 * dropped. The other commands are matched without trailing blanks; an empty line is the health dump.
 */
export function parseConsoleLine(line: string): ConsoleCommand {
  const raw = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (raw.startsWith('save')) return { kind: 'save', password: raw.slice(4) };
  if (raw.startsWith('load')) return { kind: 'load', password: raw.slice(4) };
  const command = raw.replace(/[ \t]+$/, '');
  if (command === '') return { kind: 'health' };
  if (command === 'help') return { kind: 'help' };
  if (command === 'exit') return { kind: 'exit' };
  return { kind: 'unknown', command };
}

/** The answer to `help`. */
export const CONSOLE_HELP = [
  'console commands:',
  '  <empty line>      log the health statistics of all endpoints now',
  '  save[<password>]  stop the servers and keep their DTLS connections in memory; the text right',
  '                    after "save" (blanks included) is the password, none = unencrypted',
  '  load[<password>]  restore the connections kept by save (same password) and start the servers',
  '  help              list the commands',
  '  exit              stop the servers and end the process',
].join('\n');

/** What the commands do. */
export interface ConsoleActions {
  health(): void;
  save(password: string): Promise<void>;
  load(password: string): Promise<void>;
  exit(): void;
}

/** Console options. */
export interface ConsoleOptions {
  input: NodeJS.ReadableStream;
  /** echo and answers (stdout) */
  write(text: string): void;
  actions: ConsoleActions;
  logger: Logger;
}

/**
 * Reads `input` line by line until EOF (which only stops reading, cli.md §5). `exit` acts at once; the
 * other commands run one after the other.
 */
export function startConsole(opts: ConsoleOptions): { close(): void } {
  const { write, actions, logger } = opts;
  let pending = Promise.resolve();
  const queue = (task: () => void | Promise<void>): void => {
    pending = pending.then(task).catch((err: unknown) => logger.error(`console: ${(err as Error).message}`));
  };
  const rl = readline.createInterface({ input: opts.input, terminal: false, crlfDelay: Infinity });
  rl.on('line', (line) => {
    const cmd = parseConsoleLine(line);
    write(`> ${line.endsWith('\r') ? line.slice(0, -1) : line}\n`);
    switch (cmd.kind) {
      case 'exit':
        actions.exit();
        break;
      case 'health':
        queue(() => actions.health());
        break;
      case 'save':
        queue(() => actions.save(cmd.password));
        break;
      case 'load':
        queue(() => actions.load(cmd.password));
        break;
      case 'help':
        write(CONSOLE_HELP + '\n');
        break;
      case 'unknown':
        write(`unknown command '${cmd.command}' (help lists the commands)\n`);
        break;
    }
  });
  return { close: () => rl.close() };
}
