import fs from 'node:fs';
import path from 'node:path';
import { SlugcError, resolveAppFile } from 'slugc/sdk';
import type { Entry, ZipFile } from 'yauzl';

/** The main attributes of a JAR's `META-INF/MANIFEST.MF`. */
export type JarManifest = Record<string, string>;

/** What a JAR is, for detect and release. */
export interface JarInfo {
  /** The main attributes (empty when the JAR has no manifest). */
  manifest: JarManifest;
  /** The class `java -jar` starts (`Main-Class`), or null: a library JAR. */
  mainClass: string | null;
  /** Spring Boot's application class (`Start-Class`), or null. */
  startClass: string | null;
  /** True for a Spring Boot JAR (a `Start-Class`, or Boot's launcher as `Main-Class`). */
  springBoot: boolean;
}

/** A manifest larger than this is not read (a real one is a few KB). */
export const MANIFEST_MAX_BYTES = 1024 * 1024;

/**
 * Parses a manifest's main section: `Name: value` lines, continuation lines
 * starting with one space, ending at the first blank line (per-entry
 * sections follow it).
 */
export function parseManifest(text: string): JarManifest {
  const out: JarManifest = {};
  let last: string | null = null;
  for (const line of text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (Object.keys(out).length) break;
      continue;
    }
    if (line.startsWith(' ') && last !== null) {
      out[last] += line.slice(1);
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim();
    out[last] = line.slice(i + 1).replace(/^ /, '');
  }
  for (const k of Object.keys(out)) out[k] = out[k]!.trim();
  return out;
}

/** A corrupt or unreadable JAR, naming it. */
function invalidJar(rel: string, why: string, cause?: unknown): SlugcError {
  return new SlugcError('SLUGC_JAVA_JAR_INVALID', `Couldn't read the JAR ${rel}: ${why}.`, {
    hint: `Check that ${rel} is a complete JAR (\`jar tf ${rel}\` lists it); commit it again if it was truncated, or rebuild it.`,
    details: { file: rel },
    ...(cause ? { cause } : {}),
  });
}

/**
 * Reads a JAR's manifest with yauzl (the central directory only, then the
 * one entry). `rel` names the JAR in errors. A file that is not a zip, or
 * whose manifest cannot be inflated, is a `SLUGC_JAVA_JAR_INVALID`.
 */
export async function readJarManifest(file: string, rel = path.basename(file)): Promise<JarManifest | null> {
  const yauzl = (await import('yauzl')).default; // loaded when first needed: start-up time counts
  const zip = await new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, z) => (err || !z ? reject(invalidJar(rel, err?.message ?? 'not a zip file', err)) : resolve(z))),
  );
  try {
    return await new Promise<JarManifest | null>((resolve, reject) => {
      zip.on('error', (e: Error) => reject(invalidJar(rel, e.message, e)));
      zip.on('end', () => resolve(null));
      zip.on('entry', (entry: Entry) => {
        if (entry.fileName.toUpperCase() !== 'META-INF/MANIFEST.MF') return zip.readEntry();
        if (entry.uncompressedSize > MANIFEST_MAX_BYTES) return reject(invalidJar(rel, `its manifest is ${entry.uncompressedSize} bytes`));
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(invalidJar(rel, err?.message ?? 'its manifest cannot be read', err));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', (e: Error) => reject(invalidJar(rel, e.message, e)));
          stream.on('end', () => resolve(parseManifest(Buffer.concat(chunks).toString('utf8'))));
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/** What a JAR is: its manifest, main class and whether it is Spring Boot's. */
export async function jarInfo(file: string, rel = path.basename(file)): Promise<JarInfo> {
  const manifest = (await readJarManifest(file, rel)) ?? {};
  const mainClass = manifest['Main-Class'] || null;
  const startClass = manifest['Start-Class'] || null;
  return { manifest, mainClass, startClass, springBoot: Boolean(startClass) || Boolean(mainClass?.startsWith('org.springframework.boot.loader.')) };
}

/** JARs that are never the app: sources, javadoc, Boot's plain JAR, shade's original. */
export function isSideJar(name: string): boolean {
  return /-(sources|javadoc|tests|test-sources|plain)\.jar$/.test(name) || /^original-/.test(name);
}

/** The `.jar` files (regular files, no links) directly in `dir` of the app, sorted; side JARs left out. */
export function jarsIn(appDir: string, dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    // Never through a link out of the app.
    const real = resolveAppFile(appDir, dir);
    if (real === null) return [];
    entries = fs.readdirSync(real, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.jar') && !isSideJar(e.name))
    .map((e) => (dir === '.' || dir === '' ? e.name : `${dir}/${e.name}`))
    .sort();
}
