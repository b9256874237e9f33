// Reverse-proxy semantics: which address a request comes from, and whether it may pass, with the
// meaning Traefik gives its ipAllowList middleware and ipStrategy options.

import { CidrError } from './errors.js';
import {
  KIND_INVALID,
  formatIPv6,
  isMappedWords,
  lastSplitHost,
  parseAddressInto,
  splitHostPortInto,
} from './parse.js';
import { CidrSet } from './set.js';

/** The parts of a request the checks read; Node's `IncomingMessage` and fetch's fit. */
export interface RequestLike {
  /** The peer's address (Node puts it at `socket.remoteAddress`; both are read). */
  remoteAddress?: string | undefined;
  socket?: { remoteAddress?: string | undefined } | undefined;
  /** Node's header object (lower-case names) or a fetch `Headers`. */
  headers?:
    | Record<string, string | readonly string[] | undefined>
    | { get(name: string): string | null }
    | undefined;
}

/** How to pick the client address; the fields of Traefik's `ipStrategy`. */
export interface IpStrategyOptions {
  /**
   * Use the `depth`-th `X-Forwarded-For` entry counted from the right (1 is the rightmost, the
   * one the nearest proxy added). Too few entries means no address, and the request is refused.
   * 0 or unset: not used. Wins over `excludedIPs`.
   */
  depth?: number;
  /**
   * Use the first `X-Forwarded-For` entry from the right that is not in these addresses and
   * prefixes (your own proxies). Empty entries are skipped; if every entry is excluded there is
   * no address and the request is refused. `ipv6Subnet` does not apply here (as in Traefik).
   */
  excludedIPs?: Iterable<string> | CidrSet;
  /**
   * Reduce an IPv6 client address to the first address of its /`ipv6Subnet` (1 to 128), so
   * a whole subnet counts as one client. IPv4 and IPv4-mapped addresses are left as they are.
   */
  ipv6Subnet?: number;
}

/**
 * Without options (or with `depth` 0 and no `excludedIPs`), the client is the peer address of
 * the connection and `X-Forwarded-For` is never read: a spoofed header changes nothing.
 */
export class IpStrategy {
  private readonly depth: number;
  private readonly excluded: CidrSet | undefined;
  private readonly ipv6Subnet: number | undefined;

  constructor(options: IpStrategyOptions = {}) {
    const { depth = 0, excludedIPs, ipv6Subnet } = options;
    if (!Number.isInteger(depth) || depth < 0) {
      throw optionError('depth', depth, 'a whole number, 0 or more');
    }
    if (
      ipv6Subnet !== undefined &&
      (!Number.isInteger(ipv6Subnet) || ipv6Subnet < 1 || ipv6Subnet > 128)
    ) {
      throw optionError('ipv6Subnet', ipv6Subnet, 'a whole number from 1 to 128');
    }

    this.depth = depth;
    this.ipv6Subnet = ipv6Subnet;
    if (depth === 0 && excludedIPs !== undefined) {
      const set = excludedIPs instanceof CidrSet ? excludedIPs : CidrSet.from(excludedIPs);
      this.excluded = set;
    }
  }

  /**
   * The client address of a request as a string, or undefined when there is none (no peer
   * address, too few `X-Forwarded-For` entries, every entry excluded). The string is not
   * checked to be an address: that is the allow-list's job, and it refuses what is not one.
   */
  clientAddress(request: RequestLike): string | undefined {
    if (this.depth > 0) {
      const entries = forwardedFor(request).split(',');
      if (entries.length < this.depth) return undefined;
      const entry = entries[entries.length - this.depth].trim();
      return this.masked(entry);
    }

    if (this.excluded !== undefined) {
      const entries = forwardedFor(request).split(',');
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i].trim();
        if (entry === '') continue;
        if (!this.excluded.has(entry)) return entry;
      }
      return undefined;
    }

    const remote = request.remoteAddress ?? request.socket?.remoteAddress;
    if (remote === undefined) return undefined;
    const host = splitHostPortInto(remote) === '' ? lastSplitHost() : remote;
    return this.masked(host);
  }

  private masked(address: string): string | undefined {
    if (address === '') return undefined;
    if (this.ipv6Subnet === undefined) return address;

    const words = maskWords;
    if (parseAddressInto(address, words) === KIND_INVALID) return address;
    if (address.indexOf(':') < 0 || isMappedWords(words[0], words[1], words[2])) return address;

    const bits = this.ipv6Subnet;
    for (let i = 0; i < 4; i++) {
      const keep = Math.min(Math.max(bits - 32 * i, 0), 32);
      words[i] = keep === 0 ? 0 : (words[i] & (-1 << (32 - keep))) >>> 0;
    }
    return formatIPv6(words[0], words[1], words[2], words[3]);
  }
}

