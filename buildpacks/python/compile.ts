import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  SlugcError,
  VersionUnsatisfiableError,
  appFileExists,
  createDebianSource,
  dependencyLayer,
  installRuntimeLayer,
  parseJson,
  readAppFile,
  readConfigFile,
  refuseConflictingLockfiles,
  requestFrom,
  rewriteShebangs,
  runtimeSources,
  urlCredentials,
  type CompileContext,
  type InstalledRuntimeResult,
} from 'slugc/sdk';
import { PACKAGES_DIR, PYTHON_HOME } from './layout.js';
import { pipfileLockToRequirements, poetryLockToRequirements, uvLockToRequirements } from './lockfiles.js';
import { parsePythonVersionFile, parseRuntimeTxt, pep440ToSemverRange } from './pep440.js';
import { dirsSha256, requirementsInputs } from './requirements.js';

/** How the app declares its packages. */
export type PackageManager = 'pip' | 'pipenv' | 'poetry' | 'uv' | 'project' | 'none';

/** Options of the Python buildpack. */
export interface PythonBuildpackOptions {
  /** The version request when the app names none (default: the newest the sources offer). */
  defaultVersion?: string;
}

/**
 * Chooses the package manager from the app's files: one lockfile (or
 * requirements.txt) only; a Pipfile needs its Pipfile.lock; a pyproject.toml
 * or setup.py without either is installed as a project with pip.
 */
export function choosePackageManager(appDir: string): { manager: PackageManager; files: string[] } {
  const found = refuseConflictingLockfiles(
    appDir,
    { pip: ['requirements.txt'], pipenv: ['Pipfile.lock'], poetry: ['poetry.lock'], uv: ['uv.lock'] },
    { code: 'SLUGC_PYTHON_LOCKFILE_CONFLICT', what: 'Python package managers' },
  );
  if (!found && appFileExists(appDir, 'Pipfile')) {
    throw new SlugcError('SLUGC_PYTHON_LOCKFILE_MISSING', "Couldn't install from the Pipfile: there is no Pipfile.lock.", {
      hint: 'Run `pipenv lock` and commit Pipfile.lock (a build installs exactly what the lock pins).',
    });
  }
  if (found) return { manager: found.tool as PackageManager, files: found.files };
  if (appFileExists(appDir, 'pyproject.toml') || appFileExists(appDir, 'setup.py')) return { manager: 'project', files: [] };
  return { manager: 'none', files: [] };
}

