import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SlugcError } from '../errors.js';
import type { Logger } from '../log.js';

/** Who holds a lock. */
interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** Give up after this long (default 10 minutes, Heroku's old compile limit was 15). */
  timeoutMs?: number;
  /** How often to look again while waiting. */
  pollMs?: number;
  log?: Logger;
  signal?: AbortSignal;
}

/** A held lock; release it when done. */
export interface Lock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes a lock on a cache namespace: `mkdir` is atomic, so exactly one build
 * creates `<dir>.lock`; the others wait (saying so), up to a timeout. A lock
 * left by a killed process on this host (its pid is gone) is taken over.
 */
export async function acquireLock(dir: string, options: LockOptions = {}): Promise<Lock> {
  const lockDir = `${dir}.lock`;
  const ownerFile = path.join(lockDir, 'owner.json');
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const pollMs = options.pollMs ?? 200;
  const started = Date.now();
  let said = false;
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      const owner: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
      fs.writeFileSync(ownerFile, JSON.stringify(owner));
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          fs.rmSync(lockDir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner: LockOwner | null = null;
    try {
      owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as LockOwner;
    } catch {
      owner = null; // being created right now, or left half-written by a killed process
    }
    const stale = owner ? owner.host === os.hostname() && !alive(owner.pid) : lockAgeMs(lockDir) > 5_000;
    if (stale) {
      options.log?.warn(`Taking over a stale cache lock${owner ? ` left by process ${owner.pid}` : ''}.`);
      // Rename first so two waiters cannot both remove and re-create it.
      const grave = `${lockDir}.stale-${process.pid}-${Date.now()}`;
      try {
        fs.renameSync(lockDir, grave);
        fs.rmSync(grave, { recursive: true, force: true });
      } catch {
        /* someone else took it over first */
      }
      continue;
    }
    if (!said) {
      options.log?.info(`Waiting for another build using this cache${owner ? ` (process ${owner.pid} since ${owner.since})` : ''}...`);
      said = true;
    }
    if (Date.now() - started > timeoutMs) {
      throw new SlugcError('SLUGC_CACHE_LOCKED', `Couldn't lock the cache ${dir}: another build${owner ? ` (process ${owner.pid} on ${owner.host})` : ''} has held it for more than ${Math.round(timeoutMs / 1000)} s.`, {
        hint: `Wait for it to finish, or remove ${lockDir} if no build is running.`,
      });
    }
    if (options.signal?.aborted) throw new SlugcError('SLUGC_ABORTED', "Couldn't lock the cache: the build was aborted.");
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function lockAgeMs(lockDir: string): number {
  try {
    return Date.now() - fs.statSync(lockDir).mtimeMs;
  } catch {
    return 0;
  }
}
