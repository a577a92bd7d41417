import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { SlugcError, createNpmSource, installRuntimeLayer, runtimeSources, type CompileContext, type RegistryConfig, type RuntimeLayer } from 'slugc/sdk';

/** A package manager that comes as an npm package: yarn 1, yarn 2+ (`@yarnpkg/cli-dist`), pnpm. */
export interface ToolSpec {
  /** The runtime name, and the dir under `.heroku/`: `yarn`, `pnpm`. */
  name: 'yarn' | 'pnpm';
  /** The npm package carrying it. */
  package: string;
  /** Commands and the JS file each runs, relative to the package. */
  bins: Record<string, string>;
}

/** yarn 1 (classic). */
export const YARN_CLASSIC: ToolSpec = { name: 'yarn', package: 'yarn', bins: { yarn: 'bin/yarn.js', yarnpkg: 'bin/yarn.js' } };
/** yarn 2 and later, as published for installing without Corepack. */
export const YARN_BERRY: ToolSpec = { name: 'yarn', package: '@yarnpkg/cli-dist', bins: { yarn: 'bin/yarn.js', yarnpkg: 'bin/yarn.js' } };
/** pnpm. */
export const PNPM: ToolSpec = { name: 'pnpm', package: 'pnpm', bins: { pnpm: 'bin/pnpm.cjs', pnpx: 'bin/pnpx.cjs' } };

/** The error code of a package manager version that cannot run on the chosen Node. */
export const TOOL_INCOMPATIBLE = 'SLUGC_NODEJS_TOOL_INCOMPATIBLE';

/**
 * Installs a package manager through the runtime mechanism: resolved in the
 * npm registry's document of its package (mirror and offline aware, the
 * tarball checked against the registry's sha512 integrity and, when
 * `packageManager` carries one, its own hash), unpacked once into the
 * cache's runtime store and linked into `.heroku/<name>` as a launch layer,
 * with small `sh` shims on PATH (`.heroku/<name>/shims`) for the build and
 * at boot. No Corepack: Node 25 no longer ships it.
 */
export async function installTool(
  ctx: CompileContext,
  spec: ToolSpec,
  options: { request: string; requestFrom: string; registry: RegistryConfig; nodeVersion: string; hash?: { algorithm: string; hex: string } | null },
): Promise<RuntimeLayer> {
  const rel = `.heroku/${spec.name}`;
  const layer = await installRuntimeLayer(ctx, {
    name: spec.name,
    displayName: spec.package,
    request: options.request,
    requestFrom: options.requestFrom,
    defaultRequest: options.request,
    sources: runtimeSources(ctx.env, {
      lang: spec.name.toUpperCase(),
      defaults: ['npm'],
      sources: { npm: () => createNpmSource({ package: spec.package, runtime: spec.name, registry: options.registry, binDirs: [] }) },
    }),
    path: rel,
    layer: spec.name,
    key: { package: spec.package },
    extraPath: [`${rel}/shims`],
    populate: (dir) => writeShims(dir, spec),
  });
  const { artifact } = layer.runtime;
  const engine = (artifact.meta?.engines as Record<string, string> | undefined)?.node;
  if (engine && !semver.satisfies(options.nodeVersion, engine, { includePrerelease: true })) {
    throw new SlugcError(TOOL_INCOMPATIBLE, `Unable to install ${spec.name} ${artifact.version}: is ${spec.name} ${artifact.version} compatible with this Node.js version? It needs Node ${engine}; the app gets Node ${options.nodeVersion}.`, {
      hint: `Request a ${spec.name} that supports Node ${options.nodeVersion} (${options.requestFrom}), or a Node in ${engine} (engines.node).`,
    });
  }
  if (options.hash) checkPackageManagerHash(spec, artifact.version, artifact.checksum, options.hash);
  return layer;
}

/** `packageManager: pnpm@9.1.0+sha512.<hex>` must name the tarball the registry serves (sha512 is what registries publish). */
function checkPackageManagerHash(spec: ToolSpec, version: string, integrity: string, hash: { algorithm: string; hex: string }): void {
  const m = /^sha512-(.+)$/.exec(integrity);
  if (hash.algorithm !== 'sha512' || !m) return; // other digests cannot be compared with the registry's integrity
  const registryHex = Buffer.from(m[1]!, 'base64').toString('hex');
  if (registryHex !== hash.hex.toLowerCase()) {
    throw new SlugcError('SLUGC_CHECKSUM_MISMATCH', `Couldn't use ${spec.name} ${version}: packageManager in package.json pins sha512 ${hash.hex.slice(0, 16)}…, the registry's tarball is ${registryHex.slice(0, 16)}….`, {
      hint: 'Check the registry (a mirror serving another build of it?), or update the hash in packageManager (corepack use <tool>@<version> writes it).',
    });
  }
}

/** Writes `shims/<command>` scripts that run the tool's JS with the Node on PATH (re-written on every build; not cached). */
function writeShims(dir: string, spec: ToolSpec): void {
  const shims = path.join(dir, 'shims');
  fs.mkdirSync(shims, { recursive: true });
  for (const [cmd, file] of Object.entries(spec.bins)) {
    if (!fs.existsSync(path.join(dir, file))) continue;
    const p = path.join(shims, cmd);
    fs.rmSync(p, { force: true });
    fs.writeFileSync(p, `#!/bin/sh\n# Written by slugc: runs ${spec.package}'s ${file} with the app's Node.\nexec node "$(dirname "$0")/../${file}" "$@"\n`, { mode: 0o755 });
  }
}
