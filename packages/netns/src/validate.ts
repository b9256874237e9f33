// Argument checks done before anything is sent to the kernel, and the address helpers the
// encoders use. Pure: no syscalls.
import { isIPv4, isIPv6 } from 'node:net';
import { invalidArgument } from './errors.ts';

export type Family = 4 | 6;
export const AF_INET = 2;
export const AF_INET6 = 10;

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

export function familyOfAf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** Linux's rule for interface names (dev_valid_name): 1-15 bytes, no `/`, `:` or white space. */
export function checkLinkName(name: string, op: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArgument(op, String(name), 'an interface name must not be empty');
  }
  if (Buffer.byteLength(name) > 15) {
    throw invalidArgument(op, name, 'an interface name has at most 15 bytes');
  }
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw invalidArgument(
      op,
      name,
      'an interface name cannot be "." or ".." or contain "/", ":" ' + 'or white space',
    );
  }
}

/** Names under /run/netns: a plain file name, as `ip netns add` requires. */
export function checkNamespaceName(name: string, op: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArgument(op, String(name), 'a namespace name must not be empty');
  }
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw invalidArgument(op, name, 'a namespace name cannot be "." or ".." or contain "/"');
  }
  if (Buffer.byteLength(name) > 255) {
    throw invalidArgument(op, name, 'a namespace name has at most 255 bytes');
  }
}

export interface ParsedAddress {
  family: Family;
  bytes: Buffer;
  text: string;
}

/** Parses one IPv4 or IPv6 address (strict: dotted quad only, no zone). */
export function parseAddress(text: string, op: string): ParsedAddress {
  if (typeof text === 'string' && isIPv4(text)) {
    const bytes = Buffer.from(text.split('.').map(Number));
    return { family: 4, bytes, text: formatAddress(bytes) };
  }
  if (typeof text === 'string' && isIPv6(text) && !text.includes('%')) {
    const bytes = ipv6Bytes(text);
    return { family: 6, bytes, text: formatAddress(bytes) };
  }
  throw invalidArgument(op, String(text), 'expected an IPv4 or IPv6 address');
}

function ipv6Bytes(text: string): Buffer {
  // An embedded dotted quad becomes its two hex words, then the `::` gap is filled with zeros.
  const lastColon = text.lastIndexOf(':');
  let hexText = text;
  if (text.includes('.', lastColon)) {
    const quad = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    const high = ((quad[0] << 8) | quad[1]).toString(16);
    const low = ((quad[2] << 8) | quad[3]).toString(16);
    hexText = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const gap = hexText.indexOf('::');
  const words = (part: string) => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  let all: number[];
  if (gap < 0) {
    all = words(hexText);
  } else {
    const left = words(hexText.slice(0, gap));
    const right = words(hexText.slice(gap + 2));
    all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  }
  const bytes = Buffer.alloc(16);
  all.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
  return bytes;
}

/** Formats 4 or 16 address bytes the way `ip` prints them (RFC 5952 for IPv6). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return Buffer.from(bytes).toString('hex');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j += 1;
    if (j - i > bestLength && j - i > 1) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

export interface ParsedPrefix extends ParsedAddress {
  length: number;
}

/**
 * Parses `ADDR/LEN` or a bare address (a host prefix). With `requireNetwork`, host bits set
 * beyond the length are refused, as the kernel would silently mask them in a route.
 */
export function parsePrefix(
  text: string,
  op: string,
  options: { requireNetwork?: boolean; defaultFamily?: Family } = {},
): ParsedPrefix {
  if (text === 'default') {
    const family = options.defaultFamily ?? 4;
    return {
      family,
      bytes: Buffer.alloc(family === 4 ? 4 : 16),
      text: family === 4 ? '0.0.0.0' : '::',
      length: 0,
    };
  }
  if (typeof text !== 'string') throw invalidArgument(op, String(text), 'expected a prefix');
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash), op);
  const maxLength = address.family === 4 ? 32 : 128;
  const lengthText = slash < 0 ? String(maxLength) : text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > maxLength) {
    throw invalidArgument(op, text, `expected a prefix length from 0 to ${maxLength}`);
  }
  const length = Number(lengthText);
  if (options.requireNetwork && hasHostBits(address.bytes, length)) {
    throw invalidArgument(op, text, `host bits are set beyond /${length}`);
  }
  return { ...address, length };
}

function hasHostBits(bytes: Buffer, length: number): boolean {
  for (let bit = length; bit < bytes.length * 8; bit += 1) {
    if (bytes[bit >> 3] & (0x80 >> (bit & 7))) return true;
  }
  return false;
}

export function checkUint(value: number, max: number, op: string, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw invalidArgument(op, String(value), `${what} must be an integer from 0 to ${max}`);
  }
}
