// The few syscalls Node does not offer, called through koffi (prebuilt, no compiler needed).
// Every namespace switch here is undone before the function returns, also when it throws.
import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NetnsError } from './errors.ts';

const CLONE_NEWNET = 0x40000000;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

interface Libc {
  errno(): number;
  setns(fd: number, nstype: number): number;
  unshare(flags: number): number;
  mount(source: string, target: string, fstype: string, flags: number, data: null): number;
  umount2(target: string, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, length: number): number;
  memfdCreate(name: string, flags: number): number;
}

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc) return libc;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const lib = koffi.load('libc.so.6');
  libc = {
    errno: () => koffi.errno(),
    setns: lib.func('int setns(int fd, int nstype)'),
    unshare: lib.func('int unshare(int flags)'),
    mount: lib.func(
      'int mount(const char *src, const char *target, const char *fstype, ' +
        'unsigned long flags, const void *data)',
    ),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    setsockopt: lib.func(
      'int setsockopt(int fd, int level, int name, const void *value, ' + 'uint32_t length)',
    ),
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
  };
  return libc;
}

function check(result: number, op: string, object?: string): void {
  if (result === 0) return;
  throw new NetnsError({ op, object, errno: loadLibc().errno() });
}

let homeNetnsFd: number | undefined;

/**
 * The network namespace the process started in, kept open for the process's life so that the
 * main thread can always switch back to it.
 */
function homeFd(): number {
  homeNetnsFd ??= openSync('/proc/thread-self/ns/net', 'r');
  return homeNetnsFd;
}

function returnHome(): void {
  const result = loadLibc().setns(homeFd(), CLONE_NEWNET);
  if (result !== 0) {
    // The thread is stranded in a foreign namespace: nothing after this could be trusted.
    const error = new NetnsError({ op: 'setns back to own namespace', errno: loadLibc().errno() });
    process.emitWarning(error);
    process.abort();
  }
}

/**
 * Runs `fn` synchronously with the calling thread in the network namespace behind `fd`, then
 * switches back, also when `fn` throws. Sockets opened by `fn` stay in that namespace.
 * `fn` must not await: the switch covers only its synchronous part.
 */
export function withNetns<T>(fd: number, fn: () => T, object?: string): T {
  homeFd();
  check(loadLibc().setns(fd, CLONE_NEWNET), 'setns', object);
  try {
    return fn();
  } finally {
    returnHome();
  }
}

/** Runs `fn` in a brand-new, anonymous network namespace, then switches back. */
export function withNewNetns<T>(fn: () => T, object?: string): T {
  homeFd();
  check(loadLibc().unshare(CLONE_NEWNET), 'unshare', object);
  try {
    return fn();
  } finally {
    returnHome();
  }
}

export function mount(source: string, target: string, flags: number, op: string): void {
  check(loadLibc().mount(source, target, 'none', flags, null), op, target);
}

export function umount(target: string, flags: number, op: string): void {
  check(loadLibc().umount2(target, flags), op, target);
}

export function setSocketOptionInt(
  fd: number,
  level: number,
  name: number,
  value: number,
): boolean {
  return loadLibc().setsockopt(fd, level, name, Int32Array.of(value), 4) === 0;
}

/** The errno of the last failed call, for callers that treat some failures as expected. */
export function lastErrno(): number {
  return loadLibc().errno();
}

/** True when the calling thread is in the namespace the process started in. */
export function inHomeNetns(): boolean {
  const current = openSync('/proc/thread-self/ns/net', 'r');
  try {
    return sameNamespace(current, homeFd());
  } finally {
    closeSync(current);
  }
}

export function sameNamespace(fdA: number, fdB: number): boolean {
  const a = fstatSync(fdA);
  const b = fstatSync(fdB);
  return a.dev === b.dev && a.ino === b.ino;
}

const MFD_CLOEXEC = 1;

/**
 * An anonymous file in memory (memfd_create) holding `data`, opened for reading from its start.
 * It never touches a disk and disappears with its last descriptor: a way to hand a secret to a
 * child process as its standard input, which it can open as /dev/stdin (a socket, which is
 * what Node gives a child otherwise, cannot be opened that way). The caller closes it.
 */
export function memoryFile(name: string, data: string | Uint8Array): number {
  const writable = loadLibc().memfdCreate(name, MFD_CLOEXEC);
  if (writable < 0)
    throw new NetnsError({ op: 'memfd_create', object: name, errno: loadLibc().errno() });
  try {
    writeFileSync(writable, data);
    return openSync(`/proc/self/fd/${writable}`, 'r');
  } finally {
    closeSync(writable);
  }
}
