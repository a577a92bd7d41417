import type { z } from 'zod';
import { SlugcError, type ErrorCode } from './errors.js';

/** Every zod issue as `path.to.field: message` (the whole value is `root`). */
export function zodProblems(error: z.ZodError, root = '(root)'): string[] {
  return error.issues.map((i) => {
    // A bad record key: zod says "Invalid key in record"; the nested issue says what is wrong with it.
    const nested = (i as { issues?: { message: string }[] }).issues;
    const message = i.code === 'invalid_key' && nested?.[0] ? nested[0].message : i.message;
    return `${i.path.map(String).join('.') || root}: ${message}`;
  });
}

/**
 * Parses `value` with `schema`, or throws a {@link SlugcError} listing every
 * problem (as `path: message`) under `message`.
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, code: ErrorCode, message: string, hint: string, root?: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = zodProblems(r.error, root);
  throw new SlugcError(code, `${message}\n${problems.map((p) => `  ${p}`).join('\n')}`, { hint, details: { problems } });
}
