// Who may use the landing page, and which requests may change something.
//
// Access: the client address is the socket's peer address, checked against the allowed ranges
// (the local preset by default). Only when the peer itself is a trusted proxy is the address
// taken from `X-Forwarded-For`, picked the way Traefik's ipStrategy picks it (`depth`, or the
// first entry from the right outside `excludedIPs`; the rightmost entry when neither is set).
// A header from any other peer is ignored, so a client cannot claim someone else's address.
//
// Cross-site submission: an upload must carry the page's token in a header (a cross-site page
// can neither read the token nor send a custom header without a CORS preflight, which is never
// answered), and when the browser says where the request comes from (`Sec-Fetch-Site`,
// `Origin`) that must be this very site. The `Host` header must be an IP literal, `localhost`
// or a configured name, so a hostile name rebound to this server's address (DNS rebinding)
// cannot become "this very site".
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { CidrSet, IpAllowList, isValidAddress, presets, splitHostPort } from '@netvault/cidr';

export interface AccessOptions {
  /** Allowed client addresses. Default: the local preset (loopback, private, CGNAT, ULA…). */
  allow?: CidrSet | Iterable<string>;
  /** Peers whose `X-Forwarded-For` is believed. Default: none, the header is never read. */
  trustedProxies?: CidrSet | Iterable<string>;
  /** Behind trusted proxies: the `depth`-th `X-Forwarded-For` entry from the right. */
  depth?: number;
  /** Behind trusted proxies: the first entry from the right outside these (your proxies). */
  excludedIPs?: Iterable<string>;
}

export interface AccessDecision {
  allowed: boolean;
  /** The socket's peer address, as Node gives it (`::ffff:a.b.c.d` on a dual-stack socket). */
  peer: string | undefined;
  /** The address the decision was made on; undefined when none could be picked. */
  client: string | undefined;
  /** True when the client address came from a trusted proxy's `X-Forwarded-For`. */
  proxied: boolean;
  /** True when an `X-Forwarded-For` header was present and not believed. */
  forwardedIgnored: boolean;
  /** A sentence for the 403 body and the log; `allowed` when allowed. */
  reason: string;
}

interface PeerRequest {
  socket: { remoteAddress?: string | undefined };
  headers: IncomingHttpHeaders;
}

/** The compiled access rules of one server; see the comment at the top of this file. */
export class LandingAccess {
  readonly allow: CidrSet;
  readonly trustedProxies: CidrSet | undefined;
  readonly #direct: IpAllowList;
  readonly #proxied: IpAllowList | undefined;

  constructor(options: AccessOptions = {}) {
    this.allow = toSet(options.allow ?? presets.local);
    this.#direct = new IpAllowList({ sourceRange: this.allow });

    const { trustedProxies, depth, excludedIPs } = options;
    if (trustedProxies === undefined) {
      if (depth !== undefined || excludedIPs !== undefined) {
        throw new RangeError('landing access: depth and excludedIPs need trustedProxies');
      }
      return;
    }

    this.trustedProxies = toSet(trustedProxies);
    const strategy =
      depth !== undefined && depth > 0
        ? { depth }
        : excludedIPs !== undefined
          ? { excludedIPs }
          : { depth: 1 };
    this.#proxied = new IpAllowList({ sourceRange: this.allow, ipStrategy: strategy });
  }

  decide(request: PeerRequest): AccessDecision {
    const peer = request.socket.remoteAddress;
    const forwarded = request.headers['x-forwarded-for'] !== undefined;
    const trusted = peer !== undefined && this.trustedProxies?.has(peer) === true;

    const decision = trusted
      ? this.#proxied!.check({ remoteAddress: peer, headers: request.headers })
      : this.#direct.check({ remoteAddress: peer });
    const client = decision.clientAddress;

    let reason = decision.allowed ? 'allowed' : `${client ?? 'client'}: ${decision.reason}`;
    if (!decision.allowed && trusted && client === undefined) {
      reason = `request through proxy ${peer} names no usable client address in X-Forwarded-For`;
    }
    return {
      allowed: decision.allowed,
      peer,
      client,
      proxied: trusted,
      forwardedIgnored: forwarded && !trusted,
      reason,
    };
  }
}

function toSet(value: CidrSet | Iterable<string>): CidrSet {
  return value instanceof CidrSet ? value : CidrSet.from(value);
}

/** The host part of a `Host` header value, lower-cased, without brackets; undefined if bad. */
export function hostOf(value: string | undefined): string | undefined {
  if (value === undefined || value === '' || /[\s/?#@\\]/.test(value)) return undefined;
  let host = value;
  if (value.startsWith('[') || value.includes(':')) {
    if (value.startsWith('[') && value.endsWith(']')) host = value.slice(1, -1);
    else {
      try {
        host = splitHostPort(value).host;
      } catch {
        return undefined;
      }
    }
  }
  return host.toLowerCase();
}

/**
 * Whether the `Host` header names this server in a way no other site can: an IP literal,
 * `localhost`, or one of `names` (the names the operator serves the page under).
 */
export function isAcceptedHost(value: string | undefined, names: readonly string[]): boolean {
  const host = hostOf(value);
  if (host === undefined) return false;
  if (isValidAddress(host) || host === 'localhost') return true;
  return names.some((name) => name.toLowerCase() === host);
}

/**
 * The cross-site check of a request that changes state: undefined when it passes, else why not.
 * `token` is the server's; the request must send it in `X-Netvault-Token`.
 */
export function crossSiteRefusal(headers: IncomingHttpHeaders, token: string): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  }

  const origin = headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || originHost !== headers.host?.toLowerCase()) {
      return `cross-site request refused (Origin ${origin} is not this site)`;
    }
  }

  const sent = headers['x-netvault-token'];
  if (typeof sent !== 'string' || !sameSecret(sent, token)) {
    return 'missing or wrong X-Netvault-Token: reload the page and try again';
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The client's file name, cut down to something safe to show and log: percent-decoded, only
 * what follows the last `/` or `\`, without control and bidirectional-override characters, at
 * most 80 characters. It is never used as a path: the server names the file itself.
 */
export function displayName(header: string | string[] | undefined): string {
  let name = Array.isArray(header) ? header[0] : header;
  if (name === undefined) return 'upload.conf';
  try {
    name = decodeURIComponent(name);
  } catch {
    // Shown as sent.
  }
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  name = name.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '');
  name = name.trim();
  if (name === '' || name === '.' || name === '..') return 'upload.conf';
  return [...name].slice(0, 80).join('');
}
