import { z } from 'zod';
import { SlugcError, parseWithSchema, readConfigFile } from 'slugc/sdk';

/** The error code of a package.json that does not parse or has fields of the wrong type. */
export const PACKAGE_JSON_INVALID = 'SLUGC_NODEJS_PACKAGE_JSON_INVALID';

/** The fields of package.json the Node.js buildpack reads. */
export const packageJsonSchema = z
  .object({
    name: z.string().optional(),
    engines: z.record(z.string(), z.string()).optional(),
    scripts: z.record(z.string(), z.string()).optional(),
    dependencies: z.record(z.string(), z.string()).optional(),
    devDependencies: z.record(z.string(), z.string()).optional(),
    packageManager: z.string().optional(),
  })
  .loose();

/** A parsed, validated package.json. */
export type PackageJson = z.infer<typeof packageJsonSchema>;

/**
 * Reads the app's package.json (or `file`, relative to `appDir`: a workspace
 * project's, named so in errors): a JSON syntax error names the line and
 * column; fields of the wrong type are each named as `path: message`.
 */
export function readPackageJson(appDir: string, file = 'package.json'): PackageJson {
  const data = readConfigFile(appDir, file, 'json', {
    code: PACKAGE_JSON_INVALID,
    hint: `Fix the JSON syntax (run \`node -e "require('./${file}')"\` to check it locally).`,
  });
  if (data === null) throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read ${file}: the app has none.`, { hint: 'Add a package.json (npm init).' });
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read ${file}: it must hold a JSON object.`, { hint: 'Start it with { "name": ... }.' });
  }
  return parseWithSchema(packageJsonSchema, data, PACKAGE_JSON_INVALID, `Couldn't read ${file}:`, 'engines, scripts and dependencies map names to strings.');
}
