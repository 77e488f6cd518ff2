// The old build beside the new one in the same bench run: `git archive <sha>` unpacked into a temp directory (no git
// state changes), the current node_modules symlinked into it, compiled with the current TypeScript; cached by sha
// (a later run reuses the directory when its build completed).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The commit the load section compares with by default (the commit before issue 10's work). */
export const DEFAULT_BASELINE = '3995914';

/** A compiled old build. */
export interface BaselineBuild {
  /** full commit hash */
  sha: string;
  /** the commit as given on the command line (e.g. 3995914) */
  ref: string;
  /** directory holding the unpacked commit */
  dir: string;
  /** its compiled output root (dist/) */
  distRoot: string;
  /** dist/src/cli/server-main.js of the build */
  serverMain: string;
  /** true when an earlier run's build was reused */
  cached: boolean;
  /** compile time of this run, ms (0 when cached) */
  buildMs: number;
  /** first lines of the compiler's complaints (the build is used when server-main.js was emitted anyway) */
  compilerWarnings: string[];
}

/** Marker written into the build directory once its build completed. */
const DONE_MARKER = '.extplugtest-baseline-complete';
/** The compile is bounded (a hung compiler must not hang the bench run). */
const COMPILE_TIMEOUT_MS = 10 * 60_000;

/** Runs a command; resolves with stdout, rejects with its output on failure or time-out. */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
    });
  });
}

/** The full hash of a commit of the repository at repoRoot (throws when unknown). */
export async function resolveCommit(repoRoot: string, ref: string): Promise<string> {
  if (!/^[\w./~^-]+$/.test(ref)) throw new Error(`--baseline: not a commit: ${ref}`);
  const r = await run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], repoRoot);
  const sha = r.stdout.trim();
  if (r.code !== 0 || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`--baseline: unknown commit ${ref}`);
  return sha;
}

/** Directory of the cached build of a commit. */
export function baselineDir(sha: string): string {
  return path.join(os.tmpdir(), `extplugtest-baseline-${sha}`);
}

/**
 * Prepares the build of `ref`: reuses a completed build in the temp directory, else unpacks the commit
 * (`git archive | tar -x`), symlinks the current node_modules and compiles with the current tsc
 * (`node node_modules/typescript/bin/tsc -p tsconfig.json`). Resolves with the paths of its dist/.
 */
export async function prepareBaseline(repoRoot: string, ref: string, log: (line: string) => void): Promise<BaselineBuild> {
  const sha = await resolveCommit(repoRoot, ref);
  const dir = baselineDir(sha);
  const distRoot = path.join(dir, 'dist');
  const serverMain = path.join(distRoot, 'src', 'cli', 'server-main.js');
  const done = (cached: boolean, buildMs: number, compilerWarnings: string[]): BaselineBuild => ({ sha, ref, dir, distRoot, serverMain, cached, buildMs, compilerWarnings });
  if (fs.existsSync(path.join(dir, DONE_MARKER)) && fs.existsSync(serverMain)) {
    log(`  baseline ${ref} (${sha.slice(0, 10)}): cached build in ${dir}`);
    return done(true, 0, []);
  }
  // a directory without the marker is an interrupted build: start again in a fresh staging directory
  const staging = fs.mkdtempSync(`${dir}.staging-`);
  try {
    log(`  baseline ${ref} (${sha.slice(0, 10)}): unpacking into ${dir} and compiling with the current tsc`);
    const tar = path.join(staging, '.source.tar');
    const archived = await run('git', ['archive', '--format=tar', '-o', tar, sha], repoRoot);
    if (archived.code !== 0) throw new Error(`git archive ${sha}: ${archived.stderr.trim()}`);
    const unpacked = await run('tar', ['-xf', tar, '-C', staging], staging);
    if (unpacked.code !== 0) throw new Error(`tar -x: ${unpacked.stderr.trim()}`);
    fs.rmSync(tar);
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(staging, 'node_modules'), 'dir');
    const t0 = performance.now();
    const tsc = await run(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], staging, COMPILE_TIMEOUT_MS);
    const buildMs = Math.round(performance.now() - t0);
    const warnings = tsc.code === 0 ? [] : (tsc.stdout + tsc.stderr).split('\n').filter(Boolean).slice(0, 5);
    if (!fs.existsSync(path.join(staging, 'dist', 'src', 'cli', 'server-main.js'))) {
      throw new Error(`compiling ${sha.slice(0, 10)} emitted no dist/src/cli/server-main.js (tsc exit ${tsc.code}):\n${warnings.join('\n')}`);
    }
    fs.writeFileSync(path.join(staging, DONE_MARKER), `${sha}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(staging, dir);
    } catch (err) {
      // another run finished the same build first: use that one
      if (!fs.existsSync(path.join(dir, DONE_MARKER))) throw err;
      fs.rmSync(staging, { recursive: true, force: true });
    }
    log(`  baseline ${ref}: compiled in ${buildMs} ms${warnings.length > 0 ? ` (tsc exit ${tsc.code}: ${warnings[0]})` : ''}`);
    return done(false, buildMs, warnings);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}
