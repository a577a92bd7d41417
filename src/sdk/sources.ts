import { SlugcError } from '../errors.js';
import { createInventorySource } from '../runtimes/sources/inventory.js';
import type { RuntimeSource } from '../runtimes/types.js';

/** Options of {@link runtimeSources}. */
export interface RuntimeSourcesOptions {
  /** The language's name in the settings, e.g. `NODE` reads `SLUGC_NODE_SOURCES` and `SLUGC_NODE_INVENTORY`. */
  lang: string;
  /** The sources this buildpack knows besides `inventory`, by name, e.g. `{ npm: () => createNpmSource(...) }`. */
  sources: Record<string, () => RuntimeSource>;
  /** The order used when `SLUGC_<LANG>_SOURCES` is not set, e.g. `['npm']`; `inventory` goes first when `SLUGC_<LANG>_INVENTORY` is set. */
  defaults: readonly string[];
}

/**
 * The runtime sources for a language, the same rules for every language:
 * `SLUGC_<LANG>_SOURCES` (comma-separated names, in order) when set; else
 * the inventory at `SLUGC_<LANG>_INVENTORY` when set, then the defaults.
 * `inventory` names the inventory file at `SLUGC_<LANG>_INVENTORY`; an
 * unknown name, or `inventory` without the URL, is an error that lists what
 * there is.
 */
export function runtimeSources(env: Readonly<Record<string, string>>, options: RuntimeSourcesOptions): RuntimeSource[] {
  const lang = options.lang.toUpperCase();
  const sourcesVar = `SLUGC_${lang}_SOURCES`;
  const inventoryVar = `SLUGC_${lang}_INVENTORY`;
  const inventoryUrl = env[inventoryVar];
  const known = ['inventory', ...Object.keys(options.sources)];
  const order = (env[sourcesVar] ?? [...(inventoryUrl ? ['inventory'] : []), ...options.defaults].join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (order.length === 0) {
    throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use ${sourcesVar}=${JSON.stringify(env[sourcesVar])}: it names no source.`, { hint: `List one or more of: ${known.join(', ')}.` });
  }
  return order.map((name) => {
    if (name === 'inventory') {
      if (!inventoryUrl) {
        throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use the inventory source for ${lang}: ${inventoryVar} is not set.`, {
          hint: `Set ${inventoryVar} to the URL of an inventory file (https://, http:// or file://), or name other sources in ${sourcesVar} (known: ${known.join(', ')}).`,
        });
      }
      return createInventorySource(inventoryUrl);
    }
    const make = options.sources[name];
    if (!make) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't use the ${lang} source ${JSON.stringify(name)} named in ${sourcesVar}.`, { hint: `Known sources: ${known.join(', ')}.` });
    }
    return make();
  });
}
