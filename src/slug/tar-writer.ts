/**
 * A minimal, deterministic tar encoder: POSIX ustar headers, with a PAX
 * extended header (typeflag 'x') where ustar cannot hold a value exactly.
 *
 * It only encodes headers; the packer (pack.ts) writes file data and padding
 * itself, straight into the chunks it hands to the compressor, so no file
 * content is ever copied through this module.
 */

/** The size of a tar block: every header, and every file's padded data, is a whole number of blocks. */
export const TAR_BLOCK_SIZE = 512;

/** What the archive ends with: two zero-filled blocks (POSIX.1-1988 and later). */
export const TAR_END_OF_ARCHIVE_SIZE = 2 * TAR_BLOCK_SIZE;

/**
 * The largest value an 11-digit octal ustar numeric field (`size`, `mtime`)
 * holds: 8^11 - 1 = 8,589,934,591, i.e. 8 GiB - 1 byte, or the year 2242 as seconds.
 */
export const USTAR_MAX_OCTAL_11 = 0o77777777777;

/** The kinds of entry slugc archives; everything else (fifos, sockets, devices) is skipped by the packer. */
export type TarEntryType = 'file' | 'directory' | 'symlink';

/** The variable part of one entry's header; everything else is fixed for reproducibility. */
export interface TarHeaderFields {
  /** Path inside the archive, e.g. `./app/index.js`; directories end with `/`. */
  path: string;
  /** Entry kind. */
  type: TarEntryType;
  /** Permission bits, including setuid/setgid/sticky (`st_mode & 0o7777`). */
  mode: number;
  /** Data size in bytes; 0 for directories and symlinks. */
  size: number;
  /** Modification time in whole seconds since the epoch, 0 to 8^11 - 1. */
  mtime: number;
  /** Symlink target, stored as is; required when `type` is `'symlink'`. */
  linkpath?: string;
}

const TYPEFLAG: Record<TarEntryType, number> = {
  file: 0x30, // '0'
  directory: 0x35, // '5'
  symlink: 0x32, // '2'
};
const TYPEFLAG_PAX = 0x78; // 'x'

// ustar field offsets and lengths (POSIX.1-2001, pax "ustar Interchange Format").
const NAME_OFF = 0;
const NAME_LEN = 100;
const MODE_OFF = 100;
const UID_OFF = 108;
const GID_OFF = 116;
const SIZE_OFF = 124;
const MTIME_OFF = 136;
const CHKSUM_OFF = 148;
const TYPEFLAG_OFF = 156;
const LINKNAME_OFF = 157;
const LINKNAME_LEN = 100;
const MAGIC_OFF = 257; // "ustar\0" then version "00"
const DEVMAJOR_OFF = 329;
const DEVMINOR_OFF = 337;
const PREFIX_OFF = 345;
const PREFIX_LEN = 155;

/**
 * Encodes the header block(s) of one entry: a single 512-byte ustar header,
 * or, when the path or link target does not fit ustar (too long, or not
 * ASCII) or the size exceeds 8 GiB - 1, a PAX extended header entry followed
 * by the ustar header. The result's length is always a multiple of 512.
 *
 * Fixed for reproducibility: uid/gid 0, empty uname/gname, device numbers 0.
 */
