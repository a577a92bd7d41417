import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, testApp } from 'slugc/testing';
import { parseGemfileLock } from './gemfile-lock.js';
import { rubyProcessTypes } from './release.js';

afterEach(cleanup);

const lock = (...gems: string[]) => parseGemfileLock(`GEM\n  remote: https://rubygems.org/\n  specs:\n${gems.map((g) => `    ${g} (1.0)\n`).join('')}\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n${gems.map((g) => `  ${g}\n`).join('')}`);

describe('rubyProcessTypes', () => {
  it('gives a Rack app rackup, or puma when it bundles puma; rake only with rake', () => {
    const rack = testApp({ 'config.ru': '' });
    expect(rubyProcessTypes(rack.dir, lock('rack'))).toEqual({ web: 'bundle exec rackup config.ru -p ${PORT:-5000}', console: 'bundle exec irb' });
    expect(rubyProcessTypes(rack.dir, lock('rack', 'puma', 'rake'))).toEqual({ web: 'bundle exec puma -p ${PORT:-5000} -e ${RACK_ENV:-production}', console: 'bundle exec irb', rake: 'bundle exec rake' });
  });
  it('gives Rails (railties in the lock, or config/application.rb) bin/rails server and console', () => {
    const expected = { web: 'bin/rails server -p ${PORT:-5000} -e $RAILS_ENV', console: 'bin/rails console', rake: 'bundle exec rake' };
    expect(rubyProcessTypes(testApp({ 'config.ru': '' }).dir, lock('railties', 'rake'))).toEqual(expected);
    expect(rubyProcessTypes(testApp({ 'config/application.rb': '' }).dir, lock('rake'))).toEqual(expected);
  });
  it('gives a plain Ruby app no web process', () => {
    expect(rubyProcessTypes(testApp({ 'worker.rb': '' }).dir, lock())).toEqual({ console: 'bundle exec irb' });
  });
});
