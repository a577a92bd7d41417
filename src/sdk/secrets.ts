/**
 * The credentials in the URLs of a text (`https://user:pass@host/...`, one
 * URL or a whole settings file): the user info as written and decoded, each
 * part of it, so a buildpack can pass them to `ctx.log.redact` before a URL
 * from a config var or an app file can reach the log, an error or the slug.
 * A user name alone counts (a token is often sent as the user). Parts
 * shorter than 4 characters are left out: they would redact ordinary words.
 */
export function urlCredentials(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^/@\s"'<>]+)@/gi)) {
    const raw = m[1]!;
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      /* keep it as written */
    }
    for (const s of [raw, decoded, ...raw.split(':'), ...decoded.split(':')]) if (s.length >= 4) out.add(s);
  }
  return [...out];
}
