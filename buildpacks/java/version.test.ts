import { describe, expect, it } from 'vitest';
import { parseProperties } from 'slugc/sdk';
import { parseJavaRuntimeVersion } from './version.js';
import { definesStageTask } from './compile.js';

describe('java.runtime.version', () => {
  it('reads majors, full versions, the old 1.x scheme and OpenJDK vendor prefixes', () => {
    expect(parseJavaRuntimeVersion('17')).toEqual({ version: '17' });
    expect(parseJavaRuntimeVersion(' 17.0.9 ')).toEqual({ version: '17.0.9' });
    expect(parseJavaRuntimeVersion('21.0.2+13')).toEqual({ version: '21.0.2' });
    expect(parseJavaRuntimeVersion('17.0.21.1')).toEqual({ version: '17.0.21' });
    expect(parseJavaRuntimeVersion('1.8')).toEqual({ version: '8' });
    expect(parseJavaRuntimeVersion('1.8.0_392')).toEqual({ version: '8' });
    expect(parseJavaRuntimeVersion('1.7')).toEqual({ version: '7' });
    expect(parseJavaRuntimeVersion('openjdk-17')).toEqual({ version: '17', vendor: 'openjdk' });
    expect(parseJavaRuntimeVersion('heroku-21.0.1')).toEqual({ version: '21.0.1', vendor: 'heroku' });
  });

  it('refuses another vendor\'s JDK saying what to write, and what is not a version, naming the file', () => {
    expect(() => parseJavaRuntimeVersion('zulu-17')).toThrow(expect.objectContaining({ code: 'SLUGC_JAVA_VENDOR_UNSUPPORTED', message: expect.stringMatching(/zulu JDK .*OpenJDK builds only/), hint: expect.stringMatching(/java\.runtime\.version=17 in system\.properties/) }));
    expect(() => parseJavaRuntimeVersion('corretto-11')).toThrow(expect.objectContaining({ code: 'SLUGC_JAVA_VENDOR_UNSUPPORTED' }));
    expect(() => parseJavaRuntimeVersion('acme-17')).toThrow(expect.objectContaining({ code: 'SLUGC_JAVA_VERSION_INVALID', message: expect.stringMatching(/acme is not a JDK vendor/) }));
    expect(() => parseJavaRuntimeVersion('latest')).toThrow(expect.objectContaining({ code: 'SLUGC_JAVA_VERSION_INVALID', message: expect.stringMatching(/^Couldn't read java\.runtime\.version="latest" in system\.properties/) }));
    expect(() => parseJavaRuntimeVersion('17.x', 'other.properties')).toThrow(expect.objectContaining({ message: expect.stringMatching(/other\.properties/) }));
  });

  it('comes out of system.properties as Heroku users write it (comments, spaces, colons)', () => {
    const props = parseProperties('# JDK\njava.runtime.version : 1.8\nmaven.version=3.8.7\n', 'system.properties');
    expect(parseJavaRuntimeVersion(props['java.runtime.version']!)).toEqual({ version: '8' });
    expect(props['maven.version']).toBe('3.8.7');
  });
});

describe('a Gradle stage task', () => {
  it('is found in the Groovy and Kotlin DSLs, and not in a mere mention', () => {
    for (const t of ['task stage(dependsOn: installDist)', "task('stage') {}", 'tasks.register("stage") { }', "tasks.register<Copy>('stage') {}", 'tasks.create("stage")', 'val stage by tasks.registering {}']) {
      expect(definesStageTask(t), t).toBe(true);
    }
    for (const t of ["plugins { id 'java' }", '// run the staged build', 'tasks.register("stageAll")']) expect(definesStageTask(t), t).toBe(false);
  });
});
