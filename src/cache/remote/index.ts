/**
 * A shared layer cache on an OCI distribution registry, in front of which
 * the local cache stays: before compile, the layers of the app that another
 * machine pushed are imported into the local store when the local one is
 * missing or older (so `open()` stays a local, synchronous call); after a
 * successful build, the layers this build stored are pushed. Each layer is
 * one image manifest (tag `<app>.<buildpack>.<layer>`) whose one layer blob
 * is a deterministic tar.gz of the stored tree and whose annotations carry
 * the key; the manifest goes up last, so a push cut off half-way is never
 * referenced. Nothing here is fatal: a registry that is down, slow, or
 * serving a blob whose digest does not match makes the build warn once and
 * go on with the local cache.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { extractArchive } from '../../archive/extract.js';
import { errorMessage } from '../../errors.js';
import { formatBytes, type Logger } from '../../log.js';
import { safeName } from '../../names.js';
import { packDirectory } from '../../slug/pack.js';
import { treeSize } from '../../fs/tree.js';
import type { Checksum, SharedDownloads } from '../../net/download.js';
import { LAYER_ID_FILE, commitLayerDir, intactLayer, statManifestHash, storedLayerPath, type LayerKey, type LayerMetadata } from '../layers.js';
import { OCI_EMPTY_CONFIG_BYTES, OCI_EMPTY_CONFIG_DIGEST, OCI_LAYER_MEDIA_TYPE, OciClient, ociLayerManifest, parseRemoteCacheUrl, registryCredentials, type RemoteCacheLocation } from './oci.js';

export { parseRemoteCacheUrl, type RemoteCacheLocation } from './oci.js';

/** Annotation names on a layer's manifest. */
const A = {
  app: 'org.slugc.app',
  buildpack: 'org.slugc.buildpack',
  layer: 'org.slugc.layer',
  key: 'org.slugc.key',
  created: 'org.slugc.created',
  files: 'org.slugc.files',
  size: 'org.slugc.size',
  launch: 'org.slugc.launch',
  format: 'org.slugc.format',
  checksum: 'org.slugc.checksum',
} as const;
const FORMAT = '1';

/** What the remote cache did for one layer. */
export interface RemoteLayerReport {
  buildpack: string;
  layer: string;
  /** `imported`: downloaded into the local cache; `local`: the local copy was as new; `refused`: digest or format wrong; `failed`: the registry failed. */
  outcome: 'imported' | 'local' | 'refused' | 'failed';
  /** Compressed bytes downloaded, seconds taken (imported). */
  bytes?: number;
  seconds?: number;
  /** Why, in words. */
  why: string;
}

/** A remote layer as listed (`slugc cache ls --remote`). */
export interface RemoteLayerEntry {
  tag: string;
  buildpack: string;
  layer: string;
  key: LayerKey;
  created: string;
  /** Compressed bytes of the layer blob. */
  size: number;
  files: number;
  /** The layer blob's digest. */
  digest: string;
  /** Part of the slug (a launch layer). */
  launch: boolean;
}

/** Options of {@link RemoteLayerCache}. */
export interface RemoteLayerCacheOptions {
  /** `oci://host:port/repo`, `https://host/repo`. */
  url: string;
  /** The app's cache namespace (the tag prefix). */
  app: string;
  log: Logger;
  /** Where credentials come from (`SLUGC_CACHE_REMOTE_USERNAME`..., `DOCKER_CONFIG`, `HOME`). */
  env: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
  /** Bound on each request; default 30 s (`SLUGC_CACHE_REMOTE_TIMEOUT_MS`). */
  timeoutMs?: number;
}

/** The tag of a layer: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, long names shortened with a hash. */
export function layerTag(app: string, bp: string, layer: string): string {
  const raw = `${app}.${safeName(bp)}.${layer}`.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]/, '_');
  if (raw.length <= 128) return raw;
  const h = crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
  return `${raw.slice(0, 111)}-${h}`;
}

/** The tag of a shared download: `dl.<algorithm>.<hex>`, cut to the 128 characters a tag may have (the annotation has the whole checksum). */
function downloadTag(checksum: Checksum): string {
  return `dl.${checksum.algorithm}.${checksum.hex}`.slice(0, 128);
}

/** The layer cache's remote tier. */
export class RemoteLayerCache {
  readonly location: RemoteCacheLocation;
  private readonly client: OciClient;
  private down: string | null = null;
  /** Per layer (`<bp>\0<layer>`), what the prefetch did: open() says it in the log. */
  readonly reports = new Map<string, RemoteLayerReport>();
  /** Verified downloads (runtimes) that came from their origin in this build, to share after it. */
  private readonly fresh = new Map<string, { checksum: Checksum; file: string }>();

