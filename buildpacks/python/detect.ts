import { appFileExists, type DetectContext, type Detection } from 'slugc/sdk';

/**
 * The files that make an app a Python app, in the order the answer names
 * them (Heroku's Python buildpack looks for the same ones).
 */
export const PYTHON_FILES = ['requirements.txt', 'pyproject.toml', 'Pipfile.lock', 'Pipfile', 'poetry.lock', 'uv.lock', 'setup.py', 'setup.cfg', '.python-version', 'runtime.txt'] as const;

/** Python applies when the app has one of {@link PYTHON_FILES} at its root; the answer names the file that decided. */
export async function detectPython(ctx: DetectContext): Promise<Detection> {
  const found = PYTHON_FILES.find((f) => appFileExists(ctx.appDir, f));
  if (found) return { pass: true, name: 'Python', reason: `found ${found}` };
  return { pass: false, reason: `none of ${PYTHON_FILES.join(', ')} in the app root` };
}
