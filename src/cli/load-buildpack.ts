import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isBuildpack, type Buildpack } from '../buildpack.js';
import { SlugcError, errorMessage } from '../errors.js';

/**
 * Turns a `--buildpack` value into what `build()` takes: a path to a JS
 * module (`./my-bp.js`, exporting a buildpack as default or as `buildpack`)
 * is loaded; anything else is passed on as a built-in id.
 */
export async function loadBuildpackArg(value: string, cwd: string): Promise<Buildpack | string> {
  const looksLikeModule = /\.(m?js|cjs)$/.test(value) || ((value.startsWith('.') || value.startsWith('/')) && !/\.(tgz|tar\.gz|zip)$/.test(value));
  if (!looksLikeModule || /^[a-z]+:\/\//.test(value)) return value;
  const file = path.resolve(cwd, value);
  // A directory is a classic buildpack (bin/compile): the library loads it.
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return file;
  if (!fs.existsSync(file)) {
    throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't load the buildpack module ${file}: no such file.`, { hint: 'Pass a path to a JS module or a built-in id such as heroku/nodejs.' });
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't load the buildpack module ${file}: ${errorMessage(e)}`, { hint: 'Check that the module runs with `node` on its own.', cause: e });
  }
  const candidate = [mod.default, mod.buildpack, (mod.default as Record<string, unknown> | undefined)?.buildpack].find(isBuildpack);
  if (!candidate) {
    throw new SlugcError('SLUGC_BUILDPACK_LOAD', `Couldn't find a buildpack in ${file}.`, {
      hint: 'Export an object { id, name, detect, compile, release? } as the default export or as `buildpack`.',
    });
  }
  return candidate;
}