  /**
   * The verified downloads store, shared through the registry: one manifest
   * per file (tag `dl.<algorithm>.<hex>`, the full checksum in an annotation),
   * its blob the file itself. What it gives is verified by the caller.
   */
  readonly downloads: SharedDownloads = {
    fetchInto: async (checksum, dest) => {
      if (this.down !== null) return false;
      try {
        const got = await this.client.getManifest(downloadTag(checksum));
        const blob = got?.manifest.layers?.[0];
        if (!got || !blob || got.manifest.annotations?.[A.checksum] !== `${checksum.algorithm}:${checksum.hex}`) return false;
        return await this.client.getBlob(blob.digest, dest);
      } catch (e) {
        if ((e as { code?: string }).code === 'SLUGC_CACHE_REMOTE_DIGEST') this.opts.log.warn(`Remote cache: refused the shared download ${checksum.algorithm}:${checksum.hex.slice(0, 12)}… (${errorMessage(e)}); getting it from its origin.`);
        else this.fail('read a shared download', e);
        return false;
      }
    },
    downloaded: (checksum, file) => {
      this.fresh.set(`${checksum.algorithm}:${checksum.hex}`, { checksum, file });
    },
  };

  /** Shares the downloads that came from their origin in this build (blob, then manifest). Never throws. */
  async pushDownloads(): Promise<void> {
    for (const { checksum, file } of this.fresh.values()) {
      if (this.down !== null) return;
      try {
        const bytes = fs.readFileSync(file);
        const digest = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
        await this.client.pushBlob(file, { digest, size: bytes.length });
        await this.client.putManifest(downloadTag(checksum), ociLayerManifest({ layerDigest: digest, layerSize: bytes.length, annotations: { [A.format]: FORMAT, [A.checksum]: `${checksum.algorithm}:${checksum.hex}` } }));
        this.opts.log.info(`cache: shared the download ${checksum.algorithm}:${checksum.hex.slice(0, 12)}… through the remote cache (${formatBytes(bytes.length)})`);
      } catch (e) {
        this.fail('share a download', e);
      }
    }
    this.fresh.clear();
  }

  constructor(private readonly opts: RemoteLayerCacheOptions) {
    this.location = parseRemoteCacheUrl(opts.url);
    const credentials = registryCredentials(this.location.host, opts.env as NodeJS.ProcessEnv, opts.log);
    this.client = new OciClient({
      base: this.location.base,
      repository: this.location.repository,
      ...(credentials ? { credentials } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      timeoutMs: opts.timeoutMs ?? 30_000,
      log: opts.log,
    });
  }

  /** Warns once, and stops using the registry for the rest of the build. */
  private fail(what: string, e: unknown): void {
    if (this.down !== null) return;
    this.down = errorMessage(e);
    this.opts.log.warn(`Remote cache ${this.location.url}: couldn't ${what} (${this.down}). Going on with the local cache.`);
  }

  /** The app's layers in the registry, with their keys (never throws: [] and a warning when it is unreachable). */
  async list(): Promise<RemoteLayerEntry[]> {
    const out: RemoteLayerEntry[] = [];
    let tags: string[];
    try {
      tags = (await this.client.listTags()).filter((t) => t.startsWith(`${this.opts.app}.`));
    } catch (e) {
      this.fail('list the layers', e);
      return [];
    }
    for (const tag of tags.sort()) {
      try {
        const entry = await this.entry(tag);
        if (entry) out.push(entry);
      } catch (e) {
        if ((e as { code?: string }).code === 'SLUGC_CACHE_REMOTE_DIGEST') {
          // A manifest whose bytes are not what the registry says: that layer is refused, the others still come.
          this.opts.log.warn(`Remote cache: refused ${tag} (${errorMessage(e)}).`);
          continue;
        }
        this.fail(`read ${tag}`, e);
        break;
      }
    }
    return out;
  }

  private async entry(tag: string): Promise<RemoteLayerEntry | null> {
    const got = await this.client.getManifest(tag);
    if (!got) return null;
    const a = got.manifest.annotations ?? {};
    const blob = got.manifest.layers?.[0];
    if (a[A.format] !== FORMAT || a[A.app] !== this.opts.app || !a[A.buildpack] || !a[A.layer] || !a[A.key] || !blob || blob.mediaType !== OCI_LAYER_MEDIA_TYPE) return null;
    let key: LayerKey;
    try {
      key = JSON.parse(a[A.key]!) as LayerKey;
    } catch {
      return null;
    }
    return { tag, buildpack: a[A.buildpack]!, layer: a[A.layer]!, key, created: a[A.created] ?? '', size: blob.size, files: Number(a[A.files] ?? 0), digest: blob.digest, launch: a[A.launch] === 'true' };
  }

  /**
   * Imports into the local cache (`<appCacheDir>/layers/...`) every layer of
   * the app the registry has that is missing locally, or newer than the
   * local one. Never throws.
   */
  async prefetch(appCacheDir: string): Promise<RemoteLayerReport[]> {
    if (this.down !== null) return [];
    const entries = await this.list();
    for (const e of entries) {
      if (this.down !== null) break;
      const id = `${e.buildpack}\0${e.layer}`;
      const local = intactLayer(appCacheDir, e.buildpack, e.layer);
      if (local && !local.linked && JSON.stringify(sortKeys(local.key)) === JSON.stringify(sortKeys(e.key))) {
        this.reports.set(id, { buildpack: e.buildpack, layer: e.layer, outcome: 'local', why: 'the local copy has the same key' });
        continue;
      }
      if (local && local.createdAt >= e.created) {
        this.reports.set(id, { buildpack: e.buildpack, layer: e.layer, outcome: 'local', why: 'the local copy is as new' });
        continue;
      }
      const started = performance.now();
      try {
        await this.importLayer(appCacheDir, e);
        const seconds = (performance.now() - started) / 1000;
        this.reports.set(id, { buildpack: e.buildpack, layer: e.layer, outcome: 'imported', bytes: e.size, seconds, why: `${formatBytes(e.size)} in ${seconds.toFixed(1)}s` });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'SLUGC_CACHE_REMOTE_DIGEST' || code === 'SLUGC_UNSAFE_ARCHIVE_PATH' || code === 'SLUGC_DOWNLOAD_FAILED') {
          // One bad layer: refused, the others still come.
          this.opts.log.warn(`Remote cache: refused ${e.layer} (${errorMessage(err)}); it is rebuilt.`);
          this.reports.set(id, { buildpack: e.buildpack, layer: e.layer, outcome: 'refused', why: errorMessage(err) });
        } else {
          this.fail(`download ${e.layer}`, err);
          this.reports.set(id, { buildpack: e.buildpack, layer: e.layer, outcome: 'failed', why: this.down ?? errorMessage(err) });
        }
      }
    }
    return [...this.reports.values()];
  }

