import { SlugcError } from './errors.js';

/** The steps every build reports, in order, even when a step took no time. */
export const STANDARD_STEPS = ['restore', 'install', 'build', 'prune', 'package', 'save'] as const;

/** A step's name: lowercase letters, digits, `_` and `-`. */
export const STEP_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

/**
 * Milliseconds spent per step of a build, summed over buildpacks and layers:
 * `restore` and `save` are measured by the layer cache, `package` by the
 * package stage, `install`, `build` and `prune` by the buildpacks (through
 * `ctx.time`). Reported in slug.json (`timings.steps`), the `--json` result
 * and the last line of the log.
 */
export class StepTimer {
  private readonly ms = new Map<string, number>();

  /** Adds `ms` to a step. */
  add(step: string, ms: number): void {
    if (!STEP_NAME_PATTERN.test(step)) {
      throw new SlugcError('SLUGC_INVALID_INPUT', `Couldn't time the step ${JSON.stringify(step)}: bad name.`, { hint: 'Use lowercase letters, digits, _ and -, e.g. install.' });
    }
    this.ms.set(step, (this.ms.get(step) ?? 0) + ms);
  }

  /** Runs `f` and adds its duration to `step`, even when it throws. */
  async time<T>(step: string, f: () => Promise<T> | T): Promise<T> {
    if (!STEP_NAME_PATTERN.test(step)) this.add(step, 0); // throws the clear error before running anything
    const t = performance.now();
    try {
      return await f();
    } finally {
      this.add(step, performance.now() - t);
    }
  }

  /** Rounded milliseconds per step: the standard ones first (0 when not run), then others by name. */
  record(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of STANDARD_STEPS) out[s] = Math.round(this.ms.get(s) ?? 0);
    for (const s of [...this.ms.keys()].filter((k) => !(STANDARD_STEPS as readonly string[]).includes(k)).sort()) out[s] = Math.round(this.ms.get(s)!);
    return out;
  }
}

/** `restore 0.05s, install 0.00s, ...` for the log. */
export function formatSteps(steps: Record<string, number>, totalMs?: number): string {
  const parts = Object.entries(steps).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}s`);
  return parts.join(', ') + (totalMs !== undefined ? ` (total ${(totalMs / 1000).toFixed(2)}s)` : '');
}
