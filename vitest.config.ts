import { defineConfig } from 'vitest/config';

/** Whether this Node.js shares UDP ports between processes (SO_REUSEPORT: Node.js 22.12 or later, Linux). */
function workersSupported(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return process.platform === 'linux' && (major > 22 || (major === 22 && minor >= 12));
}

/** The suites that run again against a server of several workers (issue 13: "every plugtest case passes"; blue/green restore). */
const WORKER_SUITES = ['test/system/plugtest-*.test.ts', 'test/system/extended-resources.test.ts', 'test/system/restore-pair.test.ts'];

// Tests import the TypeScript sources directly; system tests spawn the built server (dist/).
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'] } },
      ...(workersSupported()
        ? [2, 4].map((n) => ({ extends: true as const, test: { name: `workers-${n}`, include: WORKER_SUITES, env: { EXTPLUGTEST_TEST_WORKERS: String(n) } } }))
        : []),
    ],
  },
});
