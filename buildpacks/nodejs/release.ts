import { appFileExists, type ReleaseContext, type ReleaseInfo } from 'slugc/sdk';
import { readPackageJson, type PackageJson } from './package-json.js';

/** `web: npm start` when package.json has a start script or the app has server.js (what `npm start` runs then). */
export async function releaseNodejs(ctx: ReleaseContext): Promise<ReleaseInfo> {
  let pkg: PackageJson;
  try {
    pkg = readPackageJson(ctx.projectDir);
  } catch {
    return {};
  }
  if (pkg.scripts?.start || appFileExists(ctx.projectDir, 'server.js')) return { processTypes: { web: 'npm start' } };
  return {};
}
