/**
 * A small incremental tar reader: feed it the bytes of a tar stream in chunks
 * of any size ({@link TarReader.write}), and it hands each entry's header and
 * data to a {@link TarSink} synchronously, as the bytes arrive. It never
 * buffers file data: a file's data is passed on as slices of the chunks it was
 * given, so the sink must use them before it returns (sync writes do).
 *
 * Formats read: POSIX ustar (with the `prefix` field), PAX extended headers
 * (`x`: `path`, `linkpath`, `size`; global `g` headers are read and ignored),
 * GNU long names and long link names (`L`, `K`), GNU base-256 numbers, and old
 * V7 headers (a regular file whose name ends in `/` is a directory). Sparse
 * files (GNU `S`, PAX `GNU.sparse.*`) and multi-volume archives are refused.
 *
 * It only parses: it does not check paths. The extractor does that.
 */

/** The tar block size: headers and padded data are whole blocks. */
const BLOCK = 512;
/** The most a PAX or GNU long-name header may hold; more is refused as damage (or a memory attack). */
const MAX_META_SIZE = 1024 * 1024;

/** The kinds of entry a tar holds. */
export type TarEntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

/** One entry's header, with PAX and GNU long-name records applied. */
export interface TarEntryHeader {
  /** The entry's path as stored (not normalised or checked). */
  path: string;
  /** What it is; `other` covers devices, fifos, volume labels and unknown types (skipped by extractors). */
  kind: TarEntryKind;
  /** The raw typeflag character, e.g. `'0'`, `'5'`, `'2'`. */
  typeflag: string;
  /** The mode field (permission bits and perhaps file-type bits). */
  mode: number;
  /** Data size in bytes (0 for links and dirs). */
  size: number;
  /** Link target for symlinks and hard links, as stored. */
  linkpath: string;
}

/** Receives a file's data, slice by slice, then `end()`. */
export interface TarDataSink {
  /** Called with each slice of data; the slice is only valid during the call. */
  write(data: Uint8Array): void;
  /** Called once all `size` bytes were written. */
  end(): void;
}

/** What the reader drives. */
export interface TarSink {
  /** Called for every entry; return a data sink for a file's data, or null to skip its data. */
  entry(header: TarEntryHeader): TarDataSink | null;
}

/** The tar stream is malformed (bad checksum, truncated, unsupported feature). */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

type State = 'header' | 'data' | 'meta' | 'padding' | 'end';
type MetaKind = 'pax' | 'global' | 'longname' | 'longlink';

const decoder = new TextDecoder('utf-8');

/** An incremental tar parser; see the module comment. */
export class TarReader {
  private state: State = 'header';
  /** Bytes of a header that arrived split across chunks. */
  private readonly headerBuf = new Uint8Array(BLOCK);
  private headerFill = 0;
  /** Data bytes left in the current entry, then padding bytes left. */
  private remaining = 0;
  private padding = 0;
  private sink: TarDataSink | null = null;
  private metaKind: MetaKind = 'pax';
  private metaParts: Uint8Array[] = [];
  /** Overrides for the next entry, from PAX / GNU long-name headers. */
  private nextPath: string | null = null;
  private nextLinkpath: string | null = null;
  private nextSize: number | null = null;
  /** Bytes consumed, for error messages. */
  private offset = 0;
  private sawHeader = false;

  constructor(private readonly target: TarSink) {}

  /** True once the end-of-archive block was read; later bytes are ignored. */
  get ended(): boolean {
    return this.state === 'end';
  }

