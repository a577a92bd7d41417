import { SlugcError } from 'slugc/sdk';

/** One locked gem: `name (version[-platform])` under `specs:`. */
export interface LockedSpec {
  name: string;
  version: string;
  /** e.g. `x86_64-linux`; undefined for plain `ruby` gems. */
  platform?: string;
  /** Its dependencies as locked (`name` -> requirement, `''` when none). */
  dependencies: Record<string, string>;
}

/** One source section: GEM, GIT, PATH or PLUGIN SOURCE. */
export interface LockedSource {
  type: string;
  /** `remote:`, `revision:`, ... as written. */
  options: Record<string, string>;
  specs: LockedSpec[];
}

/** What a `Gemfile.lock` says. */
export interface GemfileLock {
  sources: LockedSource[];
  platforms: string[];
  /** The Gemfile's direct dependencies (`name` -> requirement, `''` when none). */
  dependencies: Record<string, string>;
  /** `RUBY VERSION` as written, e.g. `ruby 3.1.2p20`. */
  rubyVersion?: string;
  /** `BUNDLED WITH`, e.g. `2.3.15`. */
  bundledWith?: string;
  /** Every locked gem name, from every source. */
  gems: Set<string>;
}

const SOURCE_SECTIONS = new Set(['GEM', 'GIT', 'PATH', 'PLUGIN SOURCE']);

/**
 * Parses a `Gemfile.lock` (Bundler's lockfile format: unindented section
 * names, two-space entries, specs at four spaces and their dependencies at
 * six). Sections it does not know (e.g. `CHECKSUMS`) are skipped whole. A
 * line that fits nowhere, or a merge conflict left in the file, is
 * `SLUGC_RUBY_LOCKFILE_INVALID` naming the file and line.
 */
