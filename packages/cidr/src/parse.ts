// Address parsing with the rules of Go's netip.ParseAddr, on char codes, without allocating.
//
// The parsers write into caller-owned scratch space and report failure as a small reason code,
// so that `CidrSet.has` can run them millions of times a second; the throwing `parseAddress`
// turns the code into text only when it is needed.

import { CidrError, quoteEntry } from './errors.js';

/** The string is not an address; the reason is in `lastReason`. */
export const KIND_INVALID = 0;
/** A dotted-quad IPv4 address. */
export const KIND_IPV4 = 4;
/** An IPv6 address (which may be IPv4-mapped). */
export const KIND_IPV6 = 6;

const REASONS = [
  '',
  'empty string',
  'no "." or ":" in it',
  'a zone ("%") without an IPv6 address before it',
  'an IPv4 octet with a leading zero (octal-looking forms are refused)',
  'an IPv4 octet above 255',
  'an empty IPv4 octet',
  'more than four IPv4 octets',
  'fewer than four IPv4 octets (short forms such as 127.1 are refused)',
  'an unexpected character in an IPv4 address',
  'an empty zone after "%"',
  'an IPv6 group with more than four hex digits',
  'an empty IPv6 group',
  'an embedded IPv4 address that does not take the place of the last two groups',
  'no room for an embedded IPv4 address after the groups before it',
  'an unexpected character in an IPv6 address where ":" was expected',
  'a trailing ":" that is not part of "::"',
  'more than one "::"',
  'characters after the end of the address',
  'fewer than eight IPv6 groups and no "::"',
  'a "::" that stands for no group at all',
] as const;

const R_EMPTY = 1;
const R_NOT_IP = 2;
const R_ZONE_FIRST = 3;
const R_V4_LEADING_ZERO = 4;
const R_V4_OVER_255 = 5;
const R_V4_EMPTY_OCTET = 6;
const R_V4_TOO_LONG = 7;
const R_V4_TOO_SHORT = 8;
const R_V4_CHAR = 9;
const R_ZONE_EMPTY = 10;
const R_V6_GROUP_LONG = 11;
const R_V6_GROUP_EMPTY = 12;
const R_V6_EMBED_PLACE = 13;
const R_V6_EMBED_ROOM = 14;
const R_V6_WANT_COLON = 15;
const R_V6_TRAILING_COLON = 16;
const R_V6_TWO_ELLIPSES = 17;
const R_V6_TRAILING = 18;
const R_V6_TOO_SHORT = 19;
const R_V6_EMPTY_ELLIPSIS = 20;

/** Reason code of the last failed parse (an index into the reason texts). */
export let lastReason = 0;
/** Index of the first character of the zone in the last parsed IPv6 address, or -1. */
export let lastZoneStart = -1;

const groups = new Uint16Array(8);

/** The text for a reason code left in `lastReason`. */
export function reasonText(code: number): string {
  return REASONS[code] ?? 'not an IP address';
}

/**
 * Fast path for the common case: a well-formed dotted quad and nothing else. Returns the
 * address as an unsigned 32-bit number, or -1 for anything else (which the full parser then
 * decides, so this function never has to be right about a refusal).
 */
export function fastIPv4(s: string): number {
  const length = s.length;
  if (length < 7 || length > 15) return -1;

  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d >= 0 && d <= 9) {
      if (digits !== 0 && octet === 0) return -1;
      octet = octet * 10 + d;
      if (octet > 255) return -1;
      digits++;
    } else if (d === -2 && digits !== 0 && dots !== 3) {
      value = (value << 8) | octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return ((value << 8) | octet) >>> 0;
}

/**
 * Parses `s[start, end)` as four decimal octets the way netip does: no leading zeros, no empty
 * octets, nothing but digits and dots. Returns the address as an unsigned 32-bit number, or -1
 * with the reason in `lastReason`.
 */
export function parseIPv4Octets(s: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return fail(R_V4_LEADING_ZERO);
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return fail(R_V4_OVER_255);
      continue;
    }

    if (c !== 46) return fail(R_V4_CHAR);
    if (i === start || i === end - 1 || s.charCodeAt(i - 1) === 46) return fail(R_V4_EMPTY_OCTET);
    if (dots === 3) return fail(R_V4_TOO_LONG);
    value = (value << 8) | octet;
    octet = 0;
    digits = 0;
    dots++;
  }
  if (dots < 3) return fail(R_V4_TOO_SHORT);
  return ((value << 8) | octet) >>> 0;
}

function fail(reason: number): -1 {
  lastReason = reason;
  return -1;
}

/** Value of a hex digit by char code, -1 for anything else (codes above 127 are not looked up). */
const HEX_DIGITS = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX_DIGITS[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_DIGITS[97 + c] = 10 + c;
  HEX_DIGITS[65 + c] = 10 + c;
}

/**
 * Parses an IPv6 address with an optional zone into four 32-bit words (network order).
 * Returns KIND_IPV6, or KIND_INVALID with the reason in `lastReason`. Like netip, the first "%"
 * ends the address and starts the zone; the scan meets it on its way rather than looking for it
 * first, and then parses the part before it again.
 */
