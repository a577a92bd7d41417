import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SlugcError } from './errors.js';
import { extractArchive } from './archive/extract.js';
import { metadataPathFor } from './package.js';
import { readProcfile } from './release.js';

/** How {@link spawnDyno} starts a process. */
export interface DynoOptions {
  /** The unpacked app dir: the process's `HOME` and working dir, as `/app` on a dyno. */
  appDir: string;
  /** The command, run by bash after `.profile.d/*.sh` and `.profile` are sourced. */
  command: string;
  /** `PORT`; default 5000. */
  port?: number;
  /** Config vars. */
  env?: Record<string, string>;
  /** `PATH` before `.profile.d` adds to it; default `/usr/local/bin:/usr/bin:/bin`. */
  path?: string;
  /** Default: pipe stdout and stderr. */
  stdio?: StdioOptions;
}

/**
 * Starts a process the way a dyno does: `bash -c` in the app dir with `HOME`
 * set to it and `PORT` set, the config vars in the env, `.profile.d/*.sh`
 * sourced (in name order) and then `$HOME/.profile`. It runs in its own
 * process group, so the whole group can be stopped.
 */
export function spawnDyno(opts: DynoOptions): ChildProcess {
  const script = [
    'cd "$HOME" || exit 1',
    'for f in "$HOME"/.profile.d/*.sh; do [ -r "$f" ] && . "$f"; done',
    '[ -r "$HOME/.profile" ] && . "$HOME/.profile"',
    opts.command,
  ].join('\n');
  return spawn('/bin/bash', ['-c', script], {
    cwd: opts.appDir,
    env: { ...(opts.env ?? {}), HOME: opts.appDir, PORT: String(opts.port ?? 5000), PATH: opts.path ?? '/usr/local/bin:/usr/bin:/bin', DYNO: opts.env?.DYNO ?? 'run.1' },
    detached: true,
    stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
}

/** Unpacks a slug (safely) into `dest`; returns the `app` dir inside it. */
export async function unpackSlug(slug: string, dest: string): Promise<string> {
  // The same rule as `slugc build`, which packs and warns about links out of the app.
  await extractArchive(slug, dest, { format: 'tar.gz', allowLinksOut: true });
  const app = path.join(dest, 'app');
  if (!fs.existsSync(app)) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't find ./app in ${slug}: it is not a slug.`, { hint: 'Pass a slug.tgz made by slugc build (every entry under ./app/).' });
  }
  return app;
}

/** A slug's process types: from `<name>.json` beside it, else its Procfile. */
export function slugProcessTypes(appDir: string, slugFile?: string): Record<string, string> {
  if (slugFile) {
    try {
      const meta = JSON.parse(fs.readFileSync(metadataPathFor(slugFile), 'utf8')) as { process_types?: Record<string, string> };
      if (meta.process_types) return meta.process_types;
    } catch {
      /* no slug.json beside it: fall back to the Procfile */
    }
  }
  return readProcfile(appDir) ?? {};
}
