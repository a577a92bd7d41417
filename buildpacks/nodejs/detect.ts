import { appFileExists, type DetectContext, type Detection } from 'slugc/sdk';

/** Node.js applies when the app has a package.json at its root. */
export async function detectNodejs(ctx: DetectContext): Promise<Detection> {
  if (appFileExists(ctx.appDir, 'package.json')) return { pass: true, name: 'Node.js', reason: 'found package.json' };
  return { pass: false, reason: 'no package.json in the app root' };
}