/** Installs Python, the app's packages (cached on its requirement and lock files) and runs the hooks. */
export async function compilePython(ctx: CompileContext, options: PythonBuildpackOptions = {}): Promise<void> {
  const { manager, files } = choosePackageManager(ctx.appDir);
  const pyproject = readConfigFile(ctx.appDir, 'pyproject.toml', 'toml', { code: 'SLUGC_PYTHON_PYPROJECT_INVALID' });
  const request = pythonRequest(ctx.appDir, pyproject);

  ctx.log.step('Installing Python');
  const runtime = await installRuntimeLayer(ctx, {
    name: 'python',
    displayName: 'Python',
    ...request,
    defaultRequest: options.defaultVersion ?? '*',
    sources: runtimeSources(ctx.env, { lang: 'PYTHON', defaults: ['debian'], sources: { debian: () => createDebianSource() } }),
    path: PYTHON_HOME,
    env: { PYTHONPATH: `\${APP_DIR}/${PACKAGES_DIR}` },
    extraPath: [`${PACKAGES_DIR}/bin`],
    defaults: { PYTHONUNBUFFERED: '1', LANG: 'C.UTF-8' },
    profileD: 'python.sh',
  }).catch((e: unknown) => {
    if (e instanceof VersionUnsatisfiableError) {
      throw new VersionUnsatisfiableError('Python', e.requested, e.available, 'Request one of the available versions, or add a source that has it: SLUGC_PYTHON_INVENTORY=<url of an inventory file> (see docs/runtimes.md), or SLUGC_PYTHON_SOURCES=inventory,debian.');
    }
    throw e;
  });
  const python = findPython(runtime.dir, runtime.runtime);
  const pip = pipCommand(runtime.dir, python);
  const version = runtime.runtime.artifact.version;
  ctx.log.info(`Python ${version} at ${PYTHON_HOME} (pip ${pip.from})`);
  // Nothing the build runs writes .pyc files with build paths into the app.
  ctx.exportEnv({ PYTHONDONTWRITEBYTECODE: '1', PIP_ROOT_USER_ACTION: 'ignore', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_CONFIG_FILE: ctx.env.PIP_CONFIG_FILE ?? '/dev/null' });

  await runHook(ctx, 'pre_compile');

  ctx.log.step(`Installing packages (${describe(manager, files)})`);
  for (const v of ['PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_FIND_LINKS']) for (const u of (ctx.env[v] ?? '').split(/\s+/)) ctx.log.redact(urlCredentials(u));
  const inputs = manager === 'pip' ? requirementsInputs(ctx.appDir, 'requirements.txt') : { files: files, findLinks: [], indexUrls: [] };
  for (const u of inputs.indexUrls) ctx.log.redact(urlCredentials(u));
  const projectFiles = ['pyproject.toml', 'setup.py', 'setup.cfg'].filter((f) => appFileExists(ctx.appDir, f));
  const deps = dependencyLayer(ctx, {
    name: 'python-packages',
    path: PACKAGES_DIR,
    lockfiles: [...new Set([...inputs.files, ...files, ...projectFiles])],
    key: {
      python: version,
      python_checksum: runtime.runtime.artifact.checksum,
      manager,
      find_links_sha256: dirsSha256(ctx.appDir, inputs.findLinks),
      // A hash, never the URLs themselves: they may carry credentials, and keys are shown in logs.
      index_settings_sha256: indexSettingsHash(ctx.env),
    },
    optOut: 'SLUGC_PYTHON_CACHE',
  });
  const target = deps.dir;
  const install = (args: string[], hint: string) =>
    ctx.exec(pip.command[0]!, [...pip.command.slice(1), 'install', '--target', target, '--no-compile', '--no-warn-script-location', '--progress-bar', 'off', '--cache-dir', path.join(ctx.cacheDir, 'pip-cache'), ...args], { hint });
  const installsProject = manager === 'project' || (manager !== 'pip' && manager !== 'none' && hasBuildSystem(pyproject));

  if (deps.hit) {
    ctx.log.info(`${Object.keys(deps.lockfiles).join(', ')} unchanged: packages restored from the cache, pip not run`);
  } else if (manager === 'pip') {
    await install(['-r', 'requirements.txt'], 'pip could not install requirements.txt; its message is above. Check the names, versions and index settings (PIP_INDEX_URL, --find-links).');
  } else if (manager === 'pipenv' || manager === 'uv' || manager === 'poetry') {
    const lockText = readAppFile(ctx.appDir, files[0]!)!;
    const converted = manager === 'pipenv' ? pipfileLockToRequirements(lockText, files[0]) : manager === 'uv' ? uvLockToRequirements(lockText, files[0]) : poetryLockToRequirements(lockText, files[0], pyproject ?? undefined);
    const lockedFile = path.join(ctx.tmpDir, `requirements-from-${manager}.txt`);
    // pip checks hashes for a whole file or not at all: a lock with some packages unhashed is refused
    // rather than silently installing everything unchecked.
    if (converted.unhashed.length && converted.unhashed.length < converted.packages.length) {
      throw new SlugcError('SLUGC_PYTHON_LOCKFILE_UNHASHED', `Couldn't install from ${files[0]} with hash checking: it has no hash for ${converted.unhashed.join(', ')}.`, {
        hint: `Lock again so that every package has its hashes (e.g. \`${manager === 'pipenv' ? 'pipenv lock' : manager === 'uv' ? 'uv lock' : 'poetry lock'}\`), or publish those packages to an index the lock can hash.`,
      });
    }
    fs.writeFileSync(lockedFile, converted.requirements);
    ctx.log.info(`${files[0]}: ${converted.packages.length} package${converted.packages.length === 1 ? '' : 's'} pinned${converted.unhashed.length ? `; without hashes: ${converted.unhashed.join(', ')}` : ', every one hash-checked'}`);
    if (converted.packages.length) await install(['--no-deps', '-r', lockedFile], `pip could not install what ${files[0]} pins; its message is above.`);
  } else if (manager === 'project') {
    await install(['.'], 'pip could not build or install the project; its message is above (a PEP 517 backend must be installable without network unless an index is set).');
  } else {
    ctx.log.info('No requirements.txt, lockfile or pyproject.toml: no packages to install');
  }
  if (!deps.hit) {
    relocate(ctx, target);
    await compileBytecode(ctx, python, target);
    await deps.save();
  }
  // The project itself changes with every commit: installed on top of the cached dependencies each build.
  if (installsProject && (deps.hit || manager !== 'project')) {
    await install(['--no-deps', '--upgrade', '.'], 'pip could not build or install the project itself; its message is above.');
    relocate(ctx, target);
    await compileBytecode(ctx, python, target);
  }

  await runHook(ctx, 'post_compile');
  await collectstatic(ctx, python, target);
}

