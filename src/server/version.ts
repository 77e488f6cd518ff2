// The product version: package.json version, suffixed with `_<build>` from a `build` file (cli.md §4).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Version of the package, e.g. `0.1.0`. */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'extplugtest' && pkg.version) return pkg.version;
    } catch {
      // try the next location (src/ vs dist/src/)
    }
  }
  return '0.0.0';
}

/** Version shown by the servers: package version plus `_<build>` when `cwd/build` is non-empty. */
export function productVersion(cwd: string): string {
  const base = packageVersion();
  try {
    const build = fs.readFileSync(path.join(cwd, 'build'), 'utf8').trim();
    if (build.length > 0) return `${base}_${build}`;
  } catch {
    // no build file
  }
  return base;
}
