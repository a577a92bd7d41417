/**
 * Writes archive entries under one root dir, refusing any entry that could
 * put something outside it. Both the tar and the zip extractors drive it, so
 * the guards live in one place:
 *
 * - an entry path with a `..` component, an absolute path (also `C:` and
 *   backslashes in zip names, which Windows tools treat as separators), or a
 *   NUL byte is refused;
 * - a symlink whose target is absolute or resolves (from the link's own dir)
 *   outside the root is refused, and so is a hard link whose target is absolute
 *   or has a `..` component;
 * - nothing is ever written *through* a symlink: every parent dir of an entry
 *   is checked with `lstat` to be a real directory (a symlink there refuses
 *   the entry, even one pointing inside), files are created with `O_EXCL` after
 *   removing whatever was there (so neither a symlink nor a hard link at the
 *   path can redirect the write), and a hard link to a symlink is recreated as
 *   a symlink and checked from its new place;
 * - after the last entry, every symlink made is resolved through the tree
 *   itself (following the other symlinks), which catches chains that each look
 *   fine alone: `x -> .` then `y -> x/..` resolves to the root's parent.
 *
 * Files are written with sync calls (much cheaper than async ones for many
 * small files). Owners are not kept; mtimes are not set.
 *
 * Modes are kept as `mode & 0o1777`: permission bits and the sticky bit, but
 * never setuid/setgid (0o6000). Builds run as root here, so a setuid-root
 * binary planted by a downloaded archive would be a privilege escalation for
 * whoever can run it later, and no runtime we unpack needs those bits.
 */
import fs from 'node:fs';
import path from 'node:path';

/** An entry that would put something outside the target dir. */
export class UnsafeEntryError extends Error {
  /** The entry as named in the archive (plus ` -> target` for links). */
  readonly entry: string;
  constructor(entry: string, reason: string) {
    super(`the entry ${JSON.stringify(entry)} ${reason}`);
    this.name = 'UnsafeEntryError';
    this.entry = entry;
  }
}

/** An entry that cannot be extracted for a reason other than safety (e.g. a hard link to a missing file). */
export class BadEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEntryError';
  }
}

/** Options of {@link SafeWriter}. */
export interface SafeWriterOptions {
  /** Leading path components to drop, like GNU tar's `--strip-components`. */
  stripComponents?: number;
  /** Keep only entries whose path (after stripping) this accepts. */
  include?: (relPath: string) => boolean;
  /** Entry names come from a zip: backslashes and drive letters are refused too. */
  zipNames?: boolean;
  /**
   * Symlinks may point anywhere (absolute, or out of the root), as a slug's
   * may: they are created as they are. Nothing is ever written through one
   * all the same (every parent of an entry must be a real dir).
   */
  allowLinksOut?: boolean;
}

/** Receives one file's data, then `end()`. */
export interface FileSink {
  write(data: Uint8Array): void;
  end(): void;
  /** Closes the file after an error elsewhere. */
  abort(): void;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
/** Permission bits and sticky bit; setuid/setgid dropped (see the module comment). */
export const MODE_MASK = 0o1777;
const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
/** Symlink hops followed by the final check before a chain is treated as a loop (Linux's limit is 40). */
const MAX_HOPS = 40;

/** See the module comment. */
export class SafeWriter {
  /** Entries written: files, dirs, symlinks, hard links. */
  entries = 0;
  /** File bytes written. */
  bytes = 0;

  private readonly root: string;
  private readonly strip: number;
  private readonly include: ((relPath: string) => boolean) | undefined;
  private readonly zipNames: boolean;
  private readonly allowLinksOut: boolean;
  /** Relative paths known to be real dirs made or checked by us ('' is the root). */
  private readonly dirs = new Set<string>(['']);
  /** Relative paths of the symlinks made, for the final check. */
  private readonly symlinks: string[] = [];
  /** Modes of directory entries, applied at the end (so a read-only dir can still be filled). */
  private readonly dirModes = new Map<string, number>();
  private readonly umask: number;
  /** The file being written, closed by {@link abort} after an error. */
  private openFile: FileSink | null = null;

