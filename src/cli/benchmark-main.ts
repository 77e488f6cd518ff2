#!/usr/bin/env node
// The `benchmark-client` executable: many simulated CoAP/DTLS clients against one server (clients.md §3).
import { UsageError } from '../clients/common-options.js';
import { MissingUriError, parseBenchmarkArgs } from '../clients/benchmark/options.js';
import { EXIT_FAILED, runBenchmark } from '../clients/benchmark/run.js';
import { packageVersion } from '../server/version.js';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let cmd: ReturnType<typeof parseBenchmarkArgs>;
  try {
    cmd = parseBenchmarkArgs(args, process.env, packageVersion(), (text) => process.stdout.write(text));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err instanceof MissingUriError) process.stderr.write(`${err.message}\n\n${err.usage}\n`);
    else process.stderr.write(`${err.message}\n(see --help)\n`);
    return EXIT_FAILED;
  }
  if (!cmd) return 0;
  return runBenchmark(cmd, { out: (line) => process.stdout.write(line + '\n'), args, env: process.env });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(EXIT_FAILED);
  },
);