const maskWords = new Uint32Array(4);

/** The `X-Forwarded-For` value, several header lines joined with ",". "" when absent. */
function forwardedFor(request: RequestLike): string {
  const headers = request.headers;
  if (headers === undefined || headers === null) return '';

  let value: string | readonly string[] | null | undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    value = (headers as { get(name: string): string | null }).get('x-forwarded-for');
  } else {
    const record = headers as Record<string, string | readonly string[] | undefined>;
    value = record['x-forwarded-for'] ?? record['X-Forwarded-For'];
  }

  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : value.join(',');
}

/**
 * The client address of a request, picked as `strategy` says (the peer address by default).
 * With `excludedIPs`, pass an `IpStrategy` built once rather than options on every call.
 *
 * ```ts
 * clientAddress({ remoteAddress: '::ffff:10.200.1.1',
 *   headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.2' } }, { depth: 2 })  // '203.0.113.9'
 * ```
 */
export function clientAddress(
  request: RequestLike,
  strategy: IpStrategy | IpStrategyOptions = {},
): string | undefined {
  const picker = strategy instanceof IpStrategy ? strategy : new IpStrategy(strategy);
  return picker.clientAddress(request);
}

export interface IpAllowListOptions {
  /** The allowed addresses and prefixes. */
  sourceRange: CidrSet | Iterable<string>;
  /** How to pick the client address; the peer address when unset. */
  ipStrategy?: IpStrategy | IpStrategyOptions;
}

export interface AllowDecision {
  allowed: boolean;
  /** The address that was checked, or undefined when none could be picked. */
  clientAddress: string | undefined;
  /** Why: `allowed`, `no client address`, `not an IP address` or `not in the allowed ranges`. */
  reason: 'allowed' | 'no client address' | 'not an IP address' | 'not in the allowed ranges';
}

/** A compiled allow-list check; see `ipAllowList`. */
export class IpAllowList {
  readonly sourceRange: CidrSet;
  readonly strategy: IpStrategy;

  constructor(options: IpAllowListOptions) {
    const { sourceRange, ipStrategy } = options;
    this.sourceRange = sourceRange instanceof CidrSet ? sourceRange : CidrSet.from(sourceRange);
    this.strategy = ipStrategy instanceof IpStrategy ? ipStrategy : new IpStrategy(ipStrategy);
  }

  /** True when the request's client address is in the allowed ranges. */
  allows(request: RequestLike): boolean {
    return this.check(request).allowed;
  }

  /** The decision with the address it was made on and why. */
  check(request: RequestLike): AllowDecision {
    const picked = this.strategy.clientAddress(request);
    if (picked === undefined) {
      return { allowed: false, clientAddress: undefined, reason: 'no client address' };
    }

    // Like Traefik, an address that still carries a port (`1.2.3.4:5678`, `[::1]:80`) is
    // checked without it.
    const host = splitHostPortInto(picked) === '' ? lastSplitHost() : picked;
    if (parseAddressInto(host, checkWords) === KIND_INVALID) {
      return { allowed: false, clientAddress: picked, reason: 'not an IP address' };
    }
    if (!this.sourceRange.hasIPv6(checkWords[0], checkWords[1], checkWords[2], checkWords[3])) {
      return { allowed: false, clientAddress: picked, reason: 'not in the allowed ranges' };
    }
    return { allowed: true, clientAddress: picked, reason: 'allowed' };
  }
}

const checkWords = new Uint32Array(4);

/**
 * An allow-list with the meaning of Traefik's `ipAllowList` middleware: pick the client address
 * with `ipStrategy` (the peer address by default; `depth` or `excludedIPs` to read
 * `X-Forwarded-For` from trusted proxies), refuse when there is none or it is not an address,
 * allow when it is in `sourceRange`.
 *
 * ```ts
 * const internal = ipAllowList({ sourceRange: presets.local });
 * http.createServer((req, res) => {
 *   if (!internal.allows(req)) return void res.writeHead(403).end();
 *   …
 * });
 * ```
 */
export function ipAllowList(options: IpAllowListOptions): IpAllowList {
  return new IpAllowList(options);
}

function optionError(name: string, value: unknown, wanted: string): CidrError {
  const reason = `${name} must be ${wanted}, got ${String(value)}`;
  return new CidrError(`configure ip strategy: ${reason}`, { code: 'ERR_CIDR_OPTION', reason });
}
