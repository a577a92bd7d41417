import { appFileExists, readAppFile, type ReleaseContext, type ReleaseInfo } from 'slugc/sdk';
import { parseGemfileLock, type GemfileLock } from './gemfile-lock.js';
import { isRails } from './compile.js';

/**
 * Heroku's default process types: `rake` and `console` for every app
 * (`bin/rails console` for Rails, `bundle exec irb` otherwise); a Rails app's
 * `web` is `bin/rails server`, a Rack app's (`config.ru`) `rackup`, or
 * `puma` when the app bundles it. The Procfile wins over all of these.
 */
export async function releaseRuby(ctx: ReleaseContext): Promise<ReleaseInfo> {
  const text = readAppFile(ctx.appDir, 'Gemfile.lock');
  if (text === null) return {};
  let lock: GemfileLock;
  try {
    lock = parseGemfileLock(text);
  } catch {
    return {};
  }
  return { processTypes: rubyProcessTypes(ctx.appDir, lock) };
}

/** The default process types of an app with this lock. */
export function rubyProcessTypes(appDir: string, lock: GemfileLock): Record<string, string> {
  const types: Record<string, string> = {};
  if (isRails(appDir, lock)) {
    types.web = 'bin/rails server -p ${PORT:-5000} -e $RAILS_ENV';
    types.console = 'bin/rails console';
  } else if (appFileExists(appDir, 'config.ru')) {
    types.web = lock.gems.has('puma') ? 'bundle exec puma -p ${PORT:-5000} -e ${RACK_ENV:-production}' : 'bundle exec rackup config.ru -p ${PORT:-5000}';
    types.console = 'bundle exec irb';
  } else {
    types.console = 'bundle exec irb';
  }
  if (lock.gems.has('rake')) types.rake = 'bundle exec rake';
  return types;
}