  /** `root` must exist; it is the caller's to create and to remove on failure. */
  constructor(root: string, options: SafeWriterOptions = {}) {
    this.root = path.resolve(root);
    this.strip = options.stripComponents ?? 0;
    this.include = options.include;
    this.zipNames = options.zipNames ?? false;
    this.allowLinksOut = options.allowLinksOut ?? false;
    this.umask = process.umask();
  }

  /**
   * Checks an entry name and turns it into the path to write, relative to the
   * root, after stripping; null when the entry is to be skipped (too few
   * components, or `include` says no). Throws {@link UnsafeEntryError}.
   */
  target(name: string): string | null {
    const rel = this.stripped(this.checkName(name, name));
    if (rel === '') return null;
    if (this.include && !this.include(rel)) return null;
    return rel;
  }

  /** Starts a regular file; null when skipped. Write its data to the returned sink. */
  file(name: string, mode: number): FileSink | null {
    const rel = this.target(name);
    if (rel === null) return null;
    const abs = this.prepare(rel, name);
    const perm = mode & MODE_MASK;
    // A new file gets `perm & ~umask` (it can be written through this fd even when read-only);
    // fchmod only when the umask took bits away, or for the sticky bit, which open() ignores.
    const needChmod = (perm & this.umask) !== 0 || perm > 0o777;
    let fd: number;
    try {
      fd = fs.openSync(abs, CREATE_FLAGS, perm & 0o777);
    } catch (e) {
      if (code(e) !== 'EEXIST') throw e;
      this.remove(rel, abs);
      fd = fs.openSync(abs, CREATE_FLAGS, perm & 0o777);
    }
    let closed = false;
    const sink: FileSink = {
      write: (data) => {
        let off = 0;
        while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
        this.bytes += data.length;
      },
      end: () => {
        closed = true;
        this.openFile = null;
        try {
          if (needChmod) fs.fchmodSync(fd, perm);
        } finally {
          fs.closeSync(fd);
        }
        this.entries++;
      },
      abort: () => {
        if (closed) return;
        closed = true;
        this.openFile = null;
        fs.closeSync(fd);
      },
    };
    this.openFile = sink;
    return sink;
  }

  /** Creates (or keeps) a directory. */
  directory(name: string, mode: number): void {
    const rel = this.target(name);
    if (rel === null) return;
    if (rel === '') return;
    const abs = this.prepare(rel, name);
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) this.remove(rel, abs);
    if (!st || !st.isDirectory()) fs.mkdirSync(abs, 0o755);
    this.dirs.add(rel);
    this.dirModes.set(rel, mode & MODE_MASK);
    this.entries++;
  }

  /** Creates a symlink, refusing one whose target leaves the root. */
  symlink(name: string, linkTarget: string): void {
    const rel = this.target(name);
    if (rel === null) return;
    this.makeSymlink(rel, linkTarget, `${name} -> ${linkTarget}`);
  }

  /** Creates a hard link to an earlier entry (named as in the archive, so stripped like entry names). */
  hardlink(name: string, linkTarget: string): void {
    const label = `${name} -> ${linkTarget}`;
    const targetParts = this.checkName(linkTarget, label, 'links to');
    const rel = this.target(name);
    if (rel === null) return;
    const targetRel = this.stripped(targetParts);
    if (targetRel === '') throw new BadEntryError(`the hard link ${JSON.stringify(label)} points at nothing once ${this.strip} leading components are stripped`);
    if (targetRel === rel) return; // a link to itself: the file is already there
    // The target's parents must be real dirs (no following symlinks), and the target itself is looked at, not followed.
    const targetAbs = this.checkExistingParents(targetRel, label);
    const st = targetAbs === null ? undefined : fs.lstatSync(targetAbs, { throwIfNoEntry: false });
    if (!st || targetAbs === null) {
      if (this.include) return; // most likely filtered out by `include`
      throw new BadEntryError(`the hard link ${JSON.stringify(label)} points at a file that is not in the archive before it`);
    }
    if (st.isSymbolicLink()) {
      // link() would make a second symlink with the same (relative) target, which resolves differently from its new dir.
      this.makeSymlink(rel, fs.readlinkSync(targetAbs), label);
      return;
    }
    if (st.isDirectory()) throw new BadEntryError(`the hard link ${JSON.stringify(label)} points at a directory`);
    const abs = this.prepare(rel, name);
    try {
      fs.linkSync(targetAbs, abs);
    } catch (e) {
      if (code(e) !== 'EEXIST') throw e;
      this.remove(rel, abs);
      fs.linkSync(targetAbs, abs);
    }
    this.entries++;
  }

