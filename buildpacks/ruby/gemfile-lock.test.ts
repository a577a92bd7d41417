import { describe, expect, it } from 'vitest';
import { lockedRubyVersion, parseGemfileLock } from './gemfile-lock.js';

const full = `GIT
  remote: https://github.com/example/tool.git
  revision: 0123456789abcdef0123456789abcdef01234567
  branch: main
  specs:
    tool (0.3.0)

PATH
  remote: engines/local
  specs:
    local_engine (0.1.0)
      rack (>= 2.0)

GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    puma (6.4.0)
      nio4r (~> 2.0)
    nio4r (2.5.9)
    rack (2.2.8)
    racc (1.7.1)
    rails (7.1.0)
      actionpack (= 7.1.0)
      railties (= 7.1.0)

PLATFORMS
  ruby
  x86_64-linux

DEPENDENCIES
  local_engine!
  nokogiri (~> 1.15, >= 1.15.4)
  puma
  rails (~> 7.1)
  tool!

CHECKSUMS
  puma (6.4.0) sha256=abc

RUBY VERSION
   ruby 3.1.2p20

BUNDLED WITH
   2.4.22
`;

describe('parseGemfileLock', () => {
  it('reads every section: sources with their specs and dependencies, platforms, dependencies, Ruby and Bundler versions', () => {
    const lock = parseGemfileLock(full);
    expect(lock.sources.map((s) => [s.type, s.options.remote])).toEqual([
      ['GIT', 'https://github.com/example/tool.git'],
      ['PATH', 'engines/local'],
      ['GEM', 'https://rubygems.org/'],
    ]);
    expect(lock.sources[0]!.options).toMatchObject({ revision: '0123456789abcdef0123456789abcdef01234567', branch: 'main' });
    const gem = lock.sources[2]!;
    expect(gem.specs.find((s) => s.name === 'nokogiri')).toEqual({ name: 'nokogiri', version: '1.15.4', platform: 'x86_64-linux', dependencies: { racc: '~> 1.4' } });
    expect(gem.specs.find((s) => s.name === 'rails')?.dependencies).toEqual({ actionpack: '= 7.1.0', railties: '= 7.1.0' });
    expect(lock.platforms).toEqual(['ruby', 'x86_64-linux']);
    expect(lock.dependencies).toEqual({ local_engine: '', nokogiri: '~> 1.15, >= 1.15.4', puma: '', rails: '~> 7.1', tool: '' });
    expect(lock.rubyVersion).toBe('ruby 3.1.2p20');
    expect(lock.bundledWith).toBe('2.4.22');
    expect([...lock.gems].sort()).toEqual(['local_engine', 'nio4r', 'nokogiri', 'puma', 'racc', 'rack', 'rails', 'tool']);
  });

  it('reads a lock with Windows line ends and a byte order mark, and one without optional sections', () => {
    const lock = parseGemfileLock('\uFEFFGEM\r\n  remote: https://rubygems.org/\r\n  specs:\r\n    rack (3.0.8)\r\n\r\nPLATFORMS\r\n  ruby\r\n\r\nDEPENDENCIES\r\n  rack\r\n');
    expect(lock.sources[0]!.specs).toEqual([{ name: 'rack', version: '3.0.8', dependencies: {} }]);
    expect(lock.rubyVersion).toBeUndefined();
    expect(lock.bundledWith).toBeUndefined();
  });

  it.each([
    ['GEM\n  remote: x\n  specs:\n    rack 2.2.3\n', 4, /expected a locked gem as "name \(version\)"/],
    ['GEM\n  specs:\n    rack (two)\n', 3, /"two" is not a gem version/],
    ['gem\n', 1, /expected a section name/],
    ['  rack (1.0)\n', 1, /outside any section/],
    ['PLATFORMS\n  ruby\nDEPENDENCIES\n', 3, /starts without a blank line after PLATFORMS/],
    ['DEPENDENCIES\n  rack (>= 1\n', 2, /expected a dependency/],
    ['GEM\n  specs:\n    rack (1.0)\n        deep (1.0)\n', 4, /unexpected indentation \(8 spaces\)/],
    ['GEM\n  specs:\n<<<<<<< HEAD\n    rack (1.0)\n', 3, /merge conflict marker/],
    ['RUBY VERSION\n   ruby 3.1.2\n   ruby 3.2.0\n', 3, /expected one line/],
    ['BUNDLED WITH\n   two\n', 2, /expected a Bundler version/],
  ])('names the line of a malformed lock: %j', (text, line, why) => {
    let err: unknown;
    try {
      parseGemfileLock(text);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'SLUGC_RUBY_LOCKFILE_INVALID', message: expect.stringMatching(new RegExp(`^Couldn't parse Gemfile\\.lock at line ${line}: `)), details: { file: 'Gemfile.lock', line } });
    expect((err as Error).message).toMatch(why);
    expect((err as { hint: string }).hint).toMatch(/bundle lock/);
  });
});

describe('lockedRubyVersion', () => {
  it('strips the patch level', () => {
    expect(lockedRubyVersion('ruby 3.1.2p20')).toBe('3.1.2');
    expect(lockedRubyVersion('ruby 3.3.0')).toBe('3.3.0');
    expect(lockedRubyVersion('ruby 3.1.2p-1')).toBe('3.1.2');
  });
  it('refuses other engines and what is not a version', () => {
    expect(() => lockedRubyVersion('ruby 3.1.4p0 (jruby 9.4.5.0)')).toThrow(expect.objectContaining({ code: 'SLUGC_RUBY_ENGINE_UNSUPPORTED' }));
    expect(() => lockedRubyVersion('ruby three')).toThrow(expect.objectContaining({ code: 'SLUGC_RUBY_VERSION_INVALID' }));
  });
});
