import { appFileExists, type DetectContext, type Detection } from 'slugc/sdk';

/** Ruby applies when the app has a `Gemfile` at its root, as on Heroku. */
export async function detectRuby(ctx: DetectContext): Promise<Detection> {
  if (appFileExists(ctx.appDir, 'Gemfile')) return { pass: true, name: 'Ruby', reason: 'found Gemfile' };
  return { pass: false, reason: 'no Gemfile in the app root' };
}
