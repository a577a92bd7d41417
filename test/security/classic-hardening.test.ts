// What a classic buildpack (bin/detect, bin/compile, bin/release, export)
// can do to a build: print more than slugc keeps, leave processes behind,
// outlast its timeout, break its export file, echo a secret into an error.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shellBuildpack, sourceExport } from '../../src/classic.js';
import { createLogger } from '../../src/index.js';
import { gone, killRecorded, pidFile } from '../support/processes.js';
import { type BuildFailure, cleanup, runBuild, tempDir, testApp } from 'slugc/testing';

afterEach(async () => {
  killRecorded();
  await cleanup();
});

/** Writes a classic buildpack (bash scripts in bin/) into a temp dir; its id is `classic/bp`. */
function classic(scripts: { detect?: string; compile?: string; release?: string }): string {
  const dir = path.join(tempDir('slugc-bp-'), 'bp');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  for (const [name, body] of Object.entries({ compile: 'true', ...scripts })) {
    fs.writeFileSync(path.join(dir, 'bin', name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

const fail = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error('expected the build to fail');
  },
  (e: unknown) => e as BuildFailure,
);

/** Prints `n` bytes of `c` and no newline. */
const flood = (n: number, c = 'x') => `head -c ${n} /dev/zero | tr '\\0' ${c}`;

describe('output larger than slugc keeps', () => {
  it('is refused from bin/release, not cut and parsed', { timeout: 60_000 }, async () => {
    // Cut at 4 MiB, this would be one long comment: a release with no process types.
    const bp = classic({ release: `printf '# '; ${flood(5_000_000)}; printf '\\ndefault_process_types:\\n  web: ./serve\\n'` });
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [bp] }));
    expect(err).toMatchObject({
      code: 'SLUGC_BUILDPACK_FAILED',
      stage: 'release',
      message: expect.stringMatching(/^Couldn't read the output of bin\/release of classic\/bp: it printed more than 4 MiB/),
      hint: expect.stringMatching(/\S/),
    });
  });

  it('is refused from bin/detect (its first line is the name)', { timeout: 60_000 }, async () => {
    const bp = classic({ detect: `echo Name; ${flood(5_000_000)}` });
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [bp] }));
    expect(err.message).toMatch(/Couldn't read the output of bin\/detect of classic\/bp: it printed more than 4 MiB/);
  });
});

describe('processes a buildpack starts', () => {
  it('are gone once the build returns, from bin/compile, bin/detect and bin/release', { timeout: 60_000 }, async () => {
    const files = { detect: pidFile(), compile: pidFile(), release: pidFile() };
    const background = (f: string) => `sleep 300 >/dev/null 2>&1 & echo $! > ${f}`;
    const bp = classic({ detect: `${background(files.detect)}; echo Bg`, compile: `${background(files.compile)}; echo compiled`, release: `${background(files.release)}; echo '--- {}'` });
    await runBuild({ app: testApp({}), buildpacks: [bp] });
    for (const [step, f] of Object.entries(files)) expect(await gone(Number(fs.readFileSync(f, 'utf8'))), `bin/${step}`).toBe(true);
  });

  it('cannot keep a build waiting by holding its output open', { timeout: 60_000 }, async () => {
    const f = pidFile();
    const started = Date.now();
    await runBuild({ app: testApp({}), buildpacks: [classic({ compile: `sleep 300 & echo $! > ${f}; echo compiled` })] });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await gone(Number(fs.readFileSync(f, 'utf8')))).toBe(true);
  });
});

describe('the bin/compile timeout', () => {
  it('ends the build even when a process in another session holds the output open', { timeout: 60_000 }, async () => {
    const f = pidFile();
    const bp = classic({ compile: `echo '-----> Waiting'; setsid sh -c 'echo $$ > ${f}; exec sleep 300' & sleep 300` });
    const started = Date.now();
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [bp], env: { SLUGC_BUILDPACK_TIMEOUT_MS: '1000' } }));
    expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', stage: 'compile', hint: expect.stringMatching(/ran longer than 1000 ms/) });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("is taken from slugc's own environment when the config vars do not set it, and the config var wins", { timeout: 60_000 }, async () => {
    const f = pidFile();
    // Bounded, so that without the setting the test fails in 15 s, not at its own timeout.
    const bp = classic({ compile: `sleep 15 & echo $! > ${f}; wait` });
    const hostEnv = { ...process.env, SLUGC_BUILDPACK_TIMEOUT_MS: '1000' };
    const started = Date.now();
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [bp], hostEnv }));
    expect(err).toMatchObject({ code: 'SLUGC_COMMAND_FAILED', hint: expect.stringMatching(/ran longer than 1000 ms/) });
    expect(Date.now() - started).toBeLessThan(10_000);
    const configWins = await fail(runBuild({ app: testApp({}), buildpacks: [bp], hostEnv: { ...hostEnv, SLUGC_BUILDPACK_TIMEOUT_MS: '600000' }, env: { SLUGC_BUILDPACK_TIMEOUT_MS: '1200' } }));
    expect(configWins.hint).toMatch(/ran longer than 1200 ms/);
  });

  it('refuses a value that is not a number of milliseconds', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [classic({})], env: { SLUGC_BUILDPACK_TIMEOUT_MS: '10s' } }));
    expect(err).toMatchObject({ code: 'SLUGC_INVALID_INPUT', message: expect.stringMatching(/SLUGC_BUILDPACK_TIMEOUT_MS/) });
  });
});

