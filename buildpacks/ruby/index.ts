/**
 * The Ruby buildpack: Ruby from the stack's packages (or an inventory), the
 * app's gems installed with the runtime's Bundler in deployment mode into
 * vendor/bundle, cached on Gemfile.lock; Rack and Rails defaults. Written
 * only against `slugc/sdk`.
 */
import type { Buildpack } from 'slugc/sdk';
import { compileRuby, type RubyBuildpackOptions } from './compile.js';
import { detectRuby } from './detect.js';
import { releaseRuby } from './release.js';

export { BUNDLE_DIR, RUBY_HOME, RUBY_LIB } from './layout.js';
export type { RubyBuildpackOptions } from './compile.js';

/** Creates the Ruby buildpack. */
export function createRubyBuildpack(options: RubyBuildpackOptions = {}): Buildpack {
  return {
    id: 'slugc/ruby',
    name: 'Ruby',
    aliases: ['heroku/ruby', 'ruby'],
    detect: detectRuby,
    compile: (ctx) => compileRuby(ctx, options),
    release: releaseRuby,
  };
}

/** The Ruby buildpack with default options. */
export const rubyBuildpack: Buildpack = createRubyBuildpack();