function parseIPv6(s: string, words: Uint32Array): number {
  lastZoneStart = -1;
  const kind = parseIPv6Until(s, s.length, words);
  if (kind !== ZONE_FOUND) return kind;

  const percent = s.indexOf('%');
  if (percent === s.length - 1) return failKind(R_ZONE_EMPTY);
  lastZoneStart = percent + 1;
  return parseIPv6Until(s, percent, words);
}

/** parseIPv6Until met a "%": the address ends before the first one. */
const ZONE_FOUND = -1;

function parseIPv6Until(s: string, end: number, words: Uint32Array): number {
  let count = 0;
  let ellipsis = -1;
  let p = 0;
  if (end >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    ellipsis = 0;
    p = 2;
    if (p === end) {
      words.fill(0);
      return KIND_IPV6;
    }
  }

  while (count < 8) {
    const from = p;
    let group = 0;
    let c = 0;
    for (; p < end; p++) {
      c = s.charCodeAt(p);
      const h = c < 128 ? HEX_DIGITS[c] : -1;
      if (h < 0) break;
      group = (group << 4) | h;
    }
    const atEnd = p === end;
    if (!atEnd && c === 37) return ZONE_FOUND;
    if (p === from) return failKind(R_V6_GROUP_EMPTY);
    if (p - from > 4) return failKind(R_V6_GROUP_LONG);

    if (!atEnd && c === 46) {
      if (ellipsis < 0 && count !== 6) return failKind(R_V6_EMBED_PLACE);
      if (count + 2 > 8) return failKind(R_V6_EMBED_ROOM);
      if (end === s.length && s.indexOf('%', p) >= 0) return ZONE_FOUND;
      const v4 = parseIPv4Octets(s, from, end);
      if (v4 < 0) return KIND_INVALID;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      p = end;
      break;
    }

    groups[count++] = group;
    if (atEnd) break;
    if (c !== 58) return failKind(R_V6_WANT_COLON);
    if (p + 1 === end) return failKind(R_V6_TRAILING_COLON);
    p++;
    c = s.charCodeAt(p);
    if (c === 58) {
      if (ellipsis >= 0) return failKind(R_V6_TWO_ELLIPSES);
      ellipsis = count;
      p++;
      if (p === end) break;
    } else if (c === 37) {
      return ZONE_FOUND;
    }
  }
  if (p !== end) return s.charCodeAt(p) === 37 ? ZONE_FOUND : failKind(R_V6_TRAILING);

  if (count < 8) {
    if (ellipsis < 0) return failKind(R_V6_TOO_SHORT);
    const gap = 8 - count;
    for (let j = count - 1; j >= ellipsis; j--) groups[j + gap] = groups[j];
    for (let j = ellipsis; j < ellipsis + gap; j++) groups[j] = 0;
  } else if (ellipsis >= 0) {
    return failKind(R_V6_EMPTY_ELLIPSIS);
  }

  words[0] = ((groups[0] << 16) | groups[1]) >>> 0;
  words[1] = ((groups[2] << 16) | groups[3]) >>> 0;
  words[2] = ((groups[4] << 16) | groups[5]) >>> 0;
  words[3] = ((groups[6] << 16) | groups[7]) >>> 0;
  return KIND_IPV6;
}

function failKind(reason: number): number {
  lastReason = reason;
  return KIND_INVALID;
}

/**
 * Parses any address as netip.ParseAddr does: the first of ".", ":" or "%" decides the
 * family. IPv4 leaves `[0, 0, 0xffff, address]` in `words` (the mapped form); IPv6 leaves its
 * four words and the zone position in `lastZoneStart`. Returns the kind.
 */
export function parseAddressInto(s: string, words: Uint32Array): number {
  const length = s.length;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      const v4 = parseIPv4Octets(s, 0, length);
      if (v4 < 0) return KIND_INVALID;
      words[0] = 0;
      words[1] = 0;
      words[2] = 0xffff;
      words[3] = v4;
      lastZoneStart = -1;
      return KIND_IPV4;
    }
    if (c === 58) return parseIPv6(s, words);
    if (c === 37) return failKind(R_ZONE_FIRST);
  }
  return failKind(length === 0 ? R_EMPTY : R_NOT_IP);
}

/** True when the four words are an IPv4-mapped IPv6 address (`::ffff:0:0/96`). */
export function isMappedWords(w0: number, w1: number, w2: number): boolean {
  return w0 === 0 && w1 === 0 && w2 === 0xffff;
}

/** An address after parsing. */
export interface ParsedAddress {
  /** 4 for a dotted quad, 6 for any IPv6 form (mapped ones included). */
  readonly version: 4 | 6;
  /**
   * The IPv4 address as an unsigned 32-bit number, for a dotted quad and for an IPv4-mapped
   * IPv6 address (`::ffff:a.b.c.d`, `::ffff:c0a8:20a`), which is checked as IPv4; -1 otherwise.
   */
  readonly ipv4: number;
  /** The 128-bit form as four unsigned 32-bit words, most significant first. */
  readonly words: readonly [number, number, number, number];
  /** The zone after "%" without the "%", or "" (zones are kept but never matched on). */
  readonly zone: string;
}

