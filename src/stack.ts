import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The build host's own stack name, read from `/etc/os-release`
 * (`ID-VERSION_ID`, e.g. `debian-12`, `ubuntu-24.04`); `unknown` when the
 * file is missing.
 */
export function hostStack(osRelease = '/etc/os-release'): string {
  try {
    const text = fs.readFileSync(osRelease, 'utf8');
    const get = (k: string) => new RegExp(`^${k}=("?)([^"\\n]*)\\1$`, 'm').exec(text)?.[2];
    const id = get('ID');
    const version = get('VERSION_ID');
    if (id && version) return `${id}-${version}`;
    if (id) return id;
  } catch {
    /* fall through */
  }
  return 'unknown';
}

/**
 * The commit the slug is built from: `SOURCE_VERSION` when set (as Heroku
 * sets it), else the source dir's git `HEAD`, else null.
 */
export function sourceCommit(sourceDir: string, env: Record<string, string | undefined>): string | null {
  if (env.SOURCE_VERSION) return env.SOURCE_VERSION;
  if (!fs.existsSync(path.join(sourceDir, '.git'))) return null;
  try {
    return execFileSync('git', ['-C', sourceDir, 'rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
