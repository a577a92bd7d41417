import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { gemRequirementToSemver, gemfileRubyRequest, parseRubyVersionFile } from './version.js';

describe('gemRequirementToSemver', () => {
  it.each([
    [['~> 3.1'], '>=3.1.0 <4.0.0'],
    [['~> 3.1.2'], '>=3.1.2 <3.2.0'],
    [['~> 3'], '>=3.0.0 <4.0.0'],
    [['~> 3.1.0'], '>=3.1.0 <3.2.0'],
    [['3.1.2'], '3.1.2'],
    [['= 3.1'], '3.1.0'],
    [['>= 3.0', '< 3.2'], '>=3.0.0 <3.2.0'],
    [['>= 3.0, < 3.2'], '>=3.0.0 <3.2.0'],
    [['> 3.0.1', '<= 3.1'], '>3.0.1 <=3.1.0'],
    [['~> 3.1', '!= 3.1.1'], '>=3.1.0 <4.0.0 <3.1.1 || >=3.1.0 <4.0.0 >3.1.1'],
    [['!= 3.1.1'], '<3.1.1 || >3.1.1'],
  ])('%j is %s', (reqs, range) => {
    expect(gemRequirementToSemver(reqs, 'Gemfile')).toBe(range);
    expect(semver.validRange(range)).not.toBeNull();
  });

  it('means what RubyGems means', () => {
    const ok = (reqs: string[], v: string) => semver.satisfies(v, gemRequirementToSemver(reqs, 'Gemfile'));
    expect(ok(['~> 3.1'], '3.9.0')).toBe(true);
    expect(ok(['~> 3.1'], '4.0.0')).toBe(false);
    expect(ok(['~> 3.1.2'], '3.1.9')).toBe(true);
    expect(ok(['~> 3.1.2'], '3.2.0')).toBe(false);
    expect(ok(['~> 3.1.2'], '3.1.1')).toBe(false);
    expect(ok(['= 3.1'], '3.1.2')).toBe(false);
    expect(ok(['~> 3.1', '!= 3.1.1'], '3.1.1')).toBe(false);
    expect(ok(['~> 3.1', '!= 3.1.1'], '3.1.2')).toBe(true);
  });

  it.each([['~> three'], ['3.3.0.preview1'], ['=> 3.1'], [''], ['3.1.2.1']])('refuses %j, naming where', (req) => {
    expect(() => gemRequirementToSemver([req], 'Gemfile at line 2')).toThrow(expect.objectContaining({ code: 'SLUGC_RUBY_VERSION_INVALID', message: expect.stringMatching(/in Gemfile at line 2/) }));
  });
});

describe('gemfileRubyRequest', () => {
  it('reads the ruby directive in its forms', () => {
    expect(gemfileRubyRequest('source "https://rubygems.org"\nruby "3.1.2"\ngem "rack"\n')).toBe('3.1.2');
    expect(gemfileRubyRequest("ruby '~> 3.1'\n")).toBe('>=3.1.0 <4.0.0');
    expect(gemfileRubyRequest('ruby ">= 3.0", "< 3.2", engine: "ruby", engine_version: "3.1.2"\n')).toBe('>=3.0.0 <3.2.0');
    expect(gemfileRubyRequest('ruby("3.1.2")\n')).toBe('3.1.2');
    expect(gemfileRubyRequest('  ruby "3.1.2" # pinned\n')).toBe('3.1.2');
  });
  it('is undefined without a directive, or when the version comes from a file', () => {
    expect(gemfileRubyRequest('source "https://rubygems.org"\n# ruby "2.7"\ngem "ruby-progressbar"\ngem "rubocop"\n')).toBeUndefined();
    expect(gemfileRubyRequest('ruby file: ".ruby-version"\n')).toBeUndefined();
    expect(gemfileRubyRequest('source "x"\nruby File.read(".ruby-version").strip\n')).toBeUndefined();
  });
  it('refuses a requirement that is not RubyGems\', naming the line', () => {
    expect(() => gemfileRubyRequest('source "x"\nruby "~> three"\n')).toThrow(expect.objectContaining({ code: 'SLUGC_RUBY_VERSION_INVALID', message: expect.stringMatching(/Gemfile at line 2/) }));
  });
});

describe('parseRubyVersionFile', () => {
  it('reads 3.1.2, ruby-3.1.2, 3.1 and a patch level', () => {
    expect(parseRubyVersionFile('3.1.2\n')).toBe('3.1.2');
    expect(parseRubyVersionFile('ruby-3.1.2\n')).toBe('3.1.2');
    expect(parseRubyVersionFile('# comment\n3.1\n')).toBe('3.1');
    expect(parseRubyVersionFile('2.7.8-p225\n')).toBe('2.7.8');
    expect(parseRubyVersionFile('\n')).toBeUndefined();
  });
  it('refuses other engines and system', () => {
    for (const t of ['jruby-9.4.5.0', 'system', 'truffleruby-23.1']) expect(() => parseRubyVersionFile(t)).toThrow(expect.objectContaining({ code: 'SLUGC_RUBY_VERSION_INVALID' }));
  });
});
