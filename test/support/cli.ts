// What the library's own tests need beyond slugc/testing: where the repo and
// the built CLI are, the suite's shared cache, and running the CLI.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const cliBin = path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js');

/** The cache dir shared by end-to-end tests (see global-setup.ts). */
export function sharedCacheDir(): string {
  const dir = process.env.SLUGC_TEST_CACHE ?? path.join(repoRoot, '.slugc-cache', 'test-cache');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs the built CLI and returns its exit code and output. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--', cliBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
