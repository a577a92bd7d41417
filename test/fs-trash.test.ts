import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backgroundSweepsDone, boundTrash, moveToTrash } from '../src/fs/trash.js';
import { cleanup, tempDir } from 'slugc/testing';

afterEach(cleanup);

/** A dir with `n` files in nested dirs, and a link. */
function tree(n: number): string {
  const d = tempDir();
  const root = path.join(d, 'build');
  for (let i = 0; i < n; i++) {
    const p = path.join(root, `d${i % 7}`, `s${i % 3}`, `f${i}`);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, String(i));
  }
  fs.symlinkSync('/etc/passwd', path.join(root, 'link'));
  return root;
}

describe('the trash', () => {
  it('takes a build dir in one rename and empties it on a background thread, never following a link', async () => {
    const dir = tree(300);
    const trash = path.join(path.dirname(dir), 'trash');
    expect(moveToTrash(dir, trash)).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
    await backgroundSweepsDone();
    expect(fs.readdirSync(trash)).toEqual([]);
    expect(fs.existsSync('/etc/passwd')).toBe(true);
  });

  it('stays bounded: all but the newest entries go at once', async () => {
    const trash = path.join(tempDir(), 'trash');
    for (let i = 0; i < 5; i++) {
      fs.mkdirSync(path.join(trash, `old-${i}`, 'x'), { recursive: true });
      fs.utimesSync(path.join(trash, `old-${i}`), 1000 + i, 1000 + i);
    }
    boundTrash(trash, 2);
    // The three oldest are gone before boundTrash returns; the rest are swept in the background.
    const left = fs.readdirSync(trash);
    expect(left.every((n) => n === 'old-3' || n === 'old-4')).toBe(true);
    await backgroundSweepsDone();
    expect(fs.readdirSync(trash)).toEqual([]);
  });

  it('says when a dir cannot be moved (another filesystem, or gone), so the caller removes it', () => {
    expect(moveToTrash(path.join(tempDir(), 'missing'), path.join(tempDir(), 'trash'))).toBe(false);
  });
});
