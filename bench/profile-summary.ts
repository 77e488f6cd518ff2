// Summarizes a V8 .cpuprofile (node --cpu-prof): top functions by self time and top files by inclusive time.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Minimal shape of a V8 CPU profile. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** One summary line: a share of the profiled time and its label. */
export interface ProfileEntry {
  percent: number;
  label: string;
}

/** Summary of a profile: total sampled ms, top self-time functions, top inclusive files/modules. */
export interface ProfileSummary {
  totalMs: number;
  self: ProfileEntry[];
  files: ProfileEntry[];
}

/** Shortens a script URL to dist/…, node_modules/… or node:…. */
function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
}

/** Summarizes a .cpuprofile file. */
export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfById = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    selfById.set(id, (selfById.get(id) ?? 0) + d);
    total += d;
  });
  const selfFn = new Map<string, number>();
  const inclFile = new Map<string, number>();
  for (const [id, t] of selfById) {
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`.trim();
    selfFn.set(key, (selfFn.get(key) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const fileKey = f.url ? shortUrl(f.url) : `(${f.functionName})`;
      if (fileKey === '((root))' || seen.has(fileKey)) continue;
      seen.add(fileKey);
      inclFile.set(fileKey, (inclFile.get(fileKey) ?? 0) + t);
    }
  }
  const rank = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([label, t]) => ({ percent: Math.round((1000 * t) / Math.max(1, total)) / 10, label }));
  return { totalMs: Math.round(total / 1000), self: rank(selfFn), files: rank(inclFile) };
}

/** Finds the newest .cpuprofile in a directory. */
export function findProfile(dir: string): string | undefined {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  files.sort((a, b) => fs.statSync(path.join(dir, b)).mtimeMs - fs.statSync(path.join(dir, a)).mtimeMs);
  return files[0] ? path.join(dir, files[0]) : undefined;
}

/** Printable lines of a summary. */
export function formatProfile(s: ProfileSummary): string[] {
  return [
    `profiled ${s.totalMs} ms; top self time:`,
    ...s.self.map((e) => `  ${e.percent.toFixed(1).padStart(5)}%  ${e.label}`),
    'inclusive time by script:',
    ...s.files.map((e) => `  ${e.percent.toFixed(1).padStart(5)}%  ${e.label}`),
  ];
}

/** CLI entry: `node dist/bench/profile-summary.js <file.cpuprofile|dir> [top]`. */
function main(): void {
  const arg = process.argv[2];
  if (!arg) {
    console.error('usage: profile-summary <file.cpuprofile|dir> [top]');
    process.exitCode = 2;
    return;
  }
  const file = fs.statSync(arg).isDirectory() ? findProfile(arg) : arg;
  if (!file) {
    console.error(`no .cpuprofile in ${arg}`);
    process.exitCode = 1;
    return;
  }
  console.log(formatProfile(summarizeProfile(file, Number(process.argv[3] ?? 20))).join('\n'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