describe('the export file', () => {
  const exporting = (text: string) => classic({ compile: `cat > "$BUILDPACK_DIR/export" <<'EOF'\n${text}EOF` });

  it('with a syntax error in the middle fails the build, naming the line and the error', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [exporting('export A=1\nif then\nexport B=2\n')] }));
    expect(err).toMatchObject({ code: 'SLUGC_BUILDPACK_FAILED', stage: 'compile', buildpack: 'classic/bp', message: expect.stringMatching(/export file.*line 2: syntax error/s) });
  });

  it('with a command bash cannot run fails the build', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [exporting('export A=1\nnot_a_command_slugc_xyz\n')] }));
    expect(err).toMatchObject({ code: 'SLUGC_BUILDPACK_FAILED', message: expect.stringMatching(/line 2: not_a_command_slugc_xyz: command not found/) });
  });

  it('that is fine passes its vars on, even when its last test is false', async () => {
    const file = path.join(tempDir(), 'export');
    fs.writeFileSync(file, 'export A=1\n[ -n "" ] && export C=3\nexport PATH="/opt/x:$PATH"\n');
    expect(await sourceExport(file, { PATH: '/usr/bin:/bin', KEEP: 'k' }, tempDir())).toEqual({ A: '1', PATH: '/opt/x:/usr/bin:/bin' });
  });
});

describe('secrets a classic buildpack echoes', () => {
  const secret = 's3cr3t-value';
  const env = { API_KEY: secret, DATABASE_URL: 'postgres://u:pw-9f8e7d@db/x' };
  const clean = (err: BuildFailure) => {
    const json = JSON.stringify(err.toJSON());
    for (const v of Object.values(env)) {
      expect(err.message).not.toContain(v);
      expect(String(err.hint)).not.toContain(v);
      expect(json).not.toContain(v);
    }
  };

  it('stay out of the error of a bin/release that prints them and then bad YAML', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [classic({ release: 'echo "key: $API_KEY"; echo "url: $DATABASE_URL"; echo "$API_KEY: [unclosed"' })], env }));
    expect(err.code).toBe('SLUGC_BUILDPACK_FAILED');
    expect(err.message).toMatch(/Couldn't read the YAML bin\/release of classic\/bp printed \(line \d+\)/);
    clean(err);
  });

  it('stay out of the error of a failing bin/release', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [classic({ release: 'echo "key: $API_KEY" >&2; exit 4' })], env }));
    expect(err.code).toBe('SLUGC_COMMAND_FAILED');
    expect(err.message).toContain('key: [secret]');
    clean(err);
  });

  it('stay out of the error of a bin/release whose YAML does not fit the schema', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [classic({ release: 'echo "default_process_types: [\\"$API_KEY\\"]"' })], env }));
    expect(err.code).toBe('SLUGC_BUILDPACK_FAILED');
    clean(err);
  });

  it('stay out of the error of a bin/detect that says no', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [classic({ detect: 'echo "no, and the key is $API_KEY" >&2; exit 1' })], env }));
    expect(err.code).toBe('SLUGC_NO_BUILDPACK');
    expect(err.message).toContain('the key is [secret]');
    clean(err);
  });

  it('stay out of the error of an export file that fails', async () => {
    const err = await fail(runBuild({ app: testApp({}), buildpacks: [classic({ compile: 'echo "$API_KEY" > "$BUILDPACK_DIR/export"' })], env }));
    expect(err.code).toBe('SLUGC_BUILDPACK_FAILED');
    expect(err.message).toContain('[secret]: command not found');
    clean(err);
  });

  it('are scrubbed by shellBuildpack with the logger of the context it gets', async () => {
    const log = createLogger();
    log.redact([secret]);
    const bp = shellBuildpack(classic({ release: `echo "$API_KEY: [unclosed"` }));
    const dir = tempDir();
    const err = (await bp.release!({ appDir: dir, projectDir: dir, stack: 's', env: { PATH: process.env.PATH!, API_KEY: secret }, log }).catch((e: unknown) => e)) as BuildFailure;
    expect(JSON.stringify(err.toJSON())).not.toContain(secret);
  });
});
