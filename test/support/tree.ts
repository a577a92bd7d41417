// Test support: what a tree holds, to compare an unpacked slug with its source.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Type, permission bits, and content hash or link target of every entry under `root`, keyed by relative path. */
export function treeSnapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(path.join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, `link -> ${fs.readlinkSync(path.join(root, r))}`);
      else if (st.isFile()) out.set(r, `file ${mode} ${crypto.createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex')}`);
    }
  };
  walk('');
  return out;
}
