import fs from 'node:fs';
import path from 'node:path';
import { appFileExists, type ReleaseContext, type ReleaseInfo } from 'slugc/sdk';
import { PACKAGES_DIR } from './layout.js';

/**
 * A default web process only when it is unambiguous: a Django project (one
 * `<project>/wsgi.py` beside `manage.py`) with gunicorn installed gets
 * `gunicorn <project>.wsgi`. Anything else needs a Procfile, as on Heroku.
 */
export async function releasePython(ctx: ReleaseContext): Promise<ReleaseInfo> {
  if (!appFileExists(ctx.appDir, 'manage.py')) return {};
  if (!fs.existsSync(path.join(ctx.appDir, PACKAGES_DIR, 'gunicorn'))) return {};
  const projects = djangoProjects(ctx.appDir);
  if (projects.length !== 1) return {};
  return { processTypes: { web: `gunicorn ${projects[0]}.wsgi` } };
}

/** Dirs at the app's root holding a `wsgi.py` and a `settings.py` (or settings package). */
export function djangoProjects(appDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(appDir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return [];
  }
  return names.filter((n) => appFileExists(appDir, `${n}/wsgi.py`) && (appFileExists(appDir, `${n}/settings.py`) || appFileExists(appDir, `${n}/settings/__init__.py`))).sort();
}
