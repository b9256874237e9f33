// File primitives for writing secrets: create-exclusive staging files that never follow a
// symlink, rename into place, fsync of the directory, and overwrite-then-unlink of a file that
// held a secret. Everything here is synchronous on purpose: a caller that chains these calls
// cannot be interleaved with another caller in the same process.
//
// Errors are Node's own (`code`, `errno`, `syscall`, `path`), or built to look the same for
// the checks done here (`ELOOP` for a symlink, `ENOTDIR`/`EISDIR` for the wrong kind of file),
// so a caller can wrap them once with the operation it was doing.
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  chmodSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { dirname } from 'node:path';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } = constants;

const zeroChunk = Buffer.alloc(64 * 1024);

/** An error shaped like the ones `node:fs` throws. */
export function fileError(code: string, syscall: string, path: string, message: string) {
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '${path}'`), {
    code,
    syscall,
    path,
  });
}

/** `lstat` that returns undefined when nothing is there. */
export function lstatIfExists(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Makes sure `dir` is a real directory, creating it (and missing parents) with `mode` when
 * absent. A symlink in the last component is refused, not followed. Returns the final stats.
 */
export function ensureDirectory(dir: string, mode: number): BigIntStats {
  const existing = lstatIfExists(dir);
  if (existing?.isSymbolicLink()) {
    throw fileError('ELOOP', 'lstat', dir, 'directory is a symbolic link');
  }
  if (existing && !existing.isDirectory()) {
    throw fileError('ENOTDIR', 'lstat', dir, 'not a directory');
  }
  if (existing) return existing;

  mkdirSync(dir, { recursive: true, mode });

  // mkdir applied the umask; the leaf gets exactly the mode asked for.
  chmodSync(dir, mode);
  fsyncDirectory(dirname(dir));
  return lstatSync(dir, { bigint: true });
}

/** fsync(2) on a directory, so that renames and unlinks in it survive a crash. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Throws unless `path` is absent or a regular file. A symlink there is refused even though
 * rename(2) would replace the link rather than follow it: someone planted it.
 */
export function checkDestination(path: string): void {
  const stats = lstatIfExists(path);
  if (stats === undefined || stats.isFile()) return;
  if (stats.isSymbolicLink()) {
    throw fileError('ELOOP', 'lstat', path, 'destination is a symbolic link');
  }
  throw fileError('EISDIR', 'lstat', path, 'destination is not a regular file');
}

/** write(2) until all of `data` is written at `position`. */
export function writeFully(fd: number, data: Uint8Array, position = 0): void {
  let done = 0;
  while (done < data.length) {
    done += writeSync(fd, data, done, data.length - done, position + done);
  }
}

/**
 * Creates `path` with O_CREAT|O_EXCL|O_NOFOLLOW and `mode`, writes `data`, fsyncs and closes.
 * O_EXCL fails on anything already there, a symlink included, so a planted link is never
 * followed. The umask can only clear bits of `mode`; fchmod then sets exactly `mode`, so no
 * other mode is visible at any time. On failure the half-written file is removed.
 */
export function stageFile(path: string, data: Uint8Array, mode: number): void {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    fchmodSync(fd, mode);
    writeFully(fd, data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(path);
    throw error;
  }
  closeSync(fd);
}

/**
 * rename(2) of a staged file over `destination`, after checking that the destination is not a
 * symlink or another kind of file. The caller fsyncs the directory once it has renamed all
 * it wanted to.
 */
export function commitFile(staged: string, destination: string): void {
  checkDestination(destination);
  renameSync(staged, destination);
}

/**
 * Overwrites the first `size` bytes of an open file with zeros and fsyncs it. The blocks are
 * written in place on filesystems that do so (ext4, xfs); journaling of data and copy-on-write
 * filesystems can keep older copies, which no writer can reach.
 */
export function overwriteWithZeros(fd: number, size: number): void {
  for (let position = 0; position < size; position += zeroChunk.length) {
    writeFully(fd, zeroChunk.subarray(0, Math.min(zeroChunk.length, size - position)), position);
  }
  fsyncSync(fd);
}

/**
 * Identity of a file: its (dev, ino), and its birth time where the filesystem records one, so
 * that a new file given a freed inode number is not taken for the old one.
 */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  birthtimeNs?: bigint;
}

export function identityOf(stats: BigIntStats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, birthtimeNs: stats.birthtimeNs };
}

export function sameFile(a: FileIdentity, b: BigIntStats): boolean {
  if (b.dev !== a.dev || b.ino !== a.ino) return false;
  return !a.birthtimeNs || !b.birthtimeNs || a.birthtimeNs === b.birthtimeNs;
}

/**
 * Overwrites a regular file with zeros, fsyncs it, unlinks it and fsyncs its directory. The
 * file is opened with O_NOFOLLOW|O_NONBLOCK, so a symlink or FIFO planted under its name is
 * neither followed nor blocked on. With `expected`, a file that is not that one is left alone.
 * Returns false when nothing was erased (absent, not regular, or not the expected file).
 */
export function eraseFile(path: string, expected?: FileIdentity): boolean {
  let fd: number;
  try {
    fd = openSync(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return false;
    throw error;
  }

  let identity: FileIdentity;
  try {
    const stats = fstatSync(fd, { bigint: true });
    if (!stats.isFile() || (expected && !sameFile(expected, stats))) return false;
    identity = identityOf(stats);
    overwriteWithZeros(fd, Number(stats.size));
  } finally {
    closeSync(fd);
  }

  return unlinkIfSame(path, identity);
}

/**
 * Opens an existing regular file for a later eraseIfUnlinked(), without following a symlink
 * or blocking on a FIFO. Returns undefined when there is no regular file at `path`.
 */
export function openForErase(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw error;
  }
  if (fstatSync(fd).isFile()) return fd;
  closeSync(fd);
  return undefined;
}

/**
 * Overwrites an open file with zeros if no name leads to it any more (a rename replaced it),
 * so that the blocks of a replaced key do not keep it. A file still linked elsewhere is left
 * alone. Does not close `fd`. Returns whether it wrote.
 */
export function eraseIfUnlinked(fd: number): boolean {
  const stats = fstatSync(fd);
  if (stats.nlink !== 0) return false;
  overwriteWithZeros(fd, stats.size);
  return true;
}

/** Unlinks `path` if it is still the file `identity` names, then fsyncs the directory. */
export function unlinkIfSame(path: string, identity: FileIdentity): boolean {
  const now = lstatIfExists(path);
  if (now === undefined || !sameFile(identity, now)) return false;

  unlinkSync(path);
  fsyncDirectory(dirname(path));
  return true;
}
