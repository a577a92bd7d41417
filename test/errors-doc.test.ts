// docs/errors.md lists every error code slugc raises: the core's and the
// built-in buildpacks' own, and nothing that no longer exists.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODE_PATTERN } from 'slugc/sdk';
import { repoRoot } from './support/cli.js';

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => fs.readFileSync(path.join(repoRoot, dir, f), 'utf8'));
}

// A code is a SLUGC_ literal given to an error (or a `code`, the union of core codes, a
// buildpack's code constant); env var names such as SLUGC_BUILD_ID are not codes.
const raised = new Set(
  [...sources('src'), ...sources('buildpacks')].flatMap((text) =>
    [...text.matchAll(/(SlugcError\(\s*|code(?: ===|:)\s*|\|\s*|const [A-Z0-9_]+_(?:INVALID|UNSUPPORTED|FAILED|CONFLICT|INCOMPATIBLE) = )'(SLUGC_[A-Z0-9_]+)'/g)].map((m) => m[2]!),
  ),
);
const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');
const documented = new Set([...doc.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));

describe('docs/errors.md', () => {
  it('lists every code raised in src/ and buildpacks/', () => {
    expect(raised.size).toBeGreaterThan(20);
    expect([...raised].filter((c) => !documented.has(c)).sort()).toEqual([]);
  });

  it('lists no code that nothing raises', () => {
    expect([...documented].filter((c) => !raised.has(c)).sort()).toEqual([]);
  });

  it('lists only codes of the documented shape', () => {
    expect([...documented].filter((c) => !ERROR_CODE_PATTERN.test(c))).toEqual([]);
  });
});