/** The version request: .python-version, runtime.txt, Pipfile.lock, uv.lock, pyproject.toml's requires-python, in that order. */
function pythonRequest(appDir: string, pyproject: Record<string, unknown> | null): { request?: string; requestFrom?: string } {
  const r = requestFrom(appDir, [
    { file: '.python-version', read: (t, f) => parsePythonVersionFile(t, f) },
    { file: 'runtime.txt', read: (t, f) => parseRuntimeTxt(t, f) },
    {
      file: 'Pipfile.lock',
      label: 'Pipfile.lock (_meta.requires)',
      read: (t, f) => {
        const meta = ((parseJson(t, f) as { _meta?: { requires?: { python_full_version?: string; python_version?: string } } })?._meta?.requires) ?? {};
        return meta.python_full_version ?? meta.python_version;
      },
    },
    {
      file: 'uv.lock',
      label: 'requires-python in uv.lock',
      read: (t, f) => {
        const m = /^requires-python\s*=\s*"([^"]+)"/m.exec(t);
        return m ? pep440ToSemverRange(m[1]!, f, t.slice(0, m.index).split('\n').length) : undefined;
      },
    },
  ]);
  if (r.request) return { request: r.request, requestFrom: r.from! };
  const requires = (pyproject?.project as { 'requires-python'?: unknown } | undefined)?.['requires-python'];
  if (typeof requires === 'string') return { request: pep440ToSemverRange(requires, 'pyproject.toml'), requestFrom: 'requires-python in pyproject.toml' };
  return {};
}

/** The interpreter in the runtime: `python3` in one of its bin dirs. */
function findPython(dir: string, runtime: InstalledRuntimeResult): string {
  for (const b of runtime.binDirs) {
    for (const name of ['python3', 'python']) {
      const p = path.join(dir, b, name);
      if (fs.existsSync(p)) return p;
    }
  }
  throw new SlugcError('SLUGC_PYTHON_RUNTIME_INVALID', `Couldn't find python3 in the Python ${runtime.artifact.version} runtime from ${runtime.source}.`, { hint: 'The runtime must have bin/python3 (or usr/bin/python3) in one of its binDirs.' });
}

/** How to run pip: from the wheel the runtime carries (Debian's python3-pip-whl), else the runtime's own `-m pip`. */
function pipCommand(dir: string, python: string): { command: string[]; from: string } {
  for (const wheels of ['usr/share/python-wheels', 'share/python-wheels', 'lib/python-wheels']) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(path.join(dir, wheels));
    } catch {
      continue;
    }
    const wheel = names.filter((n) => /^pip-[\d.]+-py3-none-any\.whl$/.test(n)).sort().pop();
    if (wheel) return { command: [python, path.join(dir, wheels, wheel, 'pip')], from: `from ${wheel}` };
  }
  return { command: [python, '-m', 'pip'], from: 'of the runtime' };
}

