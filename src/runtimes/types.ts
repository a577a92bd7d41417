import type { SharedDownloads } from '../net/download.js';
import type { Logger } from '../log.js';

/** Archive formats runtimes come in. */
export type ArchiveFormat = 'tar' | 'tar.gz' | 'tar.xz' | 'tar.zst' | 'zip' | 'deb';

/** One installable runtime artifact: a version for an os/arch/stack, where to get it, and its checksum. */
export interface RuntimeArtifact {
  /** The runtime's name, e.g. `node`, `python`, `ruby`, `jdk`. */
  name: string;
  /** A semver version, e.g. `22.11.0`, `3.11.2`, `17.0.15`. */
  version: string;
  /** `linux`. */
  os: string;
  /** `x64` or `arm64` (Node's names). */
  arch: string;
  /** Stacks it runs on (`debian-12`, `heroku-24`); absent means any. */
  stacks?: string[];
  /** Where to download it (rewritten by a mirror). */
  url: string;
  /** `sha256:<hex>`, `sha512:<hex>` or `sha512-<base64>`. */
  checksum: string;
  /** Leading path components to drop when extracting. */
  stripComponents?: number;
  /** The archive format; guessed from the URL when absent. */
  format?: ArchiveFormat;
  /** Source-specific data (e.g. the Debian packages that make up a runtime). */
  meta?: Record<string, unknown>;
}

/** What every runtime source gets. */
export interface SourceContext {
  /** The cache root: downloads go to `<cacheRoot>/downloads/<algorithm>/<hex>`. */
  cacheRoot: string;
  /** The `fetch` to use for http(s). */
  fetch: typeof globalThis.fetch;
  /** The build log. */
  log: Logger;
  /** The stack the runtime must run on. */
  stack: string;
  /** `linux`. */
  os: string;
  /** `x64` or `arm64`. */
  arch: string;
  /** A mirror base URL (http(s) or file://) that artifact URLs are rewritten to. */
  mirror?: string;
  /** Only the cache and the mirror may be used; anything else fails at once. */
  offline: boolean;
  /** A temp dir for the build. */
  tmpDir: string;
  /** Cancels work. */
  signal?: AbortSignal;
  /** Documents already fetched in this build, by URL (so each is fetched once per build). */
  memo?: Map<string, unknown>;
  /** Seconds a cached registry document or inventory is used without asking (`SLUGC_METADATA_TTL`); default from the env, else 0. */
  metadataTtlSeconds?: number;
  /** Milliseconds to wait for a document before using the cached copy (`SLUGC_METADATA_TIMEOUT_MS`); default from the env, else 5000. */
  metadataTimeoutMs?: number;
  /** A fleet's shared store of verified downloads (the remote cache), asked before the origin. */
  sharedDownloads?: SharedDownloads;
}

/** A place runtimes come from: lists candidates, installs one into a dir. */
export interface RuntimeSource {
  /** e.g. `inventory`, `npm`, `debian`. */
  kind: string;
  /**
   * Set when this source installs a different subset of the same artifact
   * than another source would (e.g. only `bin/`): installed runtimes are
   * stored per artifact checksum and variant.
   */
  variant?: string;
  /** A description for logs, e.g. the inventory URL. */
  describe(): string;
  /** Named versions this source defines for `name` (e.g. an inventory's `lts`). */
  aliases?(name: string, ctx: SourceContext): Promise<Record<string, string>>;
  /** The artifacts of `name` this source can install, any order. */
  list(name: string, ctx: SourceContext): Promise<RuntimeArtifact[]>;
  /** Downloads (verified) and installs one artifact into `dest` (created; must be empty or absent). */
  install(artifact: RuntimeArtifact, dest: string, ctx: SourceContext): Promise<InstalledRuntime>;
}

/** What an install produced. */
export interface InstalledRuntime {
  /** The dir the runtime was installed into. */
  dir: string;
  /** Dirs to put on PATH, relative to `dir`. */
  binDirs: string[];
  /** Env vars the runtime needs at build and run time, values relative to `dir` marked `${RUNTIME_DIR}`. */
  env: Record<string, string>;
  /** Shared libraries it needs that the stack must provide (from ldd), if known. */
  systemLibraries?: string[];
}

/** A runtime a buildpack installed, reported in `slug.json`. */
export interface RuntimeRecord {
  /** e.g. `node`. */
  name: string;
  /** e.g. `20.19.5`. */
  version: string;
  /** Where it came from, e.g. the tarball URL. */
  source?: string;
  /** The checksum it was verified with. */
  checksum?: string;
  /** Why this version was chosen, one line per step. */
  trace?: string[];
}