  private async importLayer(appCacheDir: string, e: RemoteLayerEntry): Promise<void> {
    const stored = storedLayerPath(appCacheDir, e.buildpack, e.layer);
    fs.mkdirSync(path.dirname(stored), { recursive: true });
    const nonce = crypto.randomBytes(8).toString('hex');
    const blob = `${stored}.tmp-${process.pid}-${nonce}.tgz`;
    const tmp = `${stored}.tmp-${process.pid}-${nonce}`;
    try {
      const found = await this.client.getBlob(e.digest, blob);
      if (found === false) throw Object.assign(new Error(`its blob ${e.digest.slice(0, 19)}… is not in the registry`), { code: 'SLUGC_CACHE_REMOTE_DIGEST' });
      await extractArchive(blob, tmp, { format: 'tar.gz' });
      fs.writeFileSync(path.join(tmp, LAYER_ID_FILE), nonce);
      const now = new Date().toISOString();
      const meta: LayerMetadata = { format: 1, buildpack: e.buildpack, layer: e.layer, key: e.key, id: nonce, launch: e.launch, size: treeSize(tmp), files: e.files, createdAt: e.created || now, lastUsed: now };
      // Restores may link to it: the stat manifest lets a write through a link be noticed, as for local saves.
      meta.manifest = statManifestHash(tmp);
      commitLayerDir(stored, tmp, meta);
    } finally {
      fs.rmSync(blob, { force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Pushes the layers this build stored: blob first (skipped when the
   * registry has it), manifest last. Never throws.
   */
  async push(appCacheDir: string, layers: { buildpack: string; layer: string }[]): Promise<void> {
    for (const { buildpack, layer } of layers) {
      if (this.down !== null) return;
      const meta = intactLayer(appCacheDir, buildpack, layer);
      if (!meta || meta.linked) continue;
      const stored = storedLayerPath(appCacheDir, buildpack, layer);
      const tgz = `${stored}.tmp-${process.pid}-push.tgz`;
      const started = performance.now();
      try {
        // Deterministic (fixed mtime, sorted): the same tree gives the same blob, which the registry then has.
        const packed = await packDirectory({ dir: stored, output: tgz, mtime: 315532801, prefix: './', level: 1 });
        const digest = `sha256:${packed.sha256}`;
        await this.client.pushBlob(tgz, { digest, size: packed.size });
        await this.client.pushBlob(OCI_EMPTY_CONFIG_BYTES, { digest: OCI_EMPTY_CONFIG_DIGEST, size: OCI_EMPTY_CONFIG_BYTES.length });
        const manifest = ociLayerManifest({
          layerDigest: digest,
          layerSize: packed.size,
          annotations: {
            [A.format]: FORMAT,
            [A.app]: this.opts.app,
            [A.buildpack]: buildpack,
            [A.layer]: layer,
            [A.key]: JSON.stringify(meta.key),
            [A.created]: meta.createdAt,
            [A.files]: String(meta.files),
            [A.size]: String(meta.size),
            [A.launch]: String(meta.launch),
          },
        });
        await this.client.putManifest(layerTag(this.opts.app, buildpack, layer), manifest);
        this.opts.log.info(`cache: pushed ${layer} to the remote cache (${formatBytes(packed.size)} in ${((performance.now() - started) / 1000).toFixed(1)}s)`);
      } catch (e) {
        this.fail(`push ${layer}`, e);
      } finally {
        fs.rmSync(tgz, { force: true });
      }
    }
  }
}

function sortKeys(k: LayerKey): LayerKey {
  return Object.fromEntries(Object.entries(k).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
