import { constants as osConstants } from 'node:os';

/** Errno names for the numbers the kernel returns, from Node's own table. */
const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, value]) => [value, name]),
);

export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

export interface NetnsErrorDetails {
  /** What was being done, in `ip` terms where there is one: `link add`, `route replace`, … */
  op: string;
  /** The object acted on: a namespace, link, prefix or sysctl key. */
  object?: string;
  /** Positive errno, when the kernel or a syscall gave one. */
  errno?: number;
  /** The kernel's extended acknowledgement text, when it sent one. */
  extack?: string;
  /** A short reason for errors that have no errno (bad arguments, time-outs). */
  reason?: string;
  cause?: unknown;
}

/**
 * The one error class of @netvault/netns. `code` is the errno name (`ENODEV`, `EEXIST`, …) or,
 * for arguments refused before anything reached the kernel, `EINVAL` with `reason` set.
 * Use `isNotFound()` / `isExists()` instead of matching messages.
 */
export class NetnsError extends Error {
  readonly op: string;
  readonly object: string | undefined;
  readonly errno: number | undefined;
  readonly code: string;
  readonly extack: string | undefined;
  readonly reason: string | undefined;

  constructor(details: NetnsErrorDetails) {
    const code = details.errno === undefined ? 'EINVAL' : errnoName(details.errno);
    const target = details.object === undefined ? '' : ` ${details.object}`;
    const why = [
      details.errno === undefined ? undefined : `${code} (errno ${details.errno})`,
      details.extack,
      details.reason,
    ]
      .filter(Boolean)
      .join(': ');
    super(`netns: ${details.op}${target} failed: ${why}`, { cause: details.cause });
    this.name = 'NetnsError';
    this.op = details.op;
    this.object = details.object;
    this.errno = details.errno;
    this.code = code;
    this.extack = details.extack;
    this.reason = details.reason;
  }

  /** The link, address, route, rule or namespace does not exist. */
  isNotFound(): boolean {
    return (
      this.code === 'ENODEV' ||
      this.code === 'ENOENT' ||
      this.code === 'ESRCH' ||
      this.code === 'EADDRNOTAVAIL'
    );
  }

  /** The object already exists (and the call did not ask to replace it). */
  isExists(): boolean {
    return this.code === 'EEXIST';
  }
}

/** An argument refused before anything was sent to the kernel. */
export function invalidArgument(
  op: string,
  object: string | undefined,
  reason: string,
): NetnsError {
  return new NetnsError({ op, object, reason });
}

export function isNetnsError(error: unknown): error is NetnsError {
  return error instanceof NetnsError;
}