export function encodeHeader(fields: TarHeaderFields): Buffer {
  const { path, type, mode, size, mtime } = fields;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tar: invalid size ${size} for ${path}`);
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > USTAR_MAX_OCTAL_11) {
    throw new RangeError(`tar: mtime ${mtime} is outside 0..${USTAR_MAX_OCTAL_11}`);
  }
  if (type === 'symlink' && fields.linkpath === undefined) throw new TypeError(`tar: symlink ${path} has no target`);

  const pax: Array<[string, string]> = [];
  const pathBytes = Buffer.from(path, 'utf8');
  let split = isAscii(pathBytes) ? splitUstarPath(pathBytes) : undefined;
  if (split === undefined) {
    pax.push(['path', path]);
    split = fallbackUstarPath(pathBytes);
  }
  let linkBytes: Buffer | undefined;
  if (fields.linkpath !== undefined) {
    linkBytes = Buffer.from(fields.linkpath, 'utf8');
    if (!isAscii(linkBytes) || linkBytes.length > LINKNAME_LEN) {
      pax.push(['linkpath', fields.linkpath]);
      linkBytes = truncateAscii(linkBytes, LINKNAME_LEN);
    }
  }
  let sizeField = size;
  if (size > USTAR_MAX_OCTAL_11) {
    pax.push(['size', String(size)]);
    sizeField = 0;
  }

  const header = Buffer.alloc(TAR_BLOCK_SIZE);
  header.set(split.name, NAME_OFF);
  header.set(split.prefix, PREFIX_OFF);
  writeOctal(header, MODE_OFF, 8, mode & 0o7777);
  writeOctal(header, UID_OFF, 8, 0);
  writeOctal(header, GID_OFF, 8, 0);
  writeOctal(header, SIZE_OFF, 12, sizeField);
  writeOctal(header, MTIME_OFF, 12, mtime);
  header[TYPEFLAG_OFF] = TYPEFLAG[type];
  if (linkBytes !== undefined) header.set(linkBytes, LINKNAME_OFF);
  writeUstarTail(header);
  writeChecksum(header);

  if (pax.length === 0) return header;
  const paxHeader = encodePaxHeader(pax, path, mtime);
  return Buffer.concat([paxHeader, header], paxHeader.length + header.length);
}

/** The number of zero bytes that follow `size` bytes of file data to fill its last 512-byte block. */
export function tarPadding(size: number): number {
  const rest = size % TAR_BLOCK_SIZE;
  return rest === 0 ? 0 : TAR_BLOCK_SIZE - rest;
}

/**
 * Encodes PAX extended-header records, each `"<len> <key>=<value>\n"` where
 * `<len>` counts the whole record in bytes, its own digits included.
 */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8') + 3; // ' ', '=', '\n'
    // The length counts its own digits, and adding them can carry it to one
    // more digit (a 98-byte body needs "100 ", not "99 "): iterate to the fixed point.
    let digits = String(body).length;
    while (String(body + digits).length !== digits) digits = String(body + digits).length;
    const len = body + digits;
    parts.push(Buffer.from(`${len} ${key}=${value}\n`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/**
 * Computes the ustar header checksum: the sum of all 512 bytes as unsigned
 * values, with the 8-byte checksum field itself counted as spaces.
 */
export function headerChecksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) {
    sum += i >= CHKSUM_OFF && i < CHKSUM_OFF + 8 ? 0x20 : (block[i] ?? 0);
  }
  return sum;
}

/** The PAX 'x' entry (header block + records padded to 512) that precedes an entry's ustar header. */
function encodePaxHeader(records: Array<[string, string]>, path: string, mtime: number): Buffer {
  const data = encodePaxRecords(records);
  const padded = data.length + tarPadding(data.length);
  const out = Buffer.alloc(TAR_BLOCK_SIZE + padded);
  // The 'x' entry's own name is informational (readers that know PAX apply its
  // records to the next entry). Deterministic and ASCII: "PaxHeader/<basename>",
  // like the npm `tar` package, not GNU tar's default "%d/PaxHeaders.%p/%f" with a pid in it.
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  const name = truncateAscii(Buffer.from(`PaxHeader/${base}`, 'utf8'), NAME_LEN);
  out.set(name, NAME_OFF);
  writeOctal(out, MODE_OFF, 8, 0o644);
  writeOctal(out, UID_OFF, 8, 0);
  writeOctal(out, GID_OFF, 8, 0);
  writeOctal(out, SIZE_OFF, 12, data.length);
  writeOctal(out, MTIME_OFF, 12, mtime);
  out[TYPEFLAG_OFF] = TYPEFLAG_PAX;
  writeUstarTail(out);
  writeChecksum(out);
  out.set(data, TAR_BLOCK_SIZE);
  return out;
}

/**
 * Splits a path into ustar `prefix` (≤ 155 bytes) and `name` (≤ 100 bytes,
 * non-empty) at a '/', or returns undefined when no split fits.
 */
function splitUstarPath(bytes: Buffer): { name: Buffer; prefix: Buffer } | undefined {
  if (bytes.length <= NAME_LEN) return { name: bytes, prefix: EMPTY };
  // The name part must be non-empty, so a directory's trailing '/' is never the split point.
  const last = bytes.length - 2;
  for (let i = Math.min(PREFIX_LEN, last); i > 0; i--) {
    if (bytes[i] !== 0x2f) continue;
    if (bytes.length - i - 1 > NAME_LEN) return undefined; // splitting further left only makes the name longer
    return { name: bytes.subarray(i + 1), prefix: bytes.subarray(0, i) };
  }
  return undefined;
}

/** A best-effort ASCII ustar name for an entry whose real path is in a PAX record (for readers without PAX support). */
function fallbackUstarPath(bytes: Buffer): { name: Buffer; prefix: Buffer } {
  const ascii = toAscii(bytes);
  return splitUstarPath(ascii) ?? { name: ascii.subarray(Math.max(0, ascii.length - NAME_LEN)), prefix: EMPTY };
}

const EMPTY = Buffer.alloc(0);

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x7e || (bytes[i] as number) < 0x20) return false;
  return true;
}

/** Replaces every byte outside printable ASCII with '_' so a truncated value never splits a UTF-8 sequence. */
function toAscii(bytes: Buffer): Buffer {
  if (isAscii(bytes)) return bytes;
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) if ((out[i] as number) > 0x7e || (out[i] as number) < 0x20) out[i] = 0x5f;
  return out;
}

function truncateAscii(bytes: Buffer, max: number): Buffer {
  const ascii = toAscii(bytes);
  return ascii.length <= max ? ascii : ascii.subarray(0, max);
}

/** Writes `value` as zero-padded octal digits followed by a NUL, filling `len` bytes. */
function writeOctal(block: Buffer, off: number, len: number, value: number): void {
  const digits = value.toString(8).padStart(len - 1, '0');
  if (digits.length > len - 1) throw new RangeError(`tar: ${value} does not fit a ${len}-byte octal field`);
  block.write(digits, off, len - 1, 'latin1');
  block[off + len - 1] = 0;
}

function writeUstarTail(block: Buffer): void {
  block.write('ustar\u000000', MAGIC_OFF, 8, 'latin1'); // magic "ustar\0", version "00"
  // uname/gname stay empty (all NUL): no host user names in the slug.
  writeOctal(block, DEVMAJOR_OFF, 8, 0);
  writeOctal(block, DEVMINOR_OFF, 8, 0);
}

/** The checksum field is 6 octal digits, a NUL and a space, as GNU tar and POSIX write it. */
function writeChecksum(block: Buffer): void {
  const sum = headerChecksum(block);
  block.write(sum.toString(8).padStart(6, '0'), CHKSUM_OFF, 6, 'latin1');
  block[CHKSUM_OFF + 6] = 0;
  block[CHKSUM_OFF + 7] = 0x20;
}
