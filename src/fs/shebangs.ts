import fs from 'node:fs';
import path from 'node:path';

/** Options of {@link rewriteShebangs}. */
export interface RewriteShebangsOptions {
  /**
   * Which interpreters to rewrite, by their absolute path on the `#!` line.
   * Default: any path inside `root` (a build path such as
   * `/tmp/slugc-x/app/.heroku/python/bin/python3` that will not exist where
   * the slug runs).
   */
  match?: (interpreter: string) => boolean;
  /** With the default `match`: the dir whose paths must not stay in scripts (usually `ctx.appDir`). */
  root?: string;
}

/**
 * Rewrites absolute `#!` lines of the scripts directly in `dirs` to
 * `#!/usr/bin/env <name>` (`env -S` when the line has arguments), so
 * installed scripts (pip's console scripts, gem binstubs) run the
 * interpreter found on PATH wherever the slug is unpacked. Binaries,
 * symlinks and `#!/usr/bin/env` lines are left alone. Returns the rewritten
 * files.
 */
export function rewriteShebangs(dirs: readonly string[], options: RewriteShebangsOptions = {}): string[] {
  const root = options.root ? path.resolve(options.root) : undefined;
  const match = options.match ?? ((p: string) => root !== undefined && (p === root || p.startsWith(root + path.sep)));
  const rewritten: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const file = path.join(dir, n);
      const st = fs.lstatSync(file);
      if (!st.isFile()) continue;
      const fd = fs.openSync(file, 'r');
      const head = Buffer.alloc(512);
      const len = fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      const text = head.subarray(0, len).toString('latin1');
      const m = /^#!\s*(\/\S+)([ \t]+[^\n]*)?\n/.exec(text);
      if (!m || m[1] === '/usr/bin/env' || !match(m[1]!)) continue;
      const interp = path.basename(m[1]!);
      const args = (m[2] ?? '').trim();
      const line = args ? `#!/usr/bin/env -S ${interp} ${args}\n` : `#!/usr/bin/env ${interp}\n`;
      const body = fs.readFileSync(file);
      // Write beside and rename: the file may be a hard link into a shared store.
      const tmp = `${file}.slugc-tmp`;
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(line, 'latin1'), body.subarray(m[0].length)]), { mode: st.mode & 0o7777 });
      fs.chmodSync(tmp, st.mode & 0o7777);
      fs.renameSync(tmp, file);
      rewritten.push(file);
    }
  }
  return rewritten;
}
