// Named network namespaces the way iproute2 makes them: a bind mount of a namespace file onto
// /run/netns/NAME, so `ip netns exec NAME …` and systemd's NetworkNamespacePath= see them.
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
} from 'node:fs';
import { NetnsError } from './errors.ts';
import { constants as osConstants } from 'node:os';
import { MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, mount, umount, withNewNetns } from './syscalls.ts';
import { checkNamespaceName } from './validate.ts';

export const NETNS_RUN_DIR = '/run/netns';

export function namespacePath(name: string): string {
  checkNamespaceName(name, 'netns path');
  return `${NETNS_RUN_DIR}/${name}`;
}

function isMountPoint(path: string): boolean {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === path);
}

/** /run/netns must be a shared mount point so that namespaces made later propagate. */
function prepareRunDir(): void {
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  if (!isMountPoint(NETNS_RUN_DIR)) {
    mount(NETNS_RUN_DIR, NETNS_RUN_DIR, MS_BIND | MS_REC, 'netns add: bind /run/netns');
  }
  mount('none', NETNS_RUN_DIR, MS_SHARED | MS_REC, 'netns add: share /run/netns');
}

/**
 * Creates a named network namespace. `ip netns add NAME`.
 * Throws a NetnsError with `isExists()` when the name is taken.
 */
export function createNamespace(name: string): void {
  const path = namespacePath(name);
  prepareRunDir();
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL, 0);
  } catch (error) {
    throw new NetnsError({
      op: 'netns add',
      object: name,
      errno: -(error as NodeJS.ErrnoException).errno!,
      cause: error,
    });
  }
  closeSync(fd);
  try {
    withNewNetns(() => mount('/proc/thread-self/ns/net', path, MS_BIND, 'netns add: bind'), name);
  } catch (error) {
    unlinkSync(path);
    throw error;
  }
}

/**
 * Deletes a named namespace: unmounts and removes /run/netns/NAME. `ip netns del NAME`.
 * The namespace itself lives on while a process or an open handle still uses it.
 */
export function deleteNamespace(name: string): void {
  const path = namespacePath(name);
  if (!existsSync(path)) {
    throw new NetnsError({ op: 'netns del', object: name, errno: osConstants.errno.ENOENT });
  }
  try {
    umount(path, MNT_DETACH, 'netns del');
  } catch (error) {
    // EINVAL: not a mount point (a leftover file from an interrupted add); remove it anyway.
    if ((error as NetnsError).code !== 'EINVAL') throw error;
  }
  try {
    unlinkSync(path);
  } catch (error) {
    throw new NetnsError({
      op: 'netns del',
      object: name,
      errno: -(error as NodeJS.ErrnoException).errno!,
      cause: error,
    });
  }
}

/** The named namespaces, sorted. `ip netns list`. */
export function listNamespaces(): string[] {
  if (!existsSync(NETNS_RUN_DIR)) return [];
  return readdirSync(NETNS_RUN_DIR).sort();
}

export function namespaceExists(name: string): boolean {
  return existsSync(namespacePath(name));
}