export function parseGemfileLock(text: string, file = 'Gemfile.lock'): GemfileLock {
  const lock: GemfileLock = { sources: [], platforms: [], dependencies: {}, gems: new Set() };
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const fail = (i: number, why: string): never => {
    throw new SlugcError('SLUGC_RUBY_LOCKFILE_INVALID', `Couldn't parse ${file} at line ${i + 1}: ${why}.`, {
      hint: `Fix ${file} at line ${i + 1}, or make it again with \`bundle lock\` and commit it.`,
      details: { file, line: i + 1 },
    });
  };
  let section: string | null = null;
  let source: LockedSource | null = null;
  let inSpecs = false;
  let spec: LockedSpec | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^(<{7}|={7}|>{7})/.test(line)) fail(i, 'a merge conflict marker is left in the file');
    if (line.trim() === '') {
      section = null;
      source = null;
      spec = null;
      inSpecs = false;
      continue;
    }
    if (!/^\s/.test(line)) {
      if (!/^[A-Z][A-Z ]*[A-Z]$/.test(line)) fail(i, `expected a section name such as GEM, PLATFORMS or DEPENDENCIES, found ${JSON.stringify(line.slice(0, 60))}`);
      if (section !== null) fail(i, `section ${line} starts without a blank line after ${section}`);
      section = line;
      spec = null;
      inSpecs = false;
      if (SOURCE_SECTIONS.has(line)) {
        source = { type: line, options: {}, specs: [] };
        lock.sources.push(source);
      }
      continue;
    }
    if (section === null) fail(i, 'an indented line outside any section');
    const indent = /^ */.exec(line)![0].length;
    if (/\t/.test(line.slice(0, indent + 1))) fail(i, 'tabs are not allowed for indentation');
    const body = line.trim();
    if (source) {
      if (indent === 2) {
        spec = null;
        if (body === 'specs:') {
          inSpecs = true;
          continue;
        }
        const m = /^([a-z_]+):(?: (.*))?$/.exec(body);
        if (!m) fail(i, `expected "key: value" or "specs:" in ${section}, found ${JSON.stringify(body.slice(0, 60))}`);
        source.options[m![1]!] = m![2] ?? '';
        inSpecs = false;
      } else if (indent === 4 && inSpecs) {
        const m = /^([A-Za-z0-9][A-Za-z0-9._-]*) \(([^()\s]+)\)$/.exec(body);
        if (!m) fail(i, `expected a locked gem as "name (version)", found ${JSON.stringify(body.slice(0, 60))}`);
        const [version, ...platform] = m![2]!.split('-');
        if (!/^\d+(\.[0-9A-Za-z]+)*$/.test(version!)) fail(i, `${JSON.stringify(m![2])} is not a gem version`);
        spec = { name: m![1]!, version: version!, ...(platform.length ? { platform: platform.join('-') } : {}), dependencies: {} };
        source.specs.push(spec);
        lock.gems.add(spec.name);
      } else if (indent === 6 && spec) {
        const dep = parseDependency(body);
        if (!dep) fail(i, `expected a dependency as "name" or "name (requirement)", found ${JSON.stringify(body.slice(0, 60))}`);
        spec.dependencies[dep!.name] = dep!.requirement;
      } else {
        fail(i, `unexpected indentation (${indent} spaces) in ${section}`);
      }
      continue;
    }
    switch (section) {
      case 'PLATFORMS':
        if (indent !== 2 || !/^[A-Za-z0-9_.-]+$/.test(body)) fail(i, `expected a platform such as "ruby" or "x86_64-linux", found ${JSON.stringify(body.slice(0, 60))}`);
        lock.platforms.push(body);
        break;
      case 'DEPENDENCIES': {
        const dep = indent === 2 ? parseDependency(body.replace(/!$/, '')) : null;
        if (!dep) fail(i, `expected a dependency as "name", "name!" or "name (requirement)", found ${JSON.stringify(body.slice(0, 60))}`);
        lock.dependencies[dep!.name] = dep!.requirement;
        break;
      }
      case 'RUBY VERSION':
        if (lock.rubyVersion !== undefined || !/^\S+ \S+/.test(body)) fail(i, `expected one line such as "ruby 3.1.2p20", found ${JSON.stringify(body.slice(0, 60))}`);
        lock.rubyVersion = body;
        break;
      case 'BUNDLED WITH':
        if (lock.bundledWith !== undefined || !/^\d+(\.\d+)*(\.[a-z]+\d*)?$/.test(body)) fail(i, `expected a Bundler version such as "2.3.15", found ${JSON.stringify(body.slice(0, 60))}`);
        lock.bundledWith = body;
        break;
      default:
        // CHECKSUMS and sections newer Bundlers add: not needed here.
        break;
    }
  }
  return lock;
}

/** `name` or `name (req, req)`; null when it is neither. */
function parseDependency(body: string): { name: string; requirement: string } | null {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?: \(([^()]*)\))?$/.exec(body);
  return m ? { name: m[1]!, requirement: m[2] ?? '' } : null;
}

/**
 * The Ruby version `RUBY VERSION` names, without the patch level:
 * `ruby 3.1.2p20` -> `3.1.2`. Another engine (`ruby 3.1.4 (jruby 9.4.5.0)`)
 * is refused: only MRI is built.
 */
export function lockedRubyVersion(rubyVersion: string, file = 'Gemfile.lock'): string {
  const m = /^ruby (\d+\.\d+\.\d+)(?:p-?\d+)?(?:\s+\((\w+) ([^)]*)\))?$/.exec(rubyVersion.trim());
  if (!m) {
    throw new SlugcError('SLUGC_RUBY_VERSION_INVALID', `Couldn't read the Ruby version in ${file}: ${JSON.stringify(rubyVersion)} is not "ruby X.Y.Z" (with an optional pNN).`, {
      hint: `Fix RUBY VERSION in ${file} (e.g. "ruby 3.1.2p20"), or run \`bundle update --ruby\`.`,
    });
  }
  if (m[2] && m[2] !== 'ruby') {
    throw new SlugcError('SLUGC_RUBY_ENGINE_UNSUPPORTED', `Couldn't build for ${m[2]} ${m[3]} (RUBY VERSION in ${file}): only MRI Ruby is supported.`, {
      hint: `Remove the engine from the Gemfile's ruby directive and run \`bundle lock\` again.`,
    });
  }
  return m[1]!;
}
