/**
 * Where Python and the app's packages go in the slug, and why.
 *
 * - The interpreter is the runtime as installed (Debian's packages unpacked,
 *   or an inventory's build) at `.heroku/python`, linked from the runtime
 *   store: never written to, so it stays shared and unmodified.
 * - Packages are installed with `pip install --target .heroku/python-packages`
 *   and found through `PYTHONPATH`: a plain directory, not a virtualenv,
 *   because a venv records absolute paths (its `python` link, `home` in
 *   `pyvenv.cfg`) that break when the slug is unpacked elsewhere, and not
 *   the interpreter's own site-packages, which Debian marks
 *   `EXTERNALLY-MANAGED` (PEP 668) and which is the shared runtime. Console
 *   scripts land in `.heroku/python-packages/bin`, their `#!` rewritten to
 *   `/usr/bin/env python3.x`.
 * - pip itself runs from the wheel the runtime carries (`pip-*.whl/pip`), so
 *   no pip is installed into the slug and nothing is downloaded to get it.
 */
export const PYTHON_HOME = '.heroku/python';
/** The packages dir, relative to the app. */
export const PACKAGES_DIR = '.heroku/python-packages';
