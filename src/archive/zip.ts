/**
 * Zip extraction with yauzl (central directory first, `lazyEntries`,
 * `validateEntrySizes`), writing through a {@link SafeWriter}. Names are
 * decoded here (not by yauzl) so that an unsafe name is reported as such by
 * the writer rather than as a generic yauzl error.
 */
import type { Entry, ZipFile } from 'yauzl';
import type { SafeWriter } from './safe-writer.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** Symlink targets longer than this are refused as damage (PATH_MAX is 4096). */
const MAX_LINK_TARGET = 4096;

/** Version-made-by hosts whose external attributes hold a unix mode in the high 16 bits. */
const UNIX_HOSTS = new Set([3 /* Unix */, 19 /* OS X */]);

/** A zip that cannot be read as such (beyond what yauzl reports). */
export class ZipFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipFormatError';
  }
}

/** Extracts every entry of the zip at `file` through `writer`. */
export async function extractZip(file: string, writer: SafeWriter): Promise<void> {
  // Loaded when first needed: most builds never open a zip, and start-up time counts.
  const yauzl = (await import('yauzl')).default;
  const zip = await yauzl.openPromise(file, { lazyEntries: true, validateEntrySizes: true, decodeStrings: false, autoClose: true });
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      zip.on('error', fail);
      zip.on('end', () => {
        if (!failed) resolve();
      });
      zip.on('entry', (entry: Entry) => {
        extractEntry(yauzl.getFileNameLowLevel, zip, entry, writer).then(() => {
          if (!failed) zip.readEntry();
        }, fail);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

async function extractEntry(fileName: typeof import('yauzl').getFileNameLowLevel, zip: ZipFile, entry: Entry, writer: SafeWriter): Promise<void> {
  // strictFileNames: keep backslashes, so the writer can refuse them.
  const name = fileName(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
  const host = entry.versionMadeBy >>> 8;
  const unixMode = UNIX_HOSTS.has(host) ? entry.externalFileAttributes >>> 16 : 0;
  const type = unixMode & S_IFMT;
  const isDir = name.endsWith('/') || type === S_IFDIR;
  const perm = unixMode & 0o7777;

  if (isDir) {
    writer.directory(name, perm || 0o755);
    return;
  }
  if (type === S_IFLNK) {
    if (entry.uncompressedSize > MAX_LINK_TARGET) throw new ZipFormatError(`the symlink ${JSON.stringify(name)} has a ${entry.uncompressedSize}-byte target`);
    const chunks: Buffer[] = [];
    for await (const chunk of await openData(zip, entry, name)) chunks.push(chunk as Buffer);
    writer.symlink(name, Buffer.concat(chunks).toString('utf8'));
    return;
  }
  if (type !== 0 && type !== S_IFREG) {
    writer.target(name); // devices, fifos, sockets: skipped, but an unsafe name still refuses the archive
    return;
  }
  const sink = writer.file(name, perm || 0o644);
  if (sink === null) return;
  try {
    for await (const chunk of await openData(zip, entry, name)) sink.write(chunk as Buffer);
    sink.end();
  } catch (e) {
    sink.abort();
    throw e;
  }
}

async function openData(zip: ZipFile, entry: Entry, name: string): Promise<NodeJS.ReadableStream> {
  if (entry.isEncrypted()) throw new ZipFormatError(`the entry ${JSON.stringify(name)} is encrypted, which is not supported`);
  if (!entry.canDecodeFileData()) throw new ZipFormatError(`the entry ${JSON.stringify(name)} uses compression method ${entry.compressionMethod}; only stored and deflate are supported`);
  return zip.openReadStreamPromise(entry);
}