/** sha256 of the pip settings in the build env that change what gets installed; null when none is set. */
function indexSettingsHash(env: Readonly<Record<string, string>>): string | null {
  const settings = Object.entries(env)
    .filter(([k]) => /^PIP_(INDEX_URL|EXTRA_INDEX_URL|FIND_LINKS|NO_INDEX|TRUSTED_HOST|PRE|ONLY_BINARY|NO_BINARY|CONSTRAINT)$/.test(k))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return settings.length ? crypto.createHash('sha256').update(JSON.stringify(settings)).digest('hex') : null;
}

function hasBuildSystem(pyproject: Record<string, unknown> | null): boolean {
  return Boolean(pyproject && typeof pyproject['build-system'] === 'object');
}

function describe(manager: PackageManager, files: string[]): string {
  return { pip: 'pip, requirements.txt', pipenv: 'Pipfile.lock, with pip', poetry: 'poetry.lock, with pip', uv: 'uv.lock, with pip', project: 'the project, with pip', none: 'nothing to install' }[manager] + (files.length > 1 ? ` (${files.join(', ')})` : '');
}

/**
 * Makes the installed packages work wherever the slug is unpacked: console
 * scripts run the interpreter on PATH, `direct_url.json` records that name
 * the build dir are dropped, and bytecode is compiled with paths relative to
 * the app (deterministic: hash-based, not mtime-based).
 */
function relocate(ctx: CompileContext, target: string): void {
  const scripts = rewriteShebangs([path.join(target, 'bin')], { root: ctx.appDir });
  if (scripts.length) ctx.log.info(`Made ${scripts.length} console script${scripts.length > 1 ? 's' : ''} relocatable`);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(target).filter((n) => n.endsWith('.dist-info'));
  } catch {
    return;
  }
  for (const d of entries) {
    const file = path.join(target, d, 'direct_url.json');
    try {
      // A local install (file: URL) names the build dir, perhaps percent-encoded: drop it.
      const text = fs.readFileSync(file, 'utf8');
      if (text.includes(ctx.appDir) || /"url"\s*:\s*"file:/.test(text)) fs.rmSync(file);
    } catch {
      /* none */
    }
  }
}

/** Compiles the packages' bytecode with paths relative to the app and hash-based validation (the same bytes every build). */
async function compileBytecode(ctx: CompileContext, python: string, target: string): Promise<void> {
  if (!fs.existsSync(target) || fs.readdirSync(target).length === 0) return;
  await ctx.exec(python, ['-m', 'compileall', '-q', '-j', '0', '-s', ctx.appDir, '--invalidation-mode', 'unchecked-hash', target], { hint: 'Compiling the installed packages failed; the output above names the file.', quiet: true });
}

/** Runs `bin/<name>` of the app when it has one, as Heroku's Python buildpack does. */
async function runHook(ctx: CompileContext, name: string): Promise<void> {
  const rel = `bin/${name}`;
  if (!appFileExists(ctx.appDir, rel)) return;
  ctx.log.step(`Running ${rel}`);
  const file = path.join(ctx.appDir, rel);
  fs.chmodSync(file, fs.statSync(file).mode | 0o755);
  await ctx.exec(file, [], { hint: `The app's ${rel} failed; its output is above.` });
}

/** Django's `manage.py collectstatic --noinput` when Django is installed, unless DISABLE_COLLECTSTATIC is set. */
async function collectstatic(ctx: CompileContext, python: string, target: string): Promise<void> {
  if (!appFileExists(ctx.appDir, 'manage.py') || !fs.existsSync(path.join(target, 'django'))) return;
  if (ctx.env.DISABLE_COLLECTSTATIC && ctx.env.DISABLE_COLLECTSTATIC !== '0') {
    ctx.log.info('DISABLE_COLLECTSTATIC is set: collectstatic skipped');
    return;
  }
  ctx.log.step('Running manage.py collectstatic');
  await ctx.exec(python, ['manage.py', 'collectstatic', '--noinput'], {
    hint: 'collectstatic failed (output above). Fix the static files settings, or set DISABLE_COLLECTSTATIC=1 to skip it.',
  });
}

