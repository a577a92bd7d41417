import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SlugcError } from '../../src/errors.js';
import { parseOrThrow } from '../../src/problems.js';

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
 * Reads the app's package.json: a JSON syntax error names the line and
 * column; fields of the wrong type are each named as `path: message`.
 */
export function readPackageJson(appDir: string): PackageJson {
  const file = path.join(appDir, 'package.json');
  const text = fs.readFileSync(file, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      const col = Number(pos[1]) - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${col}`;
    }
    throw new SlugcError('SLUGC_PACKAGE_JSON_INVALID', `Couldn't parse package.json${where}: ${msg}`, {
      hint: 'Fix the JSON syntax (run `node -e "require(\'./package.json\')"` to check it locally).',
    });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new SlugcError('SLUGC_PACKAGE_JSON_INVALID', `Couldn't read package.json: it must hold a JSON object.`, { hint: 'Start it with { "name": ... }.' });
  }
  return parseOrThrow(packageJsonSchema, data, 'SLUGC_PACKAGE_JSON_INVALID', "Couldn't read package.json:", 'engines, scripts and dependencies map names to strings.');
}
