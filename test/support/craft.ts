/**
 * Builds tar and zip archives byte by byte, hostile ones included (`..`
 * paths, absolute names, links out of the tree), for the extractor's tests and
 * benchmark. Nothing here checks anything: whatever is asked for is written.
 */
import zlib from 'node:zlib';

/** One entry to write. */
export interface CraftEntry {
  /** The name exactly as stored (directories conventionally end in `/`). */
  path: string;
  /** Default `file`. */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'chardev';
  /** File data (also a zip symlink's target when `linkpath` is absent). */
  content?: string | Uint8Array;
  /** Permission bits; default 0o644 for files, 0o755 for dirs, 0o777 for symlinks. */
  mode?: number;
  /** Target of a symlink or hard link. */
  linkpath?: string;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', chardev: '3', dir: '5', fifo: '6' } as const;

function bytes(content: string | Uint8Array | undefined): Buffer {
  return content === undefined ? Buffer.alloc(0) : typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
}

function defaultMode(e: CraftEntry): number {
  return e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644);
}

/** One 512-byte ustar header. `typeflag` may be any character (e.g. `x` for PAX). */
export function tarHeader(fields: { path: string; typeflag: string; mode?: number; size?: number; linkpath?: string }): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string | Buffer, off: number, len: number) => {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    b.copy(h, off, 0, Math.min(len, b.length));
  };
  const octal = (n: number, off: number, len: number) => put(n.toString(8).padStart(len - 1, '0') + '\0', off, len);
  put(fields.path, 0, 100);
  octal(fields.mode ?? 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(fields.size ?? 0, 124, 12);
  octal(0, 136, 12);
  put(fields.typeflag, 156, 1);
  put(fields.linkpath ?? '', 157, 100);
  put('ustar\0' + '00', 257, 8);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

/** A PAX extended header ('x') carrying `records`, with its data and padding. */
export function paxHeader(records: Record<string, string>): Buffer {
  let body = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len++;
    body += `${len}${rest}`;
  }
  const data = Buffer.from(body);
  return Buffer.concat([tarHeader({ path: 'PaxHeader', typeflag: 'x', size: data.length }), data, pad(data.length)]);
}

/**
 * A tar of `entries`, ending with the two zero blocks unless `end` is false.
 * Names or link targets over 100 bytes get a PAX header.
 */
export function craftTar(entries: CraftEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? bytes(e.content) : Buffer.alloc(0);
    const pax: Record<string, string> = {};
    if (Buffer.byteLength(e.path) > 100) pax.path = e.path;
    if (e.linkpath && Buffer.byteLength(e.linkpath) > 100) pax.linkpath = e.linkpath;
    if (Object.keys(pax).length) parts.push(paxHeader(pax));
    parts.push(tarHeader({ path: e.path, typeflag: TYPEFLAG[type], mode: defaultMode(e), size: data.length, ...(e.linkpath ? { linkpath: e.linkpath } : {}) }));
    parts.push(data, pad(data.length));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const S_IF = { file: 0o100000, dir: 0o040000, symlink: 0o120000, hardlink: 0o100000, fifo: 0o010000, chardev: 0o020000 } as const;

/**
 * A zip of `entries` (local headers, central directory, end record), made on
 * "unix" so the external attributes carry `S_IF* | mode` in their high 16
 * bits; a symlink's data is its target. Data is deflated when `deflate`.
 */
export function craftZip(entries: CraftEntry[], options: { deflate?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const type = e.type ?? 'file';
    const name = Buffer.from(e.path);
    const data = type === 'symlink' ? bytes(e.linkpath ?? e.content) : bytes(e.content);
    const method = options.deflate && data.length > 0 ? 8 : 0;
    const stored = method === 8 ? zlib.deflateRawSync(data) : data;
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 30, 4); // made by: unix, spec 3.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(((S_IF[type] | defaultMode(e)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
