/**
 * The small naming rules every part of slugc shares: one definition each.
 */

/** A config or env var name: a letter or `_`, then letters, digits and `_`. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An app name, stack name or other name used as one path component: letters, digits, `.`, `_` and `-`, not starting with a dot. */
export const SAFE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A buildpack id (or any label) as one directory name: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}
