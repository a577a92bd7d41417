import { ENV_NAME_PATTERN } from './names.js';
import { z } from 'zod';
import { isBuildpack, type Buildpack } from './buildpack.js';
import { PROCESS_TYPE_PATTERN } from './procfile.js';

/** What a buildpack's `detect` must return (third-party code: checked at the boundary). */
export const detectionSchema = z.object({
  pass: z.boolean(),
  name: z.string().optional(),
  reason: z.string().min(1, 'say why'),
});

/** What a buildpack's `release` must return. */
export const releaseInfoSchema = z.object({
  processTypes: z.record(z.string().regex(PROCESS_TYPE_PATTERN, `process type names match ${PROCESS_TYPE_PATTERN.source}`), z.string().min(1)).optional(),
  configVars: z.record(z.string().regex(ENV_NAME_PATTERN, 'not a valid variable name'), z.string()).optional(),
  addons: z.array(z.string().min(1)).optional(),
});

const buildpack = z.custom<Buildpack>(isBuildpack, 'expected a buildpack { id, name, detect, compile }');
const fn = z.custom<(...a: never[]) => unknown>((v) => typeof v === 'function', 'expected a function');
const logger = z.custom<object>((v) => typeof v === 'object' && v !== null && typeof (v as { step?: unknown }).step === 'function', 'expected a Logger');
const env = z.record(z.string(), z.string());

/** The common fields of every stage's input. */
export const stageInputSchema = z.object({
  appDir: z.string().min(1),
  buildpacks: z.array(buildpack).optional(),
  stack: z.string().min(1).optional(),
  env: env.optional(),
  log: logger,
  exec: fn.optional(),
});
