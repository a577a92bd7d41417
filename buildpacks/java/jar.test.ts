import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, tempDir } from 'slugc/testing';
import { jarBytes, zip } from '../../test/support/java.js';
import { isSideJar, jarInfo, jarsIn, parseManifest, readJarManifest } from './jar.js';

afterEach(cleanup);

const write = (name: string, data: Buffer) => {
  const dir = tempDir();
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return { dir, file };
};

describe('manifests', () => {
  it('parses the main section: continuation lines, CRLF, and stops at the per-entry sections', () => {
    const text = 'Manifest-Version: 1.0\r\nMain-Class: com.example.very.long.pack\r\n age.Main\r\nStart-Class:  demo.App \r\n\r\nName: demo/\r\nMain-Class: not.This\r\n';
    expect(parseManifest(text)).toEqual({ 'Manifest-Version': '1.0', 'Main-Class': 'com.example.very.long.package.Main', 'Start-Class': 'demo.App' });
    expect(parseManifest('')).toEqual({});
  });

  it('reads Main-Class and Spring Boot\'s Start-Class from a JAR with yauzl', async () => {
    const plain = write('app.jar', jarBytes({ 'Main-Class': 'demo.Main' }, { 'demo/Main.class': Buffer.alloc(10) }));
    expect(await jarInfo(plain.file)).toMatchObject({ mainClass: 'demo.Main', startClass: null, springBoot: false });
    const boot = write('boot.jar', jarBytes({ 'Main-Class': 'org.springframework.boot.loader.JarLauncher', 'Start-Class': 'demo.App' }));
    expect(await jarInfo(boot.file)).toMatchObject({ mainClass: 'org.springframework.boot.loader.JarLauncher', startClass: 'demo.App', springBoot: true });
    const lib = write('lib.jar', jarBytes(null, { 'a.txt': 'x' }));
    expect(await readJarManifest(lib.file)).toBeNull();
    expect((await jarInfo(lib.file)).mainClass).toBeNull();
  });

  it('refuses a corrupt JAR, naming it', async () => {
    const bad = write('broken.jar', Buffer.from('PK\u0003\u0004 this is not really a zip file at all, it is cut short'));
    await expect(readJarManifest(bad.file, 'target/broken.jar')).rejects.toMatchObject({ code: 'SLUGC_JAVA_JAR_INVALID', message: expect.stringMatching(/^Couldn't read the JAR target\/broken\.jar: /), hint: expect.stringMatching(/jar tf target\/broken\.jar/) });
    const truncated = zip([['META-INF/MANIFEST.MF', Buffer.from('Main-Class: x\r\n')]]);
    const cut = write('cut.jar', truncated.subarray(0, truncated.length - 30));
    await expect(readJarManifest(cut.file)).rejects.toMatchObject({ code: 'SLUGC_JAVA_JAR_INVALID' });
  });

  it('lists the JARs of a dir, leaving out sources, javadoc, plain and original JARs and links', () => {
    const { dir } = write('target/app-1.0.jar', jarBytes({}));
    for (const f of ['app-1.0-sources.jar', 'app-1.0-javadoc.jar', 'app-1.0-plain.jar', 'original-app-1.0.jar', 'notes.txt']) fs.writeFileSync(path.join(dir, 'target', f), '');
    fs.symlinkSync('/etc/hostname', path.join(dir, 'target', 'link.jar'));
    expect(jarsIn(dir, 'target')).toEqual(['target/app-1.0.jar']);
    expect(jarsIn(dir, 'nowhere')).toEqual([]);
    expect(isSideJar('x-tests.jar')).toBe(true);
  });
});
