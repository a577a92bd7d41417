import semver from 'semver';
import { SlugcError, appFileExists, readAppFile, readConfigFile } from 'slugc/sdk';
import { PACKAGE_JSON_INVALID, type PackageJson } from './package-json.js';

/** The package managers the Node.js buildpack runs. */
export type PackageManagerName = 'npm' | 'yarn' | 'pnpm';

/** The error code of package.json fields and lockfiles that name different package managers. */
export const PACKAGE_MANAGER_CONFLICT = 'SLUGC_NODEJS_PACKAGE_MANAGER_CONFLICT';

/** One place that names a package manager. */
export interface Declaration {
  tool: PackageManagerName;
  /** Where: `yarn.lock`, `packageManager in package.json`, `engines.pnpm in package.json`. */
  from: string;
  /** The version or range it asks for, if any. */
  request?: string;
}

/** The package manager an app is built with, and why. */
export interface PackageManagerChoice {
  tool: PackageManagerName;
  /** The lockfile in the app root, or null. */
  lockfile: string | null;
  /** A version or range to install (`9.1.0`, `1.x`); null for npm's own rule. */
  request: string | null;
  /** Where the request came from, for the log. */
  requestFrom: string | null;
  /** Yarn 2 and later (a `.yarnrc.yml`, a berry lockfile, or a version request of 2 or more). */
  berry: boolean;
  /** Berry's `yarnPath` (a committed release, relative to the app), when set. */
  yarnPath: string | null;
  /** Berry's `nodeLinker` (`pnp` by default). */
  nodeLinker: string | null;
  /** Every declaration found (for the log). */
  declarations: Declaration[];
  /** The sha of `packageManager` (`sha512.<hex>`), to check against the registry's integrity. */
  packageManagerHash: { algorithm: string; hex: string } | null;
}

const LOCKFILES: { file: string; tool: PackageManagerName }[] = [
  { file: 'npm-shrinkwrap.json', tool: 'npm' },
  { file: 'package-lock.json', tool: 'npm' },
  { file: 'yarn.lock', tool: 'yarn' },
  { file: 'pnpm-lock.yaml', tool: 'pnpm' },
];

/**
 * Picks the package manager from the lockfiles, `packageManager` and
 * `engines.yarn` / `engines.pnpm` in package.json, as Heroku's Node.js
 * buildpack does: `packageManager` gives the version when present (it wins
 * over `engines`), else `engines.<tool>`; declarations naming different
 * tools (two lockfiles, a yarn.lock with `packageManager: pnpm@...`,
 * `engines.pnpm` beside a package-lock.json...) fail with one message that
 * lists every declaration and where it came from. `engines.npm` names the
 * npm to use, not the package manager: npm is installed with Node anyway.
 */
