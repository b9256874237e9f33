// Writing an upload into the landing folder so that no reader ever sees half a file: a hidden
// temporary name (which the landing watcher ignores), created O_EXCL|O_NOFOLLOW with mode 0600,
// written, fsync'd, then renamed to a name the server picks, and the folder fsync'd.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = constants;

/** An error from preparing the landing folder or writing an upload into it. */
export class LandingWriteError extends Error {
  readonly op: string;
  readonly path: string;
  readonly code: string | undefined;

  constructor(op: string, path: string, cause: unknown) {
    const text = cause instanceof Error ? cause.message : String(cause);
    super(`landing zone: failed to ${op} ${path}: ${text}`, { cause });
    this.name = 'LandingWriteError';
    this.op = op;
    this.path = path;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/**
 * Makes sure `dir` is a directory the server may drop files into: created 0700 when missing;
 * refused when it is a symlink, not a directory, or writable by group or others. Returns the
 * absolute path.
 */
export function prepareLandingFolder(dir: string): string {
  const path = resolve(dir);
  let stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new LandingWriteError('inspect landing folder', path, error);
    }
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      chmodSync(path, 0o700);
    } catch (cause) {
      throw new LandingWriteError('create landing folder', path, cause);
    }
    return path;
  }

  if (stats.isSymbolicLink()) {
    throw new LandingWriteError('use landing folder', path, new Error('it is a symbolic link'));
  }
  if (!stats.isDirectory()) {
    throw new LandingWriteError('use landing folder', path, new Error('not a directory'));
  }
  if ((stats.mode & 0o022) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    throw new LandingWriteError(
      'use landing folder',
      path,
      new Error(`mode ${mode} lets group or others write there (chmod 700)`),
    );
  }
  return path;
}

/** `upload-20250101T120000Z-a1b2c3d4e5f6.conf`: sortable by time, unique by the random part. */
export function uploadName(now = new Date(), random = randomBytes(6).toString('hex')): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `upload-${stamp}-${random}.conf`;
}

/**
 * Writes `content` into `dir` as a new 0600 file under a name chosen here and returns its
 * path. On failure nothing is left behind under either name.
 */
export function writeUpload(dir: string, content: Uint8Array): string {
  const name = uploadName();
  const final = join(dir, name);
  const temp = join(dir, `.${name}.tmp`);

  let fd: number;
  try {
    fd = openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (error) {
    throw new LandingWriteError('create', temp, error);
  }

  let renamed = false;
  try {
    // The umask could only have removed bits; this makes the mode exactly 0600.
    fchmodSync(fd, 0o600);
    for (let written = 0; written < content.length;) {
      written += writeSync(fd, content, written, content.length - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;

    renameSync(temp, final);
    renamed = true;
    syncFolder(dir);
    return final;
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    if (!renamed) {
      try {
        unlinkSync(temp);
      } catch {
        // Not created or already gone.
      }
    }
    throw new LandingWriteError(renamed ? 'sync folder' : 'write', renamed ? dir : temp, error);
  }
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, O_RDONLY | O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