  /** Feeds the next bytes of the stream. Throws {@link TarFormatError}, or whatever the sink throws. */
  write(chunk: Uint8Array): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.state) {
        case 'end':
          this.offset += len - pos;
          return;
        case 'header': {
          let block: Uint8Array;
          if (this.headerFill === 0 && len - pos >= BLOCK) {
            block = chunk.subarray(pos, pos + BLOCK);
            pos += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.headerFill, len - pos);
            this.headerBuf.set(chunk.subarray(pos, pos + n), this.headerFill);
            this.headerFill += n;
            pos += n;
            if (this.headerFill < BLOCK) return;
            this.headerFill = 0;
            block = this.headerBuf;
          }
          this.readHeader(block);
          this.offset += BLOCK;
          break;
        }
        case 'data':
        case 'meta': {
          const n = Math.min(this.remaining, len - pos);
          const slice = chunk.subarray(pos, pos + n);
          if (this.state === 'meta') this.metaParts.push(slice.slice());
          else this.sink?.write(slice);
          pos += n;
          this.offset += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishData();
          break;
        }
        case 'padding': {
          const n = Math.min(this.padding, len - pos);
          pos += n;
          this.offset += n;
          this.padding -= n;
          if (this.padding === 0) this.state = 'header';
          break;
        }
      }
    }
  }

  /** Says the stream is over; throws if it stopped before the end-of-archive block. */
  end(): void {
    if (this.state === 'end') return;
    if (!this.sawHeader && this.offset === 0 && this.headerFill === 0) throw new TarFormatError('the archive is empty');
    const where = this.state === 'header' && this.headerFill === 0 ? 'before the end-of-archive marker' : 'in the middle of an entry';
    throw new TarFormatError(`the tar stream ends ${where} (at byte ${this.offset + this.headerFill}): it is truncated`);
  }

  private readHeader(h: Uint8Array): void {
    if (isZeroBlock(h)) {
      this.state = 'end';
      return;
    }
    verifyChecksum(h, this.offset);
    this.sawHeader = true;
    const typeflag = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
    let size = readNumber(h, 124, 12, 'size', this.offset);
    const ustar = h[257] === 0x75 && h[258] === 0x73 && h[259] === 0x74 && h[260] === 0x61 && h[261] === 0x72; // "ustar"
    const posix = ustar && h[262] === 0; // "ustar\0"; GNU's "ustar  \0" has no prefix field

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > MAX_META_SIZE) throw new TarFormatError(`a '${typeflag}' header at byte ${this.offset} is ${size} bytes long: too long to be genuine`);
      this.metaKind = typeflag === 'x' ? 'pax' : typeflag === 'g' ? 'global' : typeflag === 'L' ? 'longname' : 'longlink';
      this.metaParts = [];
      this.startData(size, 'meta');
      return;
    }
    if (typeflag === 'S') throw new TarFormatError('the archive holds a GNU sparse file, which is not supported');
    if (typeflag === 'M') throw new TarFormatError('the archive is part of a multi-volume set, which is not supported');

    let path = this.nextPath;
    if (path === null) {
      path = cString(h, 0, 100);
      if (posix) {
        const prefix = cString(h, 345, 155);
        if (prefix) path = `${prefix}/${path}`;
      }
    }
    const linkpath = this.nextLinkpath ?? cString(h, 157, 100);
    if (this.nextSize !== null) size = this.nextSize;
    this.nextPath = this.nextLinkpath = this.nextSize = null;

    let kind: TarEntryKind;
    switch (typeflag) {
      case '0':
      case '7':
        kind = path.endsWith('/') ? 'directory' : 'file';
        break;
      case '1':
        kind = 'hardlink';
        break;
      case '2':
        kind = 'symlink';
        break;
      case '5':
      case 'D': // GNU dumpdir: a directory whose data lists its contents
        kind = 'directory';
        break;
      default: // '3' char device, '4' block device, '6' fifo, 'V' volume label, vendor types
        kind = 'other';
    }
    const header: TarEntryHeader = { path, kind, typeflag, mode: readNumber(h, 100, 8, 'mode', this.offset), size, linkpath };
    const sink = this.target.entry(header);
    this.sink = kind === 'file' ? sink : null;
    this.startData(size, 'data');
  }

  private startData(size: number, state: 'data' | 'meta'): void {
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = state;
    if (size === 0) this.finishData();
  }

  private finishData(): void {
    if (this.state === 'meta') this.applyMeta();
    else if (this.sink) {
      const sink = this.sink;
      this.sink = null;
      sink.end();
    }
    this.state = this.padding > 0 ? 'padding' : 'header';
  }

  private applyMeta(): void {
    const data = concat(this.metaParts);
    this.metaParts = [];
    switch (this.metaKind) {
      case 'longname':
        this.nextPath = cString(data, 0, data.length);
        break;
      case 'longlink':
        this.nextLinkpath = cString(data, 0, data.length);
        break;
      case 'pax':
      case 'global': {
        const records = parsePax(data, this.offset);
        if (this.metaKind === 'global') break; // global defaults (rare; GNU tar writes none) are not applied
        for (const [key, value] of records) {
          if (key === 'path') this.nextPath = value;
          else if (key === 'linkpath') this.nextLinkpath = value;
          else if (key === 'size') {
            if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new TarFormatError(`a PAX header has a bad size "${value}"`);
            this.nextSize = Number(value);
          } else if (key.startsWith('GNU.sparse.')) throw new TarFormatError('the archive holds a PAX sparse file, which is not supported');
        }
        break;
      }
    }
  }
}

/** Parses PAX records: `"<len> <key>=<value>\n"`, where len counts the whole record. */
function parsePax(data: Uint8Array, offset: number): [string, string][] {
  const out: [string, string][] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    let sp = pos;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(decoder.decode(data.subarray(pos, sp)));
    if (!Number.isSafeInteger(len) || len <= sp - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new TarFormatError(`a PAX header before byte ${offset} is malformed`);
    }
    const record = decoder.decode(data.subarray(sp + 1, pos + len - 1));
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarFormatError(`a PAX header before byte ${offset} is malformed`);
    out.push([record.slice(0, eq), record.slice(eq + 1)]);
    pos += len;
  }
  return out;
}

function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/** The header checksum: the byte sum with the checksum field read as spaces (unsigned, or signed as some old tars wrote). */
function verifyChecksum(h: Uint8Array, offset: number): void {
  const stored = readOctal(h, 148, 8);
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const b = h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarFormatError(`the tar header at byte ${offset} has a bad checksum: the archive is damaged or not a tar`);
  }
}

/** A numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function readNumber(h: Uint8Array, off: number, len: number, field: string, offset: number): number {
  const first = h[off]!;
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(`the tar header at byte ${offset} has a negative ${field}`);
    let value = first & 0x3f;
    for (let i = 1; i < len; i++) value = value * 256 + h[off + i]!;
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`the tar header at byte ${offset} has a ${field} too large to handle`);
    return value;
  }
  const value = readOctal(h, off, len);
  if (Number.isNaN(value)) throw new TarFormatError(`the tar header at byte ${offset} has a malformed ${field} field`);
  return value;
}

/** Octal digits, after optional leading spaces, up to a space or NUL; NaN for anything else. */
function readOctal(h: Uint8Array, off: number, len: number): number {
  let i = off;
  const end = off + len;
  while (i < end && h[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const b = h[i]!;
    if (b === 0 || b === 0x20) break;
    if (b < 0x30 || b > 0x37) return NaN;
    value = value * 8 + (b - 0x30);
    digits++;
  }
  return digits === 0 ? 0 : value;
}

/** A NUL-terminated UTF-8 string from a fixed-size field. */
function cString(h: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && h[end] !== 0) end++;
  let ascii = end - off <= 256;
  for (let i = off; ascii && i < end; i++) {
    if (h[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return String.fromCharCode.apply(null, h.subarray(off, end) as unknown as number[]);
  return decoder.decode(h.subarray(off, end));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
