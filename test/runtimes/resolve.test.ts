import { describe, expect, it } from 'vitest';
import { VersionUnsatisfiableError } from '../../src/errors.js';
import { nearestVersions, requestToRange, resolveRuntime } from '../../src/runtimes/resolve.js';
import type { RuntimeArtifact } from '../../src/runtimes/types.js';

const art = (version: string, extra: Partial<RuntimeArtifact> = {}): RuntimeArtifact => ({
  name: 'python',
  version,
  os: 'linux',
  arch: 'x64',
  url: `https://r.test/python-${version}.tgz`,
  checksum: `sha256:${'0'.repeat(64)}`,
  ...extra,
});
const list = [
  art('3.10.14'),
  art('3.11.2'),
  art('3.11.9'),
  art('3.12.4'),
  art('3.12.5', { arch: 'arm64' }),
  art('3.13.0', { stacks: ['heroku-24'] }),
  art('3.14.0-rc.1'),
];
const opts = { os: 'linux', arch: 'x64', stack: 'debian-12', aliases: { stable: '3.12' } };

describe('requestToRange', () => {
  it('turns a bare line into a range, keeps ranges, and resolves aliases', () => {
    expect(requestToRange('17').range).toBe('17.x');
    expect(requestToRange('3.11').range).toBe('3.11.x');
    expect(requestToRange('v20').range).toBe('20.x');
    expect(requestToRange('3.11.2').range).toBe('3.11.2');
    expect(requestToRange('^22.11.0').range).toBe('^22.11.0');
    expect(requestToRange('lts', { lts: '24' })).toEqual({ range: '24.x', note: 'alias "lts" means "24"' });
    expect(requestToRange('latest').range).toBe('*');
  });

  it('refuses what is neither a version, a range nor an alias', () => {
    expect(() => requestToRange('three point eleven')).toThrow(expect.objectContaining({ code: 'SLUGC_INVALID_INPUT' }));
  });
});

describe('resolveRuntime', () => {
  it('picks the newest version for this platform and stack, with a trace of why', () => {
    const r = resolveRuntime(list, '3.11', opts);
    expect(r.artifact.version).toBe('3.11.9');
    expect(r.trace).toEqual([
      '5 versions for linux/x64 on debian-12 (2 artifacts for other platforms skipped)',
      'requested "3.11" → 3.11.x',
      'newest of 2 matching: 3.11.9',
    ]);
    expect(r.available).toEqual(['3.14.0-rc.1', '3.12.4', '3.11.9', '3.11.2', '3.10.14']);
  });

  it('skips prereleases unless asked for one', () => {
    expect(resolveRuntime(list, '*', opts).artifact.version).toBe('3.12.4');
    expect(resolveRuntime(list, '3.14.0-rc.1', opts).artifact.version).toBe('3.14.0-rc.1');
  });

  it('filters by stack and arch', () => {
    expect(resolveRuntime(list, '3.13', { ...opts, stack: 'heroku-24' }).artifact.version).toBe('3.13.0');
    expect(resolveRuntime(list, '3.12', { ...opts, arch: 'arm64' }).artifact.version).toBe('3.12.5');
  });

  it('resolves aliases', () => {
    expect(resolveRuntime(list, 'stable', opts).artifact.version).toBe('3.12.4');
  });

  it('fails for a request nothing satisfies, listing the nearest versions', () => {
    let err: unknown;
    try {
      resolveRuntime(list, '3.11.5', { ...opts, displayName: 'Python' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VersionUnsatisfiableError);
    expect((err as VersionUnsatisfiableError).available.slice(0, 3)).toEqual(['3.12.4', '3.11.9', '3.11.2']);
    expect((err as Error).message).toMatch(/^Couldn't find a Python version that satisfies "3\.11\.5"\. Available: /);
  });
});

describe('nearestVersions', () => {
  it('lists the versions around the request, then the newest of each major', () => {
    const all = ['24.2.0', '22.12.0', '22.11.0', '22.1.0', '20.19.5', '18.20.8'];
    expect(nearestVersions(all, '^21.0.0')).toEqual(['24.2.0', '22.12.0', '22.11.0', '22.1.0', '20.19.5', '18.20.8']);
    expect(nearestVersions(all, '^21.0.0', 3)).toEqual(['22.11.0', '22.1.0', '20.19.5']);
  });
});
