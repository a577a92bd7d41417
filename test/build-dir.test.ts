import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareBuildDir } from '../src/index.js';
import { cleanup, tempDir, testApp, treeHash } from 'slugc/testing';

afterEach(cleanup);

describe('prepareBuildDir', () => {
  it('copies the app, keeping modes and symlinks, and leaves out .git', () => {
    const src = testApp({
      'index.js': 'x',
      'bin/run': { content: '#!/bin/sh\n', mode: 0o755 },
      'link-to-index': { link: 'index.js' },
      'dangling': { link: 'does/not/exist' },
      '.git/HEAD': 'ref: refs/heads/main\n',
      'lib/.git': 'a file named .git below the root is app content\n',
    }).dir;
    const dest = path.join(tempDir(), 'app');
    const r = prepareBuildDir(src, dest);
    expect(fs.existsSync(path.join(dest, '.git'))).toBe(false);
    expect(fs.readFileSync(path.join(dest, 'lib/.git'), 'utf8')).toMatch(/app content/);
    expect(fs.statSync(path.join(dest, 'bin/run')).mode & 0o777).toBe(0o755);
    expect(fs.readlinkSync(path.join(dest, 'link-to-index'))).toBe('index.js');
    expect(fs.readlinkSync(path.join(dest, 'dangling'))).toBe('does/not/exist');
    expect(r.copied).toBe(7);
  });

  it('applies .slugignore with gitignore syntax before anything runs', () => {
    const src = testApp({
      '.slugignore': '# test data\n*.log\n/docs\nspec/**/*.snap\ntmp/\n!keep.log\n',
      'app.js': 'x',
      'a.log': 'x',
      'deep/b.log': 'x',
      'keep.log': 'negation is not supported, as on Heroku',
      'docs/guide.md': 'x',
      'src/docs/kept.md': 'only the root docs/ is anchored',
      'spec/x/y.snap': 'x',
      'spec/x/y.js': 'x',
      'tmp/cache': 'x',
    }).dir;
    const dest = path.join(tempDir(), 'app');
    const r = prepareBuildDir(src, dest);
    const exists = (p: string) => fs.existsSync(path.join(dest, p));
    expect(['app.js', 'src/docs/kept.md', 'spec/x/y.js', '.slugignore'].every(exists)).toBe(true);
    expect(['a.log', 'deep/b.log', 'keep.log', 'docs', 'spec/x/y.snap', 'tmp'].some(exists)).toBe(false);
    expect(r.droppedPatterns).toEqual(['!keep.log']);
    expect(r.ignored.sort()).toEqual(['a.log', 'deep/b.log', 'docs/', 'keep.log', 'spec/x/y.snap', 'tmp/']);
  });

  it('never changes the source dir', () => {
    const src = testApp({ '.slugignore': '*.md\n', 'a.md': 'x', 'b/c.js': 'y', l: { link: 'b' } }).dir;
    const before = treeHash(src);
    const dest = path.join(tempDir(), 'app');
    prepareBuildDir(src, dest);
    fs.writeFileSync(path.join(dest, 'b/c.js'), 'changed in the build dir');
    fs.rmSync(path.join(dest, 'l'));
    expect(treeHash(src)).toBe(before);
  });

  it('fails with a code and a hint when the source does not exist', () => {
    expect(() => prepareBuildDir('/nonexistent/app', path.join(tempDir(), 'app'))).toThrow(
      expect.objectContaining({ code: 'SLUGC_SOURCE_NOT_FOUND', hint: expect.stringMatching(/slugc build/) }),
    );
  });
});
