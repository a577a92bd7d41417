import { SlugcError } from 'slugc/sdk';

/** A JDK request read from `java.runtime.version`. */
export interface JdkRequest {
  /** The version request for the runtime sources, e.g. `17` or `17.0.9`. */
  version: string;
  /** The vendor prefix as written (`openjdk`, `heroku`), or undefined. */
  vendor?: string;
}

/** Vendor prefixes that mean an OpenJDK build, which is what slugc's sources install. */
export const OPENJDK_VENDORS = ['openjdk', 'heroku'] as const;

/** Vendor prefixes Heroku knows whose builds slugc does not install. */
export const OTHER_VENDORS = ['zulu', 'corretto', 'temurin', 'adoptopenjdk', 'graalvm', 'liberica', 'sapmachine', 'microsoft', 'dragonwell'] as const;

/**
 * Reads `java.runtime.version` as a version request: `17` and `17.0.9` as
 * they are, the old `1.8` (and `1.8.0_392`) as `8`, a vendor prefix
 * (`openjdk-17`, `heroku-17`) understood as OpenJDK; another vendor's
 * (`zulu-17`) refused, saying what to write instead. `file` names the file
 * in errors.
 */
export function parseJavaRuntimeVersion(value: string, file = 'system.properties'): JdkRequest {
  const raw = value.trim();
  const bad = (why: string, hint = `Write java.runtime.version=17 (a major version such as 17, or a full one such as 17.0.9) in ${file}.`) =>
    new SlugcError('SLUGC_JAVA_VERSION_INVALID', `Couldn't read java.runtime.version=${JSON.stringify(raw)} in ${file}: ${why}.`, { hint, details: { file, value: raw } });
  let vendor: string | undefined;
  let rest = raw;
  const prefixed = /^([a-z][a-z0-9]*)-(.+)$/i.exec(raw);
  if (prefixed) {
    vendor = prefixed[1]!.toLowerCase();
    rest = prefixed[2]!;
    if ((OTHER_VENDORS as readonly string[]).includes(vendor)) {
      throw new SlugcError('SLUGC_JAVA_VENDOR_UNSUPPORTED', `Couldn't install the ${vendor} JDK named by java.runtime.version=${raw} in ${file}: slugc installs OpenJDK builds only.`, {
        hint: `Write java.runtime.version=${rest} in ${file} for OpenJDK ${rest}, or add an inventory of that vendor's builds as OpenJDK with SLUGC_JDK_INVENTORY (see docs/runtimes.md).`,
        details: { file, value: raw, vendor },
      });
    }
    if (!(OPENJDK_VENDORS as readonly string[]).includes(vendor)) {
      throw bad(`${vendor} is not a JDK vendor slugc knows (it knows ${OPENJDK_VENDORS.join(', ')})`);
    }
  }
  if (!rest) throw bad('it is empty');
  // 1.8, 1.8.0, 1.8.0_392: the old scheme, where the second number is the major.
  const old = /^1\.(\d+)(?:\.\d+)?(?:_\d+)?$/.exec(rest);
  if (old) return { version: String(Number(old[1])), ...(vendor ? { vendor } : {}) };
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.\d+)*(?:\+\d+)?$/.exec(rest);
  if (!m) throw bad('it is not a version such as 17, 17.0.9 or 1.8');
  const parts = [m[1], m[2], m[3]].filter((p): p is string => p !== undefined).map((p) => String(Number(p)));
  return { version: parts.join('.'), ...(vendor ? { vendor } : {}) };
}
