import { parseInventory, inventoryArtifacts, type Inventory } from '../inventory.js';
import { fetchDocument } from '../../net/mirror.js';
import type { RuntimeSource, SourceContext } from '../types.js';
import { installArchive } from './archive.js';

/**
 * A runtime source backed by an inventory file at an http(s) or `file://`
 * URL (read through the mirror, and cached for offline builds).
 */
export function createInventorySource(url: string): RuntimeSource {
  const loaded = new Map<string, Inventory>();
  const load = async (ctx: SourceContext) => {
    let inv = loaded.get(ctx.cacheRoot);
    if (!inv) {
      inv = parseInventory(await fetchDocument<unknown>(url, ctx, {}, 'inventory'), `inventory ${url}`);
      loaded.set(ctx.cacheRoot, inv);
    }
    return inv;
  };
  return {
    kind: 'inventory',
    describe: () => `inventory ${url}`,
    async aliases(name, ctx) {
      const inv = await load(ctx);
      return inv.name === name ? (inv.aliases ?? {}) : {};
    },
    async list(name, ctx) {
      const inv = await load(ctx);
      return inv.name === name ? inventoryArtifacts(inv) : [];
    },
    install(artifact, dest, ctx) {
      return installArchive(artifact, dest, ctx);
    },
  };
}

/** The aliases an inventory defines (e.g. `lts`), for resolving requests. */
export async function inventoryAliases(url: string, ctx: SourceContext): Promise<Record<string, string>> {
  return parseInventory(await fetchDocument<unknown>(url, ctx, {}, 'inventory'), `inventory ${url}`).aliases ?? {};
}
