// List-in, list-out set operations done by cidr-tools, after the entries pass the same strict
// checks as CidrSet.from (and IPv4-mapped prefixes become IPv4, which cidr-tools would not do).

import { excludeCidr, mergeCidr } from 'cidr-tools';
import { asEntries, canonicalEntry, type CidrSetOptions } from './set.js';

function canonicalList(entries: Iterable<string>, options: CidrSetOptions): string[] {
  const loose = options.loose === true;
  const out: string[] = [];
  let index = 0;
  for (const entry of asEntries(entries)) {
    out.push(canonicalEntry(entry, { index: index++ }, loose));
  }
  return out;
}

/**
 * Merges overlapping and adjacent entries into the shortest equivalent list of CIDRs (IPv4
 * first). Throws a `CidrError` naming the first bad entry and its index.
 *
 * ```ts
 * mergeCidrs(['10.0.0.0/9', '10.128.0.0/9', '10.1.2.3'])  // ['10.0.0.0/8']
 * ```
 */
export function mergeCidrs(entries: Iterable<string>, options: CidrSetOptions = {}): string[] {
  return mergeCidr(canonicalList(entries, options));
}

/**
 * The addresses of `base` that are not in `excluded`, as the shortest list of CIDRs.
 *
 * ```ts
 * excludeCidrs(['10.0.0.0/8'], ['10.0.0.0/9'])  // ['10.128.0.0/9']
 * ```
 */
export function excludeCidrs(
  base: Iterable<string>,
  excluded: Iterable<string>,
  options: CidrSetOptions = {},
): string[] {
  const removed = canonicalList(excluded, options);
  return excludeCidr(canonicalList(base, options), removed);
}
