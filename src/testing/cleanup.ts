import fs from 'node:fs';

const dirs = new Set<string>();
const groups = new Set<number>();
const closers = new Set<() => Promise<void> | void>();

/** Removes this dir at {@link cleanup} (and at process exit at the latest). */
export function trackDir(dir: string): string {
  dirs.add(dir);
  return dir;
}

/** Kills this process group at {@link cleanup} (and at process exit at the latest). */
export function trackProcessGroup(pid: number): void {
  groups.add(pid);
}

/** Forgets a process group that was stopped. */
export function untrackProcessGroup(pid: number): void {
  groups.delete(pid);
}

/** Runs this at {@link cleanup}. */
export function trackCloser(f: () => Promise<void> | void): () => void {
  closers.add(f);
  return () => closers.delete(f);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/**
 * Stops every process and server the kit started and removes every temp dir
 * it made. Call it after each test (`afterEach(cleanup)`); it also runs when
 * the process exits, so nothing is left behind after a crashed test run.
 */
export async function cleanup(): Promise<void> {
  for (const pid of groups) killGroup(pid);
  groups.clear();
  for (const c of [...closers]) {
    closers.delete(c);
    await c();
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

process.once('exit', () => {
  for (const pid of groups) killGroup(pid);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
