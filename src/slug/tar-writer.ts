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
 * holds: 8^11 - 1 = 8,589,934,591, i.e. 8 GiB - 1 byte, or a date in 2242.
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

/** Printable ASCII only: what goes into ustar's name fields verbatim (anything else gets a PAX record). */
const USTAR_SAFE = /^[\x20-\x7e]*$/;

/**
 * Writes one entry's 512-byte ustar header at `target[offset]` when ustar can
 * hold it exactly (ASCII path that fits the name/prefix split, ASCII link
 * target of at most 100 bytes, size below 8 GiB) and returns true; otherwise
 * writes nothing and returns false, and the caller uses {@link encodeHeader}.
 * This is the packer's allocation-free fast path.
 */
export function encodeHeaderInto(target: Uint8Array, offset: number, fields: TarHeaderFields): boolean {
  validate(fields);
  const split = ustarSplit(fields);
  if (split === undefined) return false;
  writeBlock(target, offset, split.name, split.prefix, fields.mode & 0o7777, fields.size, fields.mtime, TYPEFLAG[fields.type], fields.linkpath ?? '');
  return true;
}

/**
 * The number of bytes {@link encodeHeader} produces for `fields` (512, or
 * more with a PAX header), without encoding anything in the common case. The
 * packer uses it to know each entry's size in the tar stream before writing
 * it (see the segments in pack.ts).
 */
export function tarHeaderSize(fields: TarHeaderFields): number {
  validate(fields);
  const { path, linkpath } = fields;
  // The common case, without the name/prefix split: a short ASCII path (and link target).
  if (path.length <= NAME_LEN && fields.size <= USTAR_MAX_OCTAL_11 && USTAR_SAFE.test(path) && (linkpath === undefined || (linkpath.length <= LINKNAME_LEN && USTAR_SAFE.test(linkpath)))) {
    return TAR_BLOCK_SIZE;
  }
  return ustarSplit(fields) !== undefined ? TAR_BLOCK_SIZE : encodeHeader(fields).length;
}

/** The ustar name/prefix split of `fields.path` when a plain ustar header holds every field exactly, else undefined. */
function ustarSplit(fields: TarHeaderFields): { name: string; prefix: string } | undefined {
  const { path, linkpath } = fields;
  if (!USTAR_SAFE.test(path)) return undefined;
  if (linkpath !== undefined && (linkpath.length > LINKNAME_LEN || !USTAR_SAFE.test(linkpath))) return undefined;
  if (fields.size > USTAR_MAX_OCTAL_11) return undefined;
  return splitUstarPath(path);
}

/**
 * Encodes the header block(s) of one entry: a single 512-byte ustar header,
 * or, when the path or link target does not fit ustar (too long, or not
 * ASCII) or the size exceeds 8 GiB - 1, a PAX extended header entry followed
 * by the ustar header. The result's length is always a multiple of 512.
 *
 * Fixed for reproducibility: uid/gid 0, empty uname/gname, device numbers 0.
 */
export function encodeHeader(fields: TarHeaderFields): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_SIZE);
  if (encodeHeaderInto(block, 0, fields)) return block;

  const { path, linkpath, size } = fields;
  const pax: Array<[string, string]> = [];
  let split = USTAR_SAFE.test(path) ? splitUstarPath(path) : undefined;
  if (split === undefined) {
    pax.push(['path', path]);
    // For readers without PAX support: a sanitised, possibly truncated name.
    const ascii = toAscii(path);
    split = splitUstarPath(ascii) ?? { name: ascii.slice(-NAME_LEN), prefix: '' };
  }
  let link = linkpath ?? '';
  if (linkpath !== undefined && (linkpath.length > LINKNAME_LEN || !USTAR_SAFE.test(linkpath))) {
    pax.push(['linkpath', linkpath]);
    link = toAscii(linkpath).slice(0, LINKNAME_LEN);
  }
  let sizeField = size;
  if (size > USTAR_MAX_OCTAL_11) {
    pax.push(['size', String(size)]);
    sizeField = 0;
  }
  writeBlock(block, 0, split.name, split.prefix, fields.mode & 0o7777, sizeField, fields.mtime, TYPEFLAG[fields.type], link);

  const data = encodePaxRecords(pax);
  const paxEntry = Buffer.alloc(TAR_BLOCK_SIZE + data.length + tarPadding(data.length));
  // The 'x' entry's own name is informational (readers that know PAX apply its
  // records to the next entry). Deterministic and ASCII: "PaxHeader/<basename>",
  // like the npm `tar` package, rather than GNU tar's "%d/PaxHeaders.%p/%f" with a pid in it.
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  const name = toAscii(`PaxHeader/${base}`).slice(0, NAME_LEN);
  writeBlock(paxEntry, 0, name, '', 0o644, data.length, fields.mtime, TYPEFLAG_PAX, '');
  paxEntry.set(data, TAR_BLOCK_SIZE);
  return Buffer.concat([paxEntry, block]);
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
    // more digit (a 98-byte body needs "101 ", not "100 "): iterate to the fixed point.
    let digits = String(body).length;
    while (String(body + digits).length !== digits) digits = String(body + digits).length;
    parts.push(Buffer.from(`${body + digits} ${key}=${value}\n`, 'utf8'));
  }
  return Buffer.concat(parts);
}

