import { describe, expect, it } from 'vitest';
import { sameResolution } from './managers.js';

const lock = (packages: Record<string, object>) => JSON.stringify({ name: 'a', lockfileVersion: 3, packages: { '': { name: 'a' }, ...packages } });

describe('sameResolution (is an npm install on the previous tree what npm ci would give?)', () => {
  const base = { 'node_modules/x': { version: '1.0.0', resolved: 'https://r/x-1.0.0.tgz', integrity: 'sha512-a' }, 'node_modules/y': { version: '2.0.0', integrity: 'sha512-b', dev: true } };
  it('ignores key order and dropped resolved URLs', () => {
    const reordered = { 'node_modules/y': { dev: true, integrity: 'sha512-b', version: '2.0.0' }, 'node_modules/x': { integrity: 'sha512-a', version: '1.0.0' } };
    expect(sameResolution(lock(base), lock(reordered))).toBe(true);
  });
  it('sees another version, another integrity, a package more or less, a flag changed', () => {
    expect(sameResolution(lock(base), lock({ ...base, 'node_modules/x': { version: '1.0.1', integrity: 'sha512-a' } }))).toBe(false);
    expect(sameResolution(lock(base), lock({ ...base, 'node_modules/x': { version: '1.0.0', integrity: 'sha512-z' } }))).toBe(false);
    expect(sameResolution(lock(base), lock({ ...base, 'node_modules/z': { version: '1.0.0' } }))).toBe(false);
    expect(sameResolution(lock(base), lock({ 'node_modules/x': base['node_modules/x'] }))).toBe(false);
    expect(sameResolution(lock(base), lock({ ...base, 'node_modules/y': { version: '2.0.0', integrity: 'sha512-b' } }))).toBe(false);
  });
  it('is false for something that is not a lockfile', () => {
    expect(sameResolution('not json', 'not json')).toBe(false);
    expect(sameResolution('{}', '{}')).toBe(false);
  });
});
