// Who may import whom (docs/architecture in DESIGN.md): the stages never
// import a buildpack, and buildpacks and the docs' examples use only the
// public exports, as a third party would.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/cli.js';

/** Every .ts file under `dir` (relative to the repo). */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(repoRoot, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.ts')) out.push(r);
    }
  };
  walk(dir);
  return out.sort();
}

/** The module specifiers a file imports (static, dynamic and re-exports). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) {
    specs.push((m[1] ?? m[2] ?? m[3])!);
  }
  return specs;
}

/** Where a relative specifier points, relative to the repo; null for packages. */
function target(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return path.relative(repoRoot, path.resolve(repoRoot, path.dirname(file), spec));
}

/** Entry points: the package root and its subpaths' index files, the CLI, the test kit. */
const ENTRY_POINTS = [/^src\/index\.ts$/, /^src\/cli\//, /^src\/testing\//];

describe('the dependency direction', () => {
  it('keeps every file under src/ but the entry points away from buildpacks/ and the package root', () => {
    const offenders: string[] = [];
    for (const file of tsFiles('src')) {
      if (ENTRY_POINTS.some((re) => re.test(file))) continue;
      for (const spec of importsOf(file)) {
        const t = target(file, spec);
        if ((t && (t.startsWith('buildpacks/') || t === 'buildpacks' || t === 'src/index.js')) || /^slugc(\/|$)/.test(spec)) offenders.push(`${file} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('has buildpacks and the docs examples import only slugc and its subpaths, never a path under src/', () => {
    const offenders: string[] = [];
    for (const file of [...tsFiles('buildpacks'), ...tsFiles('docs/examples')]) {
      for (const spec of importsOf(file)) {
        const t = target(file, spec);
        if (t?.startsWith('src/') || /(^|\/)src\//.test(spec)) offenders.push(`${file} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('has the built-in buildpacks (not their tests) import only slugc/sdk of slugc', () => {
    const offenders: string[] = [];
    for (const file of tsFiles('buildpacks').filter((f) => !f.endsWith('.test.ts'))) {
      for (const spec of importsOf(file)) if (/^slugc(\/|$)/.test(spec) && spec !== 'slugc/sdk') offenders.push(`${file} imports ${spec}`);
    }
    expect(offenders).toEqual([]);
  });

  it('finds the imports it checks (the scanner itself works)', () => {
    expect(importsOf('src/index.ts')).toContain('../buildpacks/index.js');
    expect(importsOf('buildpacks/nodejs/compile.ts')).toContain('slugc/sdk');
  });
});
