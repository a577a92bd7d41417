import path from 'node:path';
import { appFileExists, type DetectContext, type Detection } from 'slugc/sdk';

/** Node.js applies when the app has a package.json in its dir (its root, or with `--app-dir` that subdirectory). */
export async function detectNodejs(ctx: DetectContext): Promise<Detection> {
  const where = ctx.projectDir === ctx.appDir ? '' : ` in ${path.relative(ctx.appDir, ctx.projectDir)}`;
  if (appFileExists(ctx.projectDir, 'package.json')) return { pass: true, name: 'Node.js', reason: `found package.json${where}` };
  return { pass: false, reason: where ? `no package.json${where}` : 'no package.json in the app root' };
}