/**
 * Computes the ustar header checksum of the block at `block[offset]`: the sum
 * of its 512 bytes as unsigned values, with the 8-byte checksum field itself
 * counted as spaces.
 */
export function headerChecksum(block: Uint8Array, offset = 0): number {
  let sum = 8 * 0x20;
  for (let i = offset; i < offset + CHKSUM_OFF; i++) sum += block[i] as number;
  for (let i = offset + CHKSUM_OFF + 8; i < offset + TAR_BLOCK_SIZE; i++) sum += block[i] as number;
  return sum;
}

function validate(fields: TarHeaderFields): void {
  const { path, size, mtime } = fields;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tar: invalid size ${size} for ${path}`);
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > USTAR_MAX_OCTAL_11) {
    throw new RangeError(`tar: mtime ${mtime} is outside 0..${USTAR_MAX_OCTAL_11}`);
  }
  if (fields.type === 'symlink' && fields.linkpath === undefined) throw new TypeError(`tar: symlink ${path} has no target`);
}

/**
 * Splits an ASCII path into ustar `prefix` (≤ 155 bytes) and `name` (≤ 100
 * bytes, non-empty) at a '/', or returns undefined when no split fits.
 */
function splitUstarPath(path: string): { name: string; prefix: string } | undefined {
  if (path.length <= NAME_LEN) return { name: path, prefix: '' };
  // The name must be non-empty, so a directory's trailing '/' is never the split point;
  // the rightmost usable '/' gives the shortest name.
  for (let i = Math.min(PREFIX_LEN, path.length - 2); i > 0; i--) {
    if (path.charCodeAt(i) !== 0x2f) continue;
    if (path.length - i - 1 > NAME_LEN) return undefined; // splitting further left only makes the name longer
    return { name: path.slice(i + 1), prefix: path.slice(0, i) };
  }
  return undefined;
}

/** Replaces every character outside printable ASCII with '_'. */
function toAscii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '_');
}

/** Writes one complete header block (all fields, magic, checksum) at `b[off]`; names must be printable ASCII. */
function writeBlock(
  b: Uint8Array,
  off: number,
  name: string,
  prefix: string,
  mode: number,
  size: number,
  mtime: number,
  typeflag: number,
  linkname: string,
): void {
  // Every field that is the same in all of an archive's headers comes from a
  // template, with the sum of its bytes; the checksum (the sum of the block's
  // bytes, its own field counted as spaces) is then completed as the other
  // fields are written, rather than read back.
  const t = template(mtime);
  b.set(t.block, off);
  let sum = t.sum;
  sum += writeAscii(b, off + NAME_OFF, name);
  sum += writeOctal(b, off + MODE_OFF, 8, mode);
  sum += writeOctal(b, off + SIZE_OFF, 12, size);
  b[off + TYPEFLAG_OFF] = typeflag;
  sum += typeflag;
  sum += writeAscii(b, off + LINKNAME_OFF, linkname);
  sum += writeAscii(b, off + PREFIX_OFF, prefix);
  // The checksum field is 6 octal digits, a NUL and a space, as GNU tar writes it.
  writeOctal(b, off + CHKSUM_OFF, 7, sum);
  b[off + CHKSUM_OFF + 7] = 0x20;
}

let lastTemplate: { mtime: number; block: Uint8Array; sum: number } | undefined;

/**
 * The fields every header of an archive shares: uid and gid 0, the mtime,
 * the magic and version, device numbers 0 (uname/gname stay empty, all NUL:
 * no host user names in the slug). The checksum field holds spaces only for
 * the sum; writeBlock overwrites it.
 */
function template(mtime: number): { block: Uint8Array; sum: number } {
  if (lastTemplate?.mtime === mtime) return lastTemplate;
  const block = new Uint8Array(TAR_BLOCK_SIZE);
  writeOctal(block, UID_OFF, 8, 0);
  writeOctal(block, GID_OFF, 8, 0);
  writeOctal(block, MTIME_OFF, 12, mtime);
  writeAscii(block, MAGIC_OFF, 'ustar\u000000'); // magic "ustar\0", version "00"
  writeOctal(block, DEVMAJOR_OFF, 8, 0);
  writeOctal(block, DEVMINOR_OFF, 8, 0);
  block.fill(0x20, CHKSUM_OFF, CHKSUM_OFF + 8);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.fill(0, CHKSUM_OFF, CHKSUM_OFF + 8);
  lastTemplate = { mtime, block, sum };
  return lastTemplate;
}

/** Writes `s` (printable ASCII) and returns the sum of the bytes written. */
function writeAscii(b: Uint8Array, off: number, s: string): number {
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    b[off + i] = c;
    sum += c;
  }
  return sum;
}

/** Writes `value` as `len - 1` zero-padded octal digits followed by a NUL; returns the sum of the bytes written. */
function writeOctal(b: Uint8Array, off: number, len: number, value: number): number {
  let v = value;
  let sum = 0;
  for (let i = off + len - 2; i >= off; i--) {
    const c = 0x30 + (v % 8);
    b[i] = c;
    sum += c;
    v = (v - (v % 8)) / 8;
  }
  if (v !== 0) throw new RangeError(`tar: ${value} does not fit a ${len}-byte octal field`);
  b[off + len - 1] = 0;
  return sum;
}
