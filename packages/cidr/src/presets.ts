// Ready-made lists, each range documented with the RFC that sets it aside.

import { CidrSet } from './set.js';

export interface PresetRange {
  readonly cidr: string;
  /** What the range is for. */
  readonly name: string;
  /** The RFC (and section) that reserves it. */
  readonly rfc: string;
}

/**
 * The local ranges a home server's reverse proxy lets reach its internal pages: loopback,
 * link-local, the private networks, the shared (CGNAT) space Tailscale hands out, and their
 * IPv6 counterparts. IPv4-mapped forms of the IPv4 ranges match too, since every set checks
 * them as IPv4.
 */
export const LOCAL_RANGES: readonly PresetRange[] = Object.freeze(
  [
    { cidr: '127.0.0.0/8', name: 'IPv4 loopback', rfc: 'RFC 1122 §3.2.1.3' },
    { cidr: '169.254.0.0/16', name: 'IPv4 link-local', rfc: 'RFC 3927' },
    { cidr: '10.0.0.0/8', name: 'private network', rfc: 'RFC 1918' },
    { cidr: '172.16.0.0/12', name: 'private network', rfc: 'RFC 1918' },
    { cidr: '192.168.0.0/16', name: 'private network', rfc: 'RFC 1918' },
    { cidr: '100.64.0.0/10', name: 'shared address space (CGNAT; Tailscale)', rfc: 'RFC 6598' },
    { cidr: '::1/128', name: 'IPv6 loopback', rfc: 'RFC 4291 §2.5.3' },
    { cidr: 'fe80::/10', name: 'IPv6 link-local unicast', rfc: 'RFC 4291 §2.5.6' },
    {
      cidr: 'fc00::/7',
      name: 'IPv6 unique local (Tailscale uses fd7a:115c:a1e0::/48)',
      rfc: 'RFC 4193',
    },
  ].map((range) => Object.freeze(range)),
);

let localSet: CidrSet | undefined;

/** Sets built from the preset lists on first use. */
export const presets = {
  /** `LOCAL_RANGES` as a set. */
  get local(): CidrSet {
    localSet ??= CidrSet.from(LOCAL_RANGES.map((range) => range.cidr));
    return localSet;
  },
};
