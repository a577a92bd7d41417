import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/cli.js';

/** Runs an ES module snippet with plain Node in the repo, so "slugc" resolves through package.json "exports" to dist/. */
function node(code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
}

describe('the package exports, resolved by Node as for a user who installed slugc', () => {
  it('exposes the library at "slugc"', () => {
    const r = node(`const lib = await import('slugc'); console.log(JSON.stringify(Object.keys(lib).sort()));`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(
      expect.arrayContaining(['build', 'detect', 'compile', 'release', 'packageSlug', 'prepareBuildDir', 'parseProcfile', 'SlugcError', 'createLogger', 'packDirectory']),
    );
  });

  it('exposes the built-in buildpacks at "slugc/buildpacks"', () => {
    const r = node(`const b = await import('slugc/buildpacks'); console.log(b.builtinBuildpacks.map((x) => x.id).join(','), b.findBuiltinBuildpack('heroku/nodejs').id);`);
    expect(r.stdout.trim()).toBe('slugc/nodejs slugc/nodejs');
  });

  it('keeps private files private', () => {
    const r = node(`await import('slugc/dist/src/build.js');`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });
});
