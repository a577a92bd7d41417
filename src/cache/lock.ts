import crypto from 'node:crypto';
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
  /** Unique per acquisition: release and takeover check it, so nobody removes a lock they do not hold. */
  nonce?: string;
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
  /** Unique to this holding: the build puts it in its commands' env as `SLUGC_BUILD_ID`, so orphans can be found. */
  readonly id: string;
  release(): void;
}

/** The env var that marks every process a build started (with the build's lock id). */
export const BUILD_ID_VAR = 'SLUGC_BUILD_ID';

/**
 * Kills what is left of a build that was killed (SIGKILL, OOM) while its
 * buildpack commands ran on: every process whose env carries
 * `SLUGC_BUILD_ID=<id>` (their own sessions included), then waits up to
 * `waitMs` for them to go. A build taking over a stale lock calls this, so
 * it never shares the cache with an orphan still writing to it. Linux only
 * (`/proc`); returns the pids it killed.
 */
export function killOrphans(id: string, waitMs = 5_000): number[] {
  const marker = `${BUILD_ID_VAR}=${id}`;
  const find = (): number[] => {
    let pids: string[];
    try {
      pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
    } catch {
      return [];
    }
    const found: number[] = [];
    for (const p of pids) {
      if (Number(p) === process.pid) continue;
      try {
        if (fs.readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(marker)) found.push(Number(p));
      } catch {
        /* gone, or not ours to read */
      }
    }
    return found;
  };
  const killed = find();
  for (const pid of killed) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* not a group leader, or gone */
      }
    }
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && killed.some((pid) => alive(pid) && !isZombie(pid))) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  return killed;
}

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
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
    const held = tryLock(dir);
    if (held) return held;
    // null: being created right now, or left half-written by a killed process.
    const owner = readOwner(ownerFile);
    const stale = owner ? owner.host === os.hostname() && !alive(owner.pid) : lockAgeMs(lockDir) > 5_000;
    if (stale) {
      options.log?.warn(`Taking over a stale cache lock${owner ? ` left by process ${owner.pid}` : ''}.`);
      if (owner?.nonce) {
        const killed = killOrphans(owner.nonce);
        if (killed.length) options.log?.warn(`Stopped ${killed.length} process${killed.length > 1 ? 'es' : ''} the killed build left running (${killed.join(', ')}), so nothing else writes to this cache.`);
      }
      // Rename first so two waiters cannot both remove and re-create it; then check that what
      // was renamed is the stale lock seen above, not a fresh one another waiter just made.
      const grave = `${lockDir}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
      try {
        fs.renameSync(lockDir, grave);
      } catch {
        continue; // someone else took it over first
      }
      const moved = readOwner(path.join(grave, 'owner.json'));
      if (owner && moved && moved.nonce !== owner.nonce) {
        try {
          fs.renameSync(grave, lockDir); // a live lock: put it back
        } catch {
          /* the dir was re-created meanwhile; the live owner's release() checks its nonce */
        }
      } else {
        fs.rmSync(grave, { recursive: true, force: true });
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

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

/**
 * Takes the lock on `dir` if it is free, without waiting; null when another
 * build holds it.
 */
export function tryLock(dir: string): Lock | null {
  const lockDir = `${dir}.lock`;
  const ownerFile = path.join(lockDir, 'owner.json');
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  try {
    fs.mkdirSync(lockDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw e;
  }
  const nonce = crypto.randomBytes(8).toString('hex');
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), nonce };
  fs.writeFileSync(ownerFile, JSON.stringify(owner));
  let released = false;
  return {
    id: nonce,
    release() {
      if (released) return;
      released = true;
      // Only our own lock: after a (wrong) takeover it may be someone else's now.
      if (readOwner(ownerFile)?.nonce === nonce) fs.rmSync(lockDir, { recursive: true, force: true });
    },
  };
}
