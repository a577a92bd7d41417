import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { SlugcError } from '../../src/errors.js';

/** Writes archive bytes to `<base>/<name>` and returns the path. */
export function archive(base: string, name: string, data: Buffer): string {
  const file = path.join(base, name);
  fs.writeFileSync(file, data);
  return file;
}

/** Awaits an extraction that must be refused as unsafe, and returns the error. */
export async function refusal(p: Promise<unknown>): Promise<SlugcError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SlugcError);
  const e = err as SlugcError;
  expect(e.code).toBe('SLUGC_UNSAFE_ARCHIVE_PATH');
  expect(e.message).toMatch(/^Couldn't extract /);
  expect(e.hint).toMatch(/malicious/);
  return e;
}