  /** Checks every symlink made against the tree as it ends up, then applies directory modes. Throws {@link UnsafeEntryError}. */
  finish(): void {
    for (const rel of this.symlinks) {
      const escape = this.resolvesOutside(rel);
      if (escape !== null) throw new UnsafeEntryError(`${rel} -> ${escape}`, 'is a symlink that, through other symlinks in the archive, resolves outside the target dir');
    }
    // Deepest first, so a dir made read-only does not stop us from setting its children's modes (when not root).
    const dirs = [...this.dirModes].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, mode] of dirs) {
      const abs = path.join(this.root, rel);
      if (fs.lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) fs.chmodSync(abs, mode);
    }
  }

  /** Closes a file left open by an error. */
  abort(): void {
    this.openFile?.abort();
  }

  /**
   * Drops `strip` leading components as GNU tar does (a `.` counts: `./pkg/x`
   * with 1 gives `pkg/x`), then the remaining `.` components; '' when nothing is left.
   */
  private stripped(parts: string[]): string {
    let rest = this.strip ? parts.slice(this.strip) : parts;
    if (rest.includes('.')) rest = rest.filter((p) => p !== '.');
    return rest.join('/');
  }

  /** Splits a name into components (`.` kept, for stripping), refusing absolute paths, `..`, NUL bytes (and zip's backslashes and drive letters). */
  private checkName(name: string, label: string, verb = 'is'): string[] {
    if (name.includes('\0')) throw new UnsafeEntryError(label, `${verb === 'is' ? 'has' : 'links to a path with'} a NUL byte in its name`);
    if (this.zipNames) {
      if (/^[a-zA-Z]:/.test(name)) throw new UnsafeEntryError(label, `${verb} an absolute Windows path (a drive letter)`);
      if (name.includes('\\')) throw new UnsafeEntryError(label, `${verb === 'is' ? 'has' : 'links to a path with'} a backslash, which Windows tools read as a path separator`);
    }
    if (name.startsWith('/')) throw new UnsafeEntryError(label, `${verb} an absolute path`);
    const parts: string[] = [];
    for (const p of name.split('/')) {
      if (p === '') continue;
      if (p === '..') throw new UnsafeEntryError(label, `${verb === 'is' ? 'has' : 'links to a path with'} a ".." component`);
      parts.push(p);
    }
    return parts;
  }

  private makeSymlink(rel: string, linkTarget: string, label: string): void {
    if (linkTarget === '' || linkTarget.includes('\0')) throw new UnsafeEntryError(label, 'is a symlink with an empty or malformed target');
    if (this.allowLinksOut && !this.zipNames) {
      this.placeSymlink(rel, linkTarget, label);
      return;
    }
    if (linkTarget.startsWith('/') || (this.zipNames && /^[a-zA-Z]:|\\/.test(linkTarget))) {
      throw new UnsafeEntryError(label, 'is a symlink to an absolute path, which is outside the target dir');
    }
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), linkTarget));
    if (resolved === '..' || resolved.startsWith('../')) throw new UnsafeEntryError(label, 'is a symlink that points outside the target dir');
    this.placeSymlink(rel, linkTarget, label);
    this.symlinks.push(rel); // checked again at finish(), through the other links
  }

  /** Creates the symlink at `rel` (its parents real dirs), replacing whatever was there. */
  private placeSymlink(rel: string, linkTarget: string, label: string): void {
    const abs = this.prepare(rel, label);
    try {
      fs.symlinkSync(linkTarget, abs);
    } catch (e) {
      if (code(e) !== 'EEXIST') throw e;
      this.remove(rel, abs);
      fs.symlinkSync(linkTarget, abs);
    }
    this.entries++;
  }

  /**
   * Makes sure every parent of `rel` is a real directory, creating missing
   * ones; refuses the entry when one is a symlink. Returns the absolute path.
   */
  private prepare(rel: string, label: string): string {
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    if (!this.dirs.has(parent)) {
      let at = -1;
      do {
        at = rel.indexOf('/', at + 1);
        const dir = rel.slice(0, at);
        if (this.dirs.has(dir)) continue;
        const abs = path.join(this.root, dir);
        const st = fs.lstatSync(abs, { throwIfNoEntry: false });
        if (st?.isSymbolicLink()) {
          throw new UnsafeEntryError(label, `would be written through the symlink "${dir}" (made by an earlier entry); writing through symlinks is refused`);
        }
        if (st && !st.isDirectory()) this.remove(dir, abs); // a file in the way, as when an archive has both "a" and "a/b"
        if (!st || !st.isDirectory()) fs.mkdirSync(abs, 0o755);
        this.dirs.add(dir);
      } while (at !== slash);
    }
    return path.join(this.root, rel);
  }

  /** Like {@link prepare} but creates nothing: null when a parent is missing. */
  private checkExistingParents(rel: string, label: string): string | null {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.dirs.has(dir)) continue;
      const st = fs.lstatSync(path.join(this.root, dir), { throwIfNoEntry: false });
      if (!st) return null;
      if (st.isSymbolicLink()) throw new UnsafeEntryError(label, `links to a path through the symlink "${dir}"; following symlinks is refused`);
      if (!st.isDirectory()) return null;
    }
    return path.join(this.root, rel);
  }

  /** Removes whatever is at `rel` (a file, a symlink, a dir tree), forgetting what was known under it. */
  private remove(rel: string, abs: string): void {
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if ((st.mode & S_IFMT) === S_IFDIR) {
      fs.rmSync(abs, { recursive: true, force: true });
      const under = `${rel}/`;
      for (const d of this.dirs) if (d === rel || d.startsWith(under)) this.dirs.delete(d);
      for (const d of this.dirModes.keys()) if (d === rel || d.startsWith(under)) this.dirModes.delete(d);
    } else {
      fs.unlinkSync(abs);
    }
  }

  /**
   * Resolves the symlink at `rel` through the tree, following symlinks the way
   * the kernel would (missing components are taken lexically). Returns the
   * offending target when it ends outside the root, null otherwise (also for
   * loops, which resolve to nothing).
   */
  private resolvesOutside(rel: string): string | null {
    const abs0 = path.join(this.root, rel);
    const st0 = fs.lstatSync(abs0, { throwIfNoEntry: false });
    if (!st0?.isSymbolicLink()) return null; // replaced by a later entry
    const first = fs.readlinkSync(abs0);
    const stack = rel.split('/');
    stack.pop();
    let pending = first.split('/');
    let hops = 1;
    while (pending.length > 0) {
      const c = pending.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (stack.length === 0) return first;
        stack.pop();
        continue;
      }
      stack.push(c);
      const abs = path.join(this.root, stack.join('/'));
      const st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (!st?.isSymbolicLink()) continue;
      if (++hops > MAX_HOPS) return null;
      const next = fs.readlinkSync(abs);
      if (next.startsWith('/')) return first;
      stack.pop();
      pending = [...next.split('/'), ...pending];
    }
    return null;
  }
}

function depth(rel: string): number {
  let n = 0;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 0x2f) n++;
  return n;
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}
