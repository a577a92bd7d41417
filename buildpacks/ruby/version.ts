import { SlugcError, firstLine } from 'slugc/sdk';

/**
 * Translates RubyGems requirements (as a Gemfile's `ruby` directive gives
 * them, one or more, all of which must hold) into a node-semver range, with
 * RubyGems' meaning:
 *
 * - `~> 3.1` is `>= 3.1, < 4.0`; `~> 3.1.2` is `>= 3.1.2, < 3.2.0`; `~> 3`
 *   is `>= 3, < 4` (the last given segment is dropped, the one before it
 *   bumped).
 * - `= 3.1` (or a bare `3.1`) is exactly 3.1.0: RubyGems pads with zeros.
 * - `!= X` excludes one version (written as `<X || >X` around the rest).
 * - `>`, `>=`, `<`, `<=` as they read.
 *
 * A prerelease (`3.3.0.preview1`) or anything else is refused as
 * `SLUGC_RUBY_VERSION_INVALID` naming `where`.
 */
export function gemRequirementToSemver(requirements: readonly string[], where: string): string {
  const all: string[] = [];
  const excluded: string[] = [];
  const parts = requirements.flatMap((r) => r.split(',')).map((r) => r.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw invalid(requirements.join(', '), where, 'an empty requirement');
  for (const part of parts) {
    const m = /^(~>|>=|<=|!=|=|>|<)?\s*(\d+(?:\.\d+)*)$/.exec(part);
    if (!m) throw invalid(part, where, 'not a RubyGems requirement such as "~> 3.1", ">= 3.0" or "3.1.2"');
    const op = m[1] ?? '=';
    const segs = m[2]!.split('.').map(Number);
    if (segs.length > 3 && segs.slice(3).some((s) => s !== 0)) throw invalid(part, where, 'Ruby versions have three parts');
    const v = pad(segs);
    switch (op) {
      case '~>': {
        if (segs.length === 1) {
          all.push(`>=${v}`, `<${segs[0]! + 1}.0.0`);
        } else {
          const upper = segs.slice(0, Math.min(segs.length, 3) - 1);
          upper[upper.length - 1]! += 1;
          all.push(`>=${v}`, `<${pad(upper)}`);
        }
        break;
      }
      case '!=':
        excluded.push(v);
        break;
      case '=':
        all.push(v);
        break;
      default:
        all.push(`${op}${v}`);
    }
  }
  let ranges = [all];
  for (const x of excluded) ranges = ranges.flatMap((r) => [[...r, `<${x}`], [...r, `>${x}`]]);
  return ranges.map((r) => (r.length ? r.join(' ') : '*')).join(' || ');
}

function pad(segs: number[]): string {
  const s = [...segs.slice(0, 3)];
  while (s.length < 3) s.push(0);
  return s.join('.');
}

function invalid(req: string, where: string, why: string): SlugcError {
  return new SlugcError('SLUGC_RUBY_VERSION_INVALID', `Couldn't read the Ruby version requirement ${JSON.stringify(req)} in ${where}: ${why}.`, {
    hint: `Write it as RubyGems does, e.g. ruby "~> 3.1" or ruby "3.1.2", in ${where}.`,
  });
}

/**
 * The Gemfile's `ruby` directive as a semver range: `ruby "3.1.2"`,
 * `ruby "~> 3.1"`, `ruby ">= 3.0", "< 3.2"` (options such as `engine:` or
 * `patchlevel:` are ignored); undefined when there is none, when it takes
 * the version from a file (`ruby file: ".ruby-version"`) or computes it
 * (`ruby File.read(".ruby-version").strip`): the next step reads
 * `.ruby-version` then.
 */
export function gemfileRubyRequest(text: string, file = 'Gemfile'): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, '');
    const m = /^\s*ruby(?:\s*\(\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const args = m[1]!.replace(/\)\s*$/, '').trim();
    if (/^:?file\s*(:|=>)/.test(args)) return undefined;
    const strings: string[] = [];
    const re = /\s*(["'])([^"']*)\1\s*(,|$)/y;
    const rest = args;
    let s: RegExpExecArray | null;
    re.lastIndex = 0;
    while ((s = re.exec(rest))) {
      strings.push(s[2]!);
      if (!s[3]) break;
      // Stop at keyword options (engine: "jruby", patchlevel: "..").
      if (/^\s*:?\w+\s*(:|=>)/.test(rest.slice(re.lastIndex))) break;
    }
    // A computed value (`ruby File.read(".ruby-version").strip`, `ruby RUBY_VERSION`) cannot be read
    // without running the Gemfile: the next file (.ruby-version) answers instead.
    if (strings.length === 0) return undefined;
    return gemRequirementToSemver(strings, `${file} at line ${i + 1}`);
  }
  return undefined;
}

/** `.ruby-version`: `3.1.2`, `ruby-3.1.2` or a line such as `3.1`; other engines and `system` are refused. */
export function parseRubyVersionFile(text: string, file = '.ruby-version'): string | undefined {
  const line = firstLine(text);
  if (line === undefined) return undefined;
  const m = /^(?:ruby-)?(\d+(?:\.\d+){0,2})(?:-?p\d+)?$/.exec(line);
  if (!m) {
    throw new SlugcError('SLUGC_RUBY_VERSION_INVALID', `Couldn't read ${file}: ${JSON.stringify(line)} is not a Ruby version such as 3.1.2 or ruby-3.1.2.`, {
      hint: `Write a version of MRI Ruby in ${file} (e.g. 3.1.2).`,
    });
  }
  return m[1]!;
}