export function choosePackageManager(appDir: string, pkg: PackageJson): PackageManagerChoice {
  const declarations: Declaration[] = [];
  const lockfiles = LOCKFILES.filter((l) => appFileExists(appDir, l.file));
  for (const l of lockfiles) declarations.push({ tool: l.tool, from: l.file });
  let pmHash: PackageManagerChoice['packageManagerHash'] = null;
  let pmVersion: string | undefined;
  if (pkg.packageManager !== undefined) {
    const m = /^(npm|yarn|pnpm)@([^+\s]+)(?:\+(sha1|sha224|sha256|sha384|sha512)\.([0-9a-f]+))?$/.exec(pkg.packageManager.trim());
    if (!m || !semver.valid(m[2]!)) {
      throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read packageManager ${JSON.stringify(pkg.packageManager)} in package.json: expected <npm|yarn|pnpm>@<exact version>[+sha512.<hex>].`, {
        hint: 'Write e.g. "packageManager": "pnpm@9.12.0" (the form Corepack writes), or remove it.',
      });
    }
    pmVersion = m[2]!;
    if (m[3]) pmHash = { algorithm: m[3], hex: m[4]! };
    declarations.push({ tool: m[1] as PackageManagerName, from: 'packageManager in package.json', request: pmVersion });
  }
  for (const tool of ['yarn', 'pnpm'] as const) {
    const request = pkg.engines?.[tool];
    if (request === undefined) continue;
    if (!semver.validRange(normalizeRange(request))) {
      throw new SlugcError(PACKAGE_JSON_INVALID, `Couldn't read engines.${tool} ${JSON.stringify(request)} in package.json: not a semver range.`, { hint: `Use a range such as "${tool === 'yarn' ? '1.x' : '9.x'}".` });
    }
    declarations.push({ tool, from: `engines.${tool} in package.json`, request });
  }
  const tools = [...new Set(declarations.map((d) => d.tool))];
  if (tools.length > 1) {
    throw new SlugcError(PACKAGE_MANAGER_CONFLICT, `Couldn't tell which package manager to use: the app names ${tools.join(' and ')}:\n${declarations.map((d) => `  - ${d.tool}${d.request ? ` ${d.request}` : ''}: ${d.from}`).join('\n')}`, {
      hint: 'Keep one: delete the other lockfile, and make packageManager and engines in package.json name the package manager whose lockfile you commit.',
      details: { declarations },
    });
  }
  const tool: PackageManagerName = tools[0] ?? 'npm';
  // npm-shrinkwrap.json wins over package-lock.json, as for npm ci.
  const lockfile = lockfiles.find((l) => l.tool === tool)?.file ?? null;
  const engine = tool === 'npm' ? undefined : pkg.engines?.[tool];
  if (pmVersion !== undefined && engine !== undefined && !semver.satisfies(pmVersion, normalizeRange(engine))) {
    throw new SlugcError(PACKAGE_MANAGER_CONFLICT, `Couldn't tell which ${tool} to use: packageManager in package.json asks for ${tool}@${pmVersion}, engines.${tool} for ${JSON.stringify(engine)}.`, {
      hint: `Make them agree (packageManager is the exact version, engines.${tool} a range it satisfies), or remove one.`,
      details: { declarations },
    });
  }
  const request = pmVersion ?? (tool === 'npm' ? null : (engine ?? null));
  const requestFrom = pmVersion !== undefined ? 'packageManager in package.json' : engine !== undefined ? `engines.${tool} in package.json` : null;

  let berry = false;
  let yarnPath: string | null = null;
  let nodeLinker: string | null = null;
  if (tool === 'yarn') {
    const rc = readConfigFile(appDir, '.yarnrc.yml', 'yaml', { code: 'SLUGC_NODEJS_YARNRC_INVALID', hint: 'Fix the YAML syntax of .yarnrc.yml (yarn 2+ reads it), or remove it.' });
    if (rc !== null && (typeof rc !== 'object' || Array.isArray(rc))) {
      throw new SlugcError('SLUGC_NODEJS_YARNRC_INVALID', "Couldn't read .yarnrc.yml: it must be a YAML mapping (key: value lines).", { hint: 'Write settings such as `nodeLinker: node-modules`, or remove the file.' });
    }
    const settings = (rc ?? {}) as Record<string, unknown>;
    for (const key of ['yarnPath', 'nodeLinker'] as const) {
      if (settings[key] !== undefined && typeof settings[key] !== 'string') {
        throw new SlugcError('SLUGC_NODEJS_YARNRC_INVALID', `Couldn't read ${key} in .yarnrc.yml: expected a string, got ${JSON.stringify(settings[key])}.`, { hint: key === 'yarnPath' ? 'Point it at the committed release, e.g. .yarn/releases/yarn-4.5.0.cjs.' : 'Use pnp, pnpm or node-modules.' });
      }
    }
    yarnPath = (settings.yarnPath as string | undefined) ?? null;
    nodeLinker = (settings.nodeLinker as string | undefined) ?? null;
    if (yarnPath !== null && !appFileExists(appDir, yarnPath)) {
      throw new SlugcError('SLUGC_NODEJS_YARNRC_INVALID', `Couldn't find the yarn release ${yarnPath} that yarnPath in .yarnrc.yml names.`, { hint: 'Commit the release file (yarn set version writes it under .yarn/releases/), or remove yarnPath.' });
    }
    const lockText = lockfile ? (readAppFile(appDir, lockfile) ?? '') : '';
    const requested = request ? semver.minVersion(normalizeRange(request)) : null;
    const hasRc = appFileExists(appDir, '.yarnrc.yml');
    berry = hasRc || /^__metadata:/m.test(lockText) || (requested !== null && requested.major >= 2);
    if (berry && requested !== null && requested.major < 2) {
      throw new SlugcError(PACKAGE_MANAGER_CONFLICT, `Couldn't tell which yarn to use: ${requestFrom} asks for yarn ${request}, but the app is set up for yarn 2 or later (${hasRc ? '.yarnrc.yml' : 'a yarn 2+ yarn.lock'}).`, {
        hint: 'Request yarn 2 or later, or remove .yarnrc.yml and regenerate yarn.lock with yarn 1.',
      });
    }
  }
  return { tool, lockfile, request, requestFrom, berry, yarnPath, nodeLinker, declarations, packageManagerHash: pmHash };
}

/**
 * `engines` ranges as Heroku reads them: `= 0.8.x` and `>= 18 < 21` (spaces
 * after operators) are what people write and npm accepts; semver does too
 * once the space after an operator is dropped.
 */
export function normalizeRange(range: string): string {
  return range.trim().replace(/(<=|>=|<|>|=|~|\^)\s+/g, '$1');
}
