import { downloadVerified, parseChecksum } from '../../net/download.js';
import { extractArchive } from '../../archive/extract.js';
import { mirrorUrl } from '../../net/mirror.js';
import type { InstalledRuntime, RuntimeArtifact, SourceContext } from '../types.js';

/**
 * Downloads an artifact (through the mirror, into the verified store) and
 * extracts it into `dest`. Shared by the sources whose artifacts are archives.
 */
export async function installArchive(
  artifact: RuntimeArtifact,
  dest: string,
  ctx: SourceContext,
  defaults: { binDirs?: string[]; include?: (rel: string) => boolean } = {},
): Promise<InstalledRuntime> {
  const url = mirrorUrl(artifact.url, ctx.mirror);
  const dl = await downloadVerified({
    url,
    checksum: parseChecksum(artifact.checksum),
    cacheRoot: ctx.cacheRoot,
    fetch: ctx.fetch,
    log: ctx.log,
    label: `${artifact.name} ${artifact.version}`,
    offline: ctx.offline,
    ...(ctx.mirror ? { mirror: ctx.mirror } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ctx.sharedDownloads ? { shared: ctx.sharedDownloads } : {}),
  });
  ctx.log.info(
    dl.cached
      ? `${artifact.name} ${artifact.version}: verified download found in the cache`
      : `Downloaded ${artifact.name} ${artifact.version} from ${url} (${(dl.bytes / 1024 / 1024).toFixed(1)} MB), ${parseChecksum(artifact.checksum).algorithm} verified`,
  );
  await extractArchive(dl.path, dest, {
    ...(artifact.format && artifact.format !== 'deb' ? { format: artifact.format } : {}),
    stripComponents: artifact.stripComponents ?? 0,
    ...(defaults.include ? { include: defaults.include } : {}),
  });
  const meta = artifact.meta ?? {};
  return {
    dir: dest,
    binDirs: (meta.binDirs as string[] | undefined) ?? defaults.binDirs ?? ['bin'],
    env: (meta.env as Record<string, string> | undefined) ?? {},
  };
}
