/**
 * The Python buildpack: Python from the stack's packages (or an inventory),
 * packages installed with pip from requirements.txt, Pipfile.lock, uv.lock,
 * poetry.lock or the project itself, cached on those files. Written only
 * against `slugc/sdk`.
 */
import type { Buildpack } from 'slugc/sdk';
import { compilePython, type PythonBuildpackOptions } from './compile.js';
import { detectPython } from './detect.js';
import { releasePython } from './release.js';

export { PACKAGES_DIR, PYTHON_HOME } from './layout.js';
export type { PythonBuildpackOptions } from './compile.js';

/** Creates the Python buildpack. */
export function createPythonBuildpack(options: PythonBuildpackOptions = {}): Buildpack {
  return {
    id: 'slugc/python',
    name: 'Python',
    aliases: ['heroku/python', 'python'],
    detect: detectPython,
    compile: (ctx) => compilePython(ctx, options),
    release: releasePython,
  };
}

/** The Python buildpack with default options. */
export const pythonBuildpack: Buildpack = createPythonBuildpack();
