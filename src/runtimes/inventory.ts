import { z } from 'zod';
import { parseChecksum } from '../net/download.js';
import { parseOrThrow } from '../problems.js';
import type { RuntimeArtifact } from './types.js';

/** The inventory file format's version this code reads. */
export const INVENTORY_SCHEMA_VERSION = 1;

const checksum = z.string().refine(
  (s) => {
    try {
      parseChecksum(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected sha256:<hex>, sha512:<hex> or sha512-<base64>' },
);

/** One artifact in an inventory file. */
export const inventoryArtifactSchema = z.strictObject({
  version: z.string().min(1),
  os: z.string().default('linux'),
  arch: z.string().default('x64'),
  stacks: z.array(z.string()).optional(),
  url: z.string().regex(/^(https?|file):\/\//, 'expected an http(s) or file:// URL'),
  checksum,
  stripComponents: z.number().int().nonnegative().optional(),
  format: z.enum(['tar', 'tar.gz', 'tar.xz', 'tar.zst', 'zip']).optional(),
  /** Dirs to put on PATH, relative to the runtime dir (default `bin`). */
  binDirs: z.array(z.string()).optional(),
  /** Env vars the runtime needs; `${RUNTIME_DIR}` stands for where it is installed. */
  env: z.record(z.string(), z.string()).optional(),
});

/**
 * An inventory file: versioned JSON listing one runtime's artifacts.
 *
 * ```json
 * { "schema": 1, "name": "node", "aliases": { "lts": "24" },
 *   "artifacts": [{ "version": "22.11.0", "os": "linux", "arch": "x64",
 *     "url": "https://…/node-v22.11.0-linux-x64.tar.gz", "checksum": "sha256:…", "stripComponents": 1 }] }
 * ```
 */
export const inventorySchema = z.strictObject({
  schema: z.literal(INVENTORY_SCHEMA_VERSION),
  name: z.string().min(1),
  aliases: z.record(z.string(), z.string()).optional(),
  artifacts: z.array(inventoryArtifactSchema),
});

/** A parsed inventory. */
export type Inventory = z.infer<typeof inventorySchema>;

/** Validates an inventory document, reporting every problem as `path: message`. */
export function parseInventory(doc: unknown, where = 'inventory'): Inventory {
  return parseOrThrow(inventorySchema, doc, 'SLUGC_INVENTORY_INVALID', `Couldn't read the ${where}:`, 'See docs/runtimes.md for the inventory format.');
}

/** The artifacts of an inventory in the form sources return. */
export function inventoryArtifacts(inv: Inventory): RuntimeArtifact[] {
  return inv.artifacts.map((a) => ({
    name: inv.name,
    version: a.version,
    os: a.os,
    arch: a.arch,
    ...(a.stacks ? { stacks: a.stacks } : {}),
    url: a.url,
    checksum: a.checksum,
    ...(a.stripComponents !== undefined ? { stripComponents: a.stripComponents } : {}),
    ...(a.format ? { format: a.format } : {}),
    meta: { ...(a.binDirs ? { binDirs: a.binDirs } : {}), ...(a.env ? { env: a.env } : {}) },
  }));
}
