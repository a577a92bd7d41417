// Which package manager an app is built with, from its lockfiles and package.json, as Heroku decides.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, testApp } from 'slugc/testing';
import { choosePackageManager, normalizeRange } from './package-manager.js';
import { readPackageJson } from './package-json.js';

afterEach(cleanup);

const choose = (files: Record<string, string>) => {
  const dir = testApp({ 'package.json': '{}', ...files }).dir;
  return choosePackageManager(dir, readPackageJson(dir));
};
const pj = (o: object) => JSON.stringify({ name: 'app', ...o });

describe('choosing the package manager', () => {
  it('is npm without any declaration, with the lockfile npm ci uses (shrinkwrap first)', () => {
    expect(choose({})).toMatchObject({ tool: 'npm', lockfile: null, request: null, berry: false });
    expect(choose({ 'package-lock.json': '{}', 'npm-shrinkwrap.json': '{}' })).toMatchObject({ tool: 'npm', lockfile: 'npm-shrinkwrap.json' });
  });

  it('follows the lockfile: yarn 1, yarn 2+ (a .yarnrc.yml or a berry lockfile), pnpm', () => {
    expect(choose({ 'yarn.lock': '# yarn lockfile v1\n' })).toMatchObject({ tool: 'yarn', lockfile: 'yarn.lock', berry: false });
    expect(choose({ 'yarn.lock': '__metadata:\n  version: 8\n' })).toMatchObject({ tool: 'yarn', berry: true, nodeLinker: null });
    expect(choose({ 'yarn.lock': '', '.yarnrc.yml': 'nodeLinker: node-modules\n' })).toMatchObject({ tool: 'yarn', berry: true, nodeLinker: 'node-modules' });
    expect(choose({ 'pnpm-lock.yaml': "lockfileVersion: '9.0'\n" })).toMatchObject({ tool: 'pnpm', lockfile: 'pnpm-lock.yaml', request: null });
  });

  it('takes the version from packageManager first (with its hash), else engines', () => {
    const hex = 'ab'.repeat(64);
    expect(choose({ 'package.json': pj({ packageManager: `pnpm@9.12.0+sha512.${hex}`, engines: { pnpm: '9.x' } }), 'pnpm-lock.yaml': '' })).toMatchObject({
      tool: 'pnpm',
      request: '9.12.0',
      requestFrom: 'packageManager in package.json',
      packageManagerHash: { algorithm: 'sha512', hex },
    });
    expect(choose({ 'package.json': pj({ engines: { yarn: '>= 1.22 < 2' } }), 'yarn.lock': '' })).toMatchObject({ tool: 'yarn', request: '>= 1.22 < 2', requestFrom: 'engines.yarn in package.json' });
    expect(choose({ 'package.json': pj({ packageManager: 'yarn@4.5.0' }) })).toMatchObject({ tool: 'yarn', berry: true, lockfile: null });
  });

  it('fails once, listing every declaration and where it is, when they name different package managers', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'yarn.lock': '', 'pnpm-lock.yaml': '' }, /names yarn and pnpm:\n  - yarn: yarn\.lock\n  - pnpm: pnpm-lock\.yaml$/],
      [{ 'package.json': pj({ packageManager: 'pnpm@9.1.0' }), 'yarn.lock': '' }, /  - yarn: yarn\.lock\n  - pnpm 9\.1\.0: packageManager in package\.json/],
      [{ 'package.json': pj({ engines: { pnpm: '9.x' } }), 'package-lock.json': '{}' }, /  - npm: package-lock\.json\n  - pnpm 9\.x: engines\.pnpm in package\.json/],
      [{ 'package.json': pj({ packageManager: 'yarn@1.22.22', engines: { pnpm: '8' } }) }, /names yarn and pnpm/],
    ];
    for (const [files, message] of cases) expect(() => choose(files)).toThrow(expect.objectContaining({ code: 'SLUGC_NODEJS_PACKAGE_MANAGER_CONFLICT', message: expect.stringMatching(message) }));
  });

  it('refuses a packageManager version that engines rules out, and yarn 1 asked of a yarn 2+ app', () => {
    expect(() => choose({ 'package.json': pj({ packageManager: 'pnpm@8.15.0', engines: { pnpm: '9.x' } }) })).toThrow(/packageManager in package\.json asks for pnpm@8\.15\.0, engines\.pnpm for "9\.x"/);
    expect(() => choose({ 'package.json': pj({ engines: { yarn: '1.x' } }), 'yarn.lock': '', '.yarnrc.yml': '' })).toThrow(/asks for yarn 1\.x, but the app is set up for yarn 2 or later \(\.yarnrc\.yml\)/);
  });

  it('reports bad packageManager values, engines ranges and .yarnrc.yml files clearly', () => {
    expect(() => choose({ 'package.json': pj({ packageManager: 'pnpm' }) })).toThrow(expect.objectContaining({ code: 'SLUGC_NODEJS_PACKAGE_JSON_INVALID', message: expect.stringMatching(/expected <npm\|yarn\|pnpm>@<exact version>/) }));
    expect(() => choose({ 'package.json': pj({ engines: { pnpm: 'latest please' } }) })).toThrow(/engines\.pnpm "latest please" in package\.json: not a semver range/);
    expect(() => choose({ 'yarn.lock': '', '.yarnrc.yml': 'nodeLinker: [pnp\n' })).toThrow(expect.objectContaining({ code: 'SLUGC_NODEJS_YARNRC_INVALID', message: expect.stringMatching(/^Couldn't parse \.yarnrc\.yml at line 2/) }));
    expect(() => choose({ 'yarn.lock': '', '.yarnrc.yml': 'yarnPath: .yarn/releases/yarn-4.5.0.cjs\n' })).toThrow(/Couldn't find the yarn release \.yarn\/releases\/yarn-4\.5\.0\.cjs that yarnPath/);
    expect(() => choose({ 'yarn.lock': '', '.yarnrc.yml': 'nodeLinker: 3\n' })).toThrow(/nodeLinker in \.yarnrc\.yml: expected a string/);
  });

  it('reads engines ranges with spaces after operators, as npm does', () => {
    expect(normalizeRange('= 0.8.x')).toBe('=0.8.x');
    expect(normalizeRange(' >= 18 < 21 ')).toBe('>=18 <21');
    expect(normalizeRange('^ 20.1')).toBe('^20.1');
  });
});
