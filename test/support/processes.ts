// Processes that tests start on purpose so that they escape (background jobs,
// other sessions): where they record their pids, whether they still run, and
// killing them after each test whatever the test did.
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from 'slugc/testing';

const pidFiles: string[] = [];

/** Kills the processes the tests' commands recorded in {@link pidFile}s (they may have escaped on purpose). */
export function killRecorded(): void {
  for (const f of pidFiles.splice(0)) {
    try {
      const pid = Number(fs.readFileSync(f, 'utf8').trim());
      if (pid > 1) process.kill(pid, 'SIGKILL');
    } catch {
      /* never started, or already gone */
    }
  }
}

/** A file a command writes a background process's pid to; that process is killed by {@link killRecorded}. */
export function pidFile(): string {
  const f = path.join(tempDir(), 'pid');
  pidFiles.push(f);
  return f;
}

/** True while `pid` runs (a zombie waiting for its reaper counts as gone: this container's PID 1 does not reap). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits up to `ms` for `pid` to be gone. */
export async function gone(pid: number, ms = 3000): Promise<boolean> {
  for (let waited = 0; waited <= ms; waited += 50) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