const parseWords = new Uint32Array(4);

/**
 * Parses an IPv4 or IPv6 address as strictly as Go's `netip.ParseAddr`.
 * Throws a `CidrError` (`ERR_CIDR_ADDRESS`) whose `reason` says what is wrong.
 *
 * ```ts
 * parseAddress('::ffff:192.168.2.10').ipv4  // 0xc0a8020a
 * parseAddress('0177.0.0.1')                // throws: leading zero
 * ```
 */
export function parseAddress(text: string): ParsedAddress {
  const kind = typeof text === 'string' ? parseAddressInto(text, parseWords) : KIND_INVALID;
  if (kind === KIND_INVALID) {
    const reason =
      typeof text === 'string' ? reasonText(lastReason) : `a ${typeof text}, not a string`;
    throw new CidrError(`parse address ${quoteEntry(String(text))}: ${reason}`, {
      code: 'ERR_CIDR_ADDRESS',
      entry: String(text),
      reason,
    });
  }

  const [w0, w1, w2, w3] = parseWords;
  const mapped = isMappedWords(w0, w1, w2);
  return {
    version: kind === KIND_IPV4 ? 4 : 6,
    ipv4: mapped ? w3 : -1,
    words: [w0, w1, w2, w3],
    zone: lastZoneStart >= 0 ? text.slice(lastZoneStart) : '',
  };
}

/** True when `text` is an address `parseAddress` accepts. Never throws. */
export function isValidAddress(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  if (fastIPv4(text) >= 0) return true;
  return parseAddressInto(text, parseWords) !== KIND_INVALID;
}

/** Formats an unsigned 32-bit number as a dotted quad. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/**
 * Formats four words as IPv6 text the way RFC 5952 asks (and Go prints): lower case, the
 * longest run of two or more zero groups as "::", IPv4-mapped addresses as `::ffff:a.b.c.d`.
 */
export function formatIPv6(w0: number, w1: number, w2: number, w3: number): string {
  if (isMappedWords(w0, w1, w2)) return `::ffff:${formatIPv4(w3)}`;

  const g = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }

  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += g[i].toString(16);
  }
  return text;
}

/** The text form of a parsed address, zone included. */
export function formatAddress(address: ParsedAddress): string {
  const [w0, w1, w2, w3] = address.words;
  const text = address.version === 4 ? formatIPv4(w3) : formatIPv6(w0, w1, w2, w3);
  return address.zone === '' ? text : `${text}%${address.zone}`;
}

/**
 * Splits `host:port` and `[host]:port` the way Go's `net.SplitHostPort` does: the port is what
 * follows the last ":" (not checked to be a number, may be empty); brackets are required around
 * a host that has colons and are removed. Throws a `CidrError` (`ERR_CIDR_HOST_PORT`) for
 * `1.2.3.4` (no port), `::1:80` (too many colons), `[::1]` and stray brackets.
 *
 * ```ts
 * splitHostPort('[fe80::1%eth0]:443')  // { host: 'fe80::1%eth0', port: '443' }
 * ```
 */
export function splitHostPort(hostport: string): { host: string; port: string } {
  const reason = splitHostPortInto(hostport);
  if (reason !== '') {
    throw new CidrError(`split host:port ${quoteEntry(hostport)}: ${reason}`, {
      code: 'ERR_CIDR_HOST_PORT',
      entry: hostport,
      reason,
    });
  }
  return { host: splitHost, port: hostport.slice(splitColon + 1) };
}

let splitHost = '';
let splitColon = -1;

/** The non-throwing core of splitHostPort: '' on success (host in `splitHost`), else why not. */
export function splitHostPortInto(hostport: string): string {
  const colon = hostport.lastIndexOf(':');
  if (colon < 0) return 'missing port in address';

  let openFrom = 0;
  let closeFrom = 0;
  if (hostport.charCodeAt(0) === 91) {
    const close = hostport.indexOf(']');
    if (close < 0) return 'missing "]" in address';
    if (close + 1 === hostport.length) return 'missing port in address';
    if (close + 1 !== colon) {
      return hostport.charCodeAt(close + 1) === 58
        ? 'too many colons in address'
        : 'missing port in address';
    }
    splitHost = hostport.slice(1, close);
    openFrom = 1;
    closeFrom = close + 1;
  } else {
    splitHost = hostport.slice(0, colon);
    if (splitHost.includes(':')) return 'too many colons in address';
  }
  if (hostport.indexOf('[', openFrom) >= 0) return 'unexpected "[" in address';
  if (hostport.indexOf(']', closeFrom) >= 0) return 'unexpected "]" in address';

  splitColon = colon;
  return '';
}

/** The host part left by the last successful `splitHostPortInto`. */
export function lastSplitHost(): string {
  return splitHost;
}
