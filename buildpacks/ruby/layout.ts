/**
 * Where Ruby and the app's gems go in the slug, and why.
 *
 * - The interpreter is the runtime as installed (Debian's packages unpacked,
 *   or an inventory's build) at `.heroku/ruby`, linked from the runtime
 *   store: never written to, so it stays shared and unmodified.
 * - Gems are installed by Bundler in deployment mode into `vendor/bundle`
 *   (as Heroku's Ruby buildpack does): `vendor/bundle/ruby/<api>/{gems,
 *   specifications,extensions,bin}`. It is a dependency layer, cached on
 *   `Gemfile.lock` and the Ruby and Bundler versions.
 * - Debian's Ruby finds its own libraries through `RUBYLIB`, and Debian puts
 *   `rake`, `webrick` and others in the same `vendor_ruby` dir as RubyGems
 *   and Bundler. A dir on `RUBYLIB` beats every gem, so the buildpack puts a
 *   dir of links (`.heroku/ruby-lib`) on `RUBYLIB` instead, holding only
 *   RubyGems and Bundler: Debian's other libraries stay reachable as gems
 *   (through `GEM_PATH`), and a version the app bundles wins under Bundler.
 */
export const RUBY_HOME = '.heroku/ruby';
/** Where Bundler installs the gems, relative to the app. */
export const BUNDLE_DIR = 'vendor/bundle';
/** The dir of links that replaces Debian's `vendor_ruby` on `RUBYLIB`, relative to the app. */
export const RUBY_LIB = '.heroku/ruby-lib';
