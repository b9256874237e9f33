// CidrSet: a set of IPv4 and IPv6 prefixes, stored as sorted disjoint ranges cut at /16
// boundaries and found through a 65,536-slot table on the top 16 bits; large IPv4 sets keep
// their whole /24s in a bitmap instead. See the README for why this and not a trie.

import { excludeCidr } from 'cidr-tools';
import { CidrError, quoteEntry } from './errors.js';
import {
  KIND_INVALID,
  KIND_IPV4,
  fastIPv4,
  formatIPv4,
  formatIPv6,
  isMappedWords,
  lastReason,
  lastZoneStart,
  parseAddressInto,
  reasonText,
  type ParsedAddress,
} from './parse.js';

export interface CidrSetOptions {
  /**
   * Mask the host bits of a prefix (`10.0.0.1/8` counts as `10.0.0.0/8`) instead of refusing
   * it. Off by default: a set bit past the length is usually a typo in the length.
   */
  loose?: boolean;
}

/** Where an entry came from, for error messages. */
export interface EntryOrigin {
  index?: number;
  line?: number;
  source?: string;
}

/** Below this many ranges a family skips the bucket table and searches one sorted run. */
const SMALL_RANGES = 64;
const BUCKETS = 65536;
/** From this many IPv4 pieces on, whole /24s go to a bitmap and only the rest stay pieces. */
const BITMAP_PIECES = 1 << 17;
/** 2^24 bits, one a /24, and 2^22 bits, one a /22. */
const FULL_WORDS = 1 << 19;
const MIXED_WORDS = 1 << 17;
const TWO_32 = 4294967296;
const MASK_128 = (1n << 128n) - 1n;

const scratchWords = new Uint32Array(4);

/** A lone string is one entry, not an iterable of characters. */
export function asEntries(entries: Iterable<string>): Iterable<string> {
  return typeof entries === 'string' ? [entries] : entries;
}

/** The builder's way past the private constructor, set by the class itself. */
let makeSet: (v4: Ranges4, v6: Ranges6) => CidrSet;

/**
 * A set of IPv4 and IPv6 prefixes for allow-lists. Build it once with `CidrSet.from`, then ask
 * `has(ip)` as often as needed: a lookup costs about as much as parsing the address, whatever
 * the size of the set.
 *
 * ```ts
 * const allowed = CidrSet.from(['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8']);
 * allowed.has('::ffff:192.168.2.10');  // true: IPv4-mapped is checked as IPv4
 * allowed.has('192.168.1.256');        // false: not an address
 * ```
 */
export class CidrSet {
  // IPv4, large form: bucket b (the top 16 bits) owns pieces offsets4[b] .. offsets4[b + 1] - 1
  // of `pieces4`, [first, last] pairs of the low 16 bits (ranges are cut at /16 boundaries), with
  // one spare pair at the end so a bucket's first piece can always be read. Small form:
  // `offsets4` is null and `run4` holds [first, last] pairs of whole 32-bit addresses. Bitmap
  // form (large sets): `full4` has a bit for each /24 the set covers whole, `mixed4` a bit for
  // each /22 holding part of a /24 the set covers only in part, and the pieces hold only those
  // parts, so most lookups read one bit of a 2 MiB map and one of a 512 KiB one, in parallel.
  private readonly offsets4: Uint32Array | null;
  private readonly pieces4: Uint16Array;
  private readonly run4: Uint32Array;
  private readonly full4: Int32Array | null;
  private readonly mixed4: Int32Array;

  // IPv6. Each piece is a [first, last] range split in halves: `pieces6` holds the upper 64 bits
  // of first and last (four words a piece, plus a spare piece), `lows6` the lower 64 bits, and
  // `whole6` is 1 when those are all zeros and all ones (the piece covers whole /64s), so most
  // lookups never read `lows6`. Large form: the ranges share their first `shift6` bits (at most
  // 16; `w0 & topMask6` must equal `top6`), the 16 bits after those pick the bucket in
  // `offsets6`, and ranges are cut at bucket boundaries. Small form: `offsets6` is null and
  // the `count6` pieces are one sorted run.
  private readonly offsets6: Uint32Array | null;
  private readonly pieces6: Uint32Array;
  private readonly lows6: Uint32Array;
  private readonly whole6: Uint8Array;
  private readonly count6: number;
  private readonly shift6: number;
  private readonly topMask6: number;
  private readonly top6: number;

  private constructor(v4: Ranges4, v6: Ranges6) {
    this.offsets4 = v4.offsets;
    this.pieces4 = v4.pieces;
    this.run4 = v4.run;
    this.full4 = v4.full;
    this.mixed4 = v4.mixed;
    this.offsets6 = v6.offsets;
    this.pieces6 = v6.pieces;
    this.lows6 = v6.lows;
    this.whole6 = v6.whole;
    this.count6 = v6.count;
    this.shift6 = v6.shift;
    this.topMask6 = v6.shift === 0 ? 0 : -1 << (32 - v6.shift);
    this.top6 = v6.top & this.topMask6;
  }

  /**
   * Builds a set from CIDR strings and single addresses, IPv4 and IPv6 in any order, overlapping
   * or not. Entries are as strict as addresses (see `parseAddress`), with a decimal length
   * without leading zeros; `::ffff:a.b.c.d/(96+n)` counts as the IPv4 prefix `a.b.c.d/n`.
   * Throws a `CidrError` naming the first bad entry and its index.
   */
  static from(entries: Iterable<string>, options: CidrSetOptions = {}): CidrSet {
    const builder = new CidrSetBuilder(options);
    let index = 0;
    for (const entry of asEntries(entries)) {
      builder.add(entry, { index });
      index++;
    }
    return builder.build();
  }

  static {
    makeSet = (v4, v6) => new CidrSet(v4, v6);
  }

  /**
   * True when `ip` is an address inside one of the prefixes. Anything that is not an address
   * (wrong syntax, not a string, with a port or brackets) is false; never throws. A zone is
   * ignored; an IPv4-mapped IPv6 address is looked up as IPv4.
   */
  has(ip: unknown): boolean {
    if (typeof ip !== 'string') return false;

    const offsets = this.offsets4;
    const full = this.full4;
    if (full !== null) {
      const found = findIPv4TextBitmap(ip, full, this.mixed4, offsets!, this.pieces4);
      if (found >= 0) return found === 1;
    } else if (offsets !== null) {
      const found = findIPv4Text(ip, offsets, this.pieces4);
      if (found >= 0) return found === 1;
    } else {
      const v4 = fastIPv4(ip);
      if (v4 >= 0) return inRun4(this.run4, v4);
    }

    return this.hasParsed(ip);
  }

  /** IPv6, or an IPv4 form the fast path leaves to the full parser. */
  private hasParsed(ip: string): boolean {
    const words = scratchWords;
    if (parseAddressInto(ip, words) === KIND_INVALID) return false;
    const w0 = words[0];
    const w1 = words[1];
    const w2 = words[2];
    if (isMappedWords(w0, w1, w2)) return this.hasIPv4(words[3]);
    return this.find6(w0, w1, w2, words[3]);
  }

  /**
   * True when the IPv4 address `value`, an unsigned 32-bit number (`0xc0a8020a` for
   * 192.168.2.10), is in the set. For callers that parse once; anything else is false.
   */
  hasIPv4(value: number): boolean {
    if (value >>> 0 !== value) return false;

    const offsets = this.offsets4;
    if (offsets === null) return inRun4(this.run4, value);

    const full = this.full4;
    if (full !== null) {
      if (((full[value >>> 13] >>> ((value >>> 8) & 31)) & 1) !== 0) return true;
      if (((this.mixed4[value >>> 15] >>> ((value >>> 10) & 31)) & 1) === 0) return false;
    }

    const bucket = value >>> 16;
    const lo = offsets[bucket];
    const pieces = this.pieces4;
    return inBucket4(pieces, lo, offsets[bucket + 1], value & 0xffff, pieces[lo << 1]);
  }

  /**
   * True when the IPv6 address given as four unsigned 32-bit words, most significant first, is
   * in the set. An IPv4-mapped address is looked up as IPv4.
   */
  hasIPv6(w0: number, w1: number, w2: number, w3: number): boolean {
    if (w0 >>> 0 !== w0 || w1 >>> 0 !== w1 || w2 >>> 0 !== w2 || w3 >>> 0 !== w3) {
      return false;
    }
    if (isMappedWords(w0, w1, w2)) return this.hasIPv4(w3);
    return this.find6(w0, w1, w2, w3);
  }

  private find6(w0: number, w1: number, w2: number, w3: number): boolean {
    const offsets = this.offsets6;
    if (offsets === null) return this.inBucket6(0, this.count6, w0, w1, w2, w3);
    if ((w0 & this.topMask6) !== this.top6) return false;

    const bucket = (w0 << this.shift6) >>> 16;
    return this.inBucket6(offsets[bucket], offsets[bucket + 1], w0, w1, w2, w3);
  }

  /**
   * Whether the address lies in one of the IPv6 pieces lo .. hi - 1.
   *
   * Known shortcoming: with 100k random IPv6 prefixes the searched upper halves take 1.7 MiB,
   * and string lookups run at about 0.27 of the IPv4 rate where the package aims at 1/3
   * (README, benchmark (e)). Searching 32-bit keys of the bits after the bucket index, about
   * 1 MiB, should get there; this note can go when the benchmark shows (e) at 1/3.
   */
  private inBucket6(
    lo: number,
    hi: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
  ): boolean {
    const pieces = this.pieces6;

    // Count the pieces whose first address has upper half at or below the address's.
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const i = mid << 2;
      const x = pieces[i];
      if (x < w0 || (x === w0 && pieces[i + 1] <= w1)) a = mid + 1;
      else b = mid;
    }

    // Walk back over the pieces whose upper halves bracket the address's: usually one, several
    // only when small ranges share a /64. Last addresses only grow, so stop at the first whose
    // last upper half is below the address's.
    for (let p = a - 1; p >= lo; p--) {
      const i = p << 2;
      const x = pieces[i + 2];
      if (x < w0 || (x === w0 && pieces[i + 3] < w1)) return false;
      if (this.whole6[p] === 1 || this.holdsLow6(p, w0, w1, w2, w3)) return true;
    }
    return false;
  }

  /** Full 128-bit check of piece p, whose upper halves already bracket the address. */
  private holdsLow6(p: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const pieces = this.pieces6;
    const lows = this.lows6;
    const i = p << 2;
    const firstBelow =
      pieces[i] !== w0 ||
      pieces[i + 1] !== w1 ||
      lows[i] < w2 ||
      (lows[i] === w2 && lows[i + 1] <= w3);
    const lastAbove =
      pieces[i + 2] !== w0 ||
      pieces[i + 3] !== w1 ||
      lows[i + 2] > w2 ||
      (lows[i + 2] === w2 && lows[i + 3] >= w3);
    return firstBelow && lastAbove;
  }

  /** True when the address in network byte order (4 or 16 bytes) is in the set. */
  hasBytes(bytes: Uint8Array): boolean {
    if (bytes.length === 4) return this.hasIPv4(readWord(bytes, 0));
    if (bytes.length !== 16) return false;
    return this.hasIPv6(
      readWord(bytes, 0),
      readWord(bytes, 4),
      readWord(bytes, 8),
      readWord(bytes, 12),
    );
  }

  /** True when an address from `parseAddress` is in the set. */
  hasAddress(address: ParsedAddress): boolean {
    if (address.ipv4 >= 0) return this.hasIPv4(address.ipv4);
    const [w0, w1, w2, w3] = address.words;
    return this.hasIPv6(w0, w1, w2, w3);
  }

  /** Number of disjoint ranges the set holds once overlapping and adjacent prefixes merge. */
  get rangeCount(): { ipv4: number; ipv6: number } {
    return { ipv4: this.ranges4().length / 2, ipv6: this.ranges6().length / 2 };
  }

  /** Bytes held by the lookup tables (the whole footprint apart from a few small objects). */
  get byteLength(): number {
    return (
      (this.offsets4?.byteLength ?? 0) +
      this.pieces4.byteLength +
      this.run4.byteLength +
      (this.full4?.byteLength ?? 0) +
      this.mixed4.byteLength +
      (this.offsets6?.byteLength ?? 0) +
      this.pieces6.byteLength +
      this.lows6.byteLength +
      this.whole6.byteLength
    );
  }

  /**
   * The set as the shortest list of CIDRs that covers exactly the same addresses: IPv4 first,
   * then IPv6, each in address order; a single address is written as `/32` or `/128`.
   */
  toCidrs(): string[] {
    const out: string[] = [];
    const v4 = this.ranges4();
    for (let i = 0; i < v4.length; i += 2) pushIPv4Cidrs(v4[i], v4[i + 1], out);
    const v6 = this.ranges6();
    for (let i = 0; i < v6.length; i += 2) pushIPv6Cidrs(v6[i], v6[i + 1], out);
    return out;
  }

  /** A new set with the addresses of this one and of `other` (a set or entries). */
  union(other: CidrSet | Iterable<string>, options: CidrSetOptions = {}): CidrSet {
    const builder = new CidrSetBuilder(options);
    for (const cidr of this.toCidrs()) builder.add(cidr);
    if (other instanceof CidrSet) {
      for (const cidr of other.toCidrs()) builder.add(cidr);
    } else {
      let index = 0;
      for (const entry of asEntries(other)) builder.add(entry, { index: index++ });
    }
    return builder.build();
  }

  /**
   * A new set with the addresses of this one that are not in `other` (a set or entries). The
   * subtraction is cidr-tools' `excludeCidr` on both sides' CIDR lists.
   */
  exclude(other: CidrSet | Iterable<string>, options: CidrSetOptions = {}): CidrSet {
    const removed = other instanceof CidrSet ? other : CidrSet.from(other, options);
    const removedCidrs = removed.toCidrs();
    if (removedCidrs.length === 0) return this;
    return CidrSet.from(excludeCidr(this.toCidrs(), removedCidrs));
  }

  /** The merged IPv4 ranges as [first, last, first, last, …]. */
  private ranges4(): number[] {
    const out: number[] = [];
    const offsets = this.offsets4;
    const pairs = offsets === null ? this.run4 : this.pieces4;
    const count = offsets === null ? this.run4.length / 2 : offsets[BUCKETS];
    let bucket = 0;
    for (let i = 0; i < count; i++) {
      let first = pairs[2 * i];
      let last = pairs[2 * i + 1];
      if (offsets !== null) {
        while (offsets[bucket + 1] <= i) bucket++;
        first += bucket * 65536;
        last += bucket * 65536;
      }
      if (out.length > 0 && out[out.length - 1] + 1 === first) out[out.length - 1] = last;
      else out.push(first, last);
    }
    return this.full4 === null ? out : withFull24s(out, this.full4);
  }

  /** The merged IPv6 ranges as [first, last, …] in BigInt. */
  private ranges6(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < this.count6; i++) {
      const i4 = i << 2;
      const first =
        (BigInt(this.pieces6[i4]) << 96n) |
        (BigInt(this.pieces6[i4 + 1]) << 64n) |
        (BigInt(this.lows6[i4]) << 32n) |
        BigInt(this.lows6[i4 + 1]);
      const last =
        (BigInt(this.pieces6[i4 + 2]) << 96n) |
        (BigInt(this.pieces6[i4 + 3]) << 64n) |
        (BigInt(this.lows6[i4 + 2]) << 32n) |
        BigInt(this.lows6[i4 + 3]);
      if (out.length > 0 && out[out.length - 1] + 1n === first) out[out.length - 1] = last;
      else out.push(first, last);
    }
    return out;
  }
}

/**
 * Parses a dotted quad and looks it up in one pass (large IPv4 form). As soon as the first two
 * octets are read, the bucket's bounds and first piece are loaded, so the memory access runs
 * while the last two octets are parsed. Returns 1 inside, 0 outside, -1 when `s` is not a plain
 * dotted quad (the caller then runs the full parser, which also decides refusals).
 */
function findIPv4Text(s: string, offsets: Uint32Array, pieces: Uint16Array): number {
  const length = s.length;
  if (length < 7 || length > 15) return -1;

  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let lo = 0;
  let hi = 0;
  let firstStart = 0;
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
      if (dots === 2) {
        lo = offsets[value];
        hi = offsets[value + 1];
        firstStart = pieces[lo << 1];
      }
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;

  const low = ((value & 0xff) << 8) | octet;
  return inBucket4(pieces, lo, hi, low, firstStart) ? 1 : 0;
}

/**
 * Whether `low` lies in one of the pieces lo .. hi - 1; `firstStart` is the first address of
 * piece lo (already loaded by the caller). The search narrows to the last piece that starts at
 * or below `low`, the only one that can hold it, without branching on the data: on random
 * addresses a branchy search mispredicts at almost every step. Each step halves `count` and
 * moves `base` up by the lower half when the probe starts at or below `low`; buckets of up to
 * four pieces (nearly all of them below a million prefixes) take the two unrolled steps only.
 */
function inBucket4(
  pieces: Uint16Array,
  lo: number,
  hi: number,
  low: number,
  firstStart: number,
): boolean {
  let base = lo;
  let count = hi - lo;
  while (count > 4) {
    const half = count >>> 1;
    base += half & -(((low - pieces[(base + half) << 1]) >> 31) + 1);
    count -= half;
  }
  let half = count >>> 1;
  base += half & -(((low - pieces[(base + half) << 1]) >> 31) + 1);
  count -= half;
  half = count >>> 1;
  base += half & -(((low - pieces[(base + half) << 1]) >> 31) + 1);
  count -= half;

  const i = base << 1;
  return ((low - firstStart) | (low - pieces[i]) | (pieces[i + 1] - low) | (count - 1)) >= 0;
}

/**
 * Known shortcoming: in the benchmark's process, string lookups in a million-prefix set still
 * run at about 0.4 of the parse rate (README, benchmark (d); the aim is 0.6): the one load a
 * lookup needs lands in 2.5 MiB of maps, beyond this machine's 1 MiB of L2 a core. Timed
 * alone they reach 0.6. This note can go when the benchmark shows (d) at 0.6.
 *
 * `findIPv4Text` for the bitmap form: after the third octet the words of `full` and `mixed`
 * for the address's /24 and /22 are loaded while the last octet is parsed, and the pieces are
 * searched only when the /24 is not covered whole and its /22 holds a partly covered /24.
 */
function findIPv4TextBitmap(
  s: string,
  full: Int32Array,
  mixed: Int32Array,
  offsets: Uint32Array,
  pieces: Uint16Array,
): number {
  const length = s.length;
  if (length < 7 || length > 15) return -1;

  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let fullWord = 0;
  let mixedWord = 0;
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
      if (dots === 3) {
        fullWord = full[value >>> 5];
        mixedWord = mixed[value >>> 7];
      }
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;

  if (((fullWord >>> (value & 31)) & 1) !== 0) return 1;
  if (((mixedWord >>> ((value >>> 2) & 31)) & 1) === 0) return 0;
  const bucket = value >>> 8;
  const lo = offsets[bucket];
  const low = ((value & 0xff) << 8) | octet;
  return inBucket4(pieces, lo, offsets[bucket + 1], low, pieces[lo << 1]) ? 1 : 0;
}

/** Merges the runs of whole /24s in `full` into the sorted disjoint ranges `parts`. */
function withFull24s(parts: number[], full: Int32Array): number[] {
  const out: number[] = [];
  const push = (first: number, last: number) => {
    if (out.length > 0 && out[out.length - 1] + 1 === first) out[out.length - 1] = last;
    else out.push(first, last);
  };

  let p = 0;
  let slash24 = 0;
  while (slash24 < 1 << 24) {
    const word = full[slash24 >>> 5];
    if (word === 0 && (slash24 & 31) === 0) {
      slash24 += 32;
      continue;
    }
    if (((word >>> (slash24 & 31)) & 1) === 0) {
      slash24++;
      continue;
    }
    let end = slash24;
    while (end + 1 < 1 << 24 && ((full[(end + 1) >>> 5] >>> ((end + 1) & 31)) & 1) !== 0) end++;
    const first = slash24 * 256;
    while (p < parts.length && parts[p] < first) {
      push(parts[p], parts[p + 1]);
      p += 2;
    }
    push(first, end * 256 + 255);
    slash24 = end + 1;
  }
  for (; p < parts.length; p += 2) push(parts[p], parts[p + 1]);
  return out;
}

/** Sets bits first .. last of `bits`. */
function setBitRange(bits: Int32Array, first: number, last: number): void {
  let i = first;
  for (; i <= last && (i & 31) !== 0; i++) bits[i >>> 5] |= 1 << (i & 31);
  for (; i + 31 <= last; i += 32) bits[i >>> 5] = -1;
  for (; i <= last; i++) bits[i >>> 5] |= 1 << (i & 31);
}

/** Whether `value` lies in one of the [first, last] pairs of a short sorted run. */
function inRun4(run: Uint32Array, value: number): boolean {
  let a = 0;
  let b = run.length >>> 1;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (run[mid << 1] <= value) a = mid + 1;
    else b = mid;
  }
  return a !== 0 && run[(a << 1) - 1] >= value;
}

function readWord(bytes: Uint8Array, i: number): number {
  return ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
}

function wordsToBigInt(a: Uint32Array, i: number): bigint {
  return (
    (BigInt(a[i]) << 96n) | (BigInt(a[i + 1]) << 64n) | (BigInt(a[i + 2]) << 32n) | BigInt(a[i + 3])
  );
}

function pushIPv4Cidrs(start: number, end: number, out: string[]): void {
  while (start <= end) {
    let size = start === 0 ? TWO_32 : (start & -start) >>> 0;
    while (size > end - start + 1) size /= 2;
    out.push(`${formatIPv4(start)}/${size === TWO_32 ? 0 : Math.clz32(size - 1)}`);
    start += size;
  }
}

function pushIPv6Cidrs(start: bigint, end: bigint, out: string[]): void {
  while (start <= end) {
    let hostBits = 0;
    while (
      hostBits < 128 &&
      ((start >> BigInt(hostBits)) & 1n) === 0n &&
      start + (1n << BigInt(hostBits + 1)) - 1n <= end
    ) {
      hostBits++;
    }
    const w = [
      Number(start >> 96n),
      Number((start >> 64n) & 0xffffffffn),
      Number((start >> 32n) & 0xffffffffn),
      Number(start & 0xffffffffn),
    ] as const;
    out.push(`${formatIPv6(w[0], w[1], w[2], w[3])}/${128 - hostBits}`);
    start += 1n << BigInt(hostBits);
  }
}

/** The IPv4 half of a set. */
interface Ranges4 {
  offsets: Uint32Array | null;
  pieces: Uint16Array;
  run: Uint32Array;
  full: Int32Array | null;
  mixed: Int32Array;
}

/** The IPv6 half of a set. */
interface Ranges6 {
  offsets: Uint32Array | null;
  pieces: Uint32Array;
  lows: Uint32Array;
  whole: Uint8Array;
  count: number;
  /** Leading bits common to every range (at most 16), skipped by the bucket index. */
  shift: number;
  /** The first word of the common prefix. */
  top: number;
}

/**
 * Collects entries one at a time (so a list can be loaded line by line) and builds
 * the set. IPv4 prefixes are kept as one float each, start * 64 + length, so a million of them
 * sort as a Float64Array.
 */
export class CidrSetBuilder {
  private readonly loose: boolean;
  private keys4 = new Float64Array(1024);
  private count4 = 0;
  private readonly v6: { start: bigint; end: bigint }[] = [];

  constructor(options: CidrSetOptions = {}) {
    this.loose = options.loose === true;
  }

  /** Adds one entry, or throws a CidrError naming it and its origin. */
  add(entry: string, origin: EntryOrigin = {}): void {
    const family = parseEntry(entry, origin, this.loose);
    if (family === 4) {
      if (this.count4 === this.keys4.length) {
        const grown = new Float64Array(this.keys4.length * 2);
        grown.set(this.keys4);
        this.keys4 = grown;
      }
      this.keys4[this.count4++] = entryStart4 * 64 + entryBits;
      return;
    }

    const hostMask = (1n << BigInt(128 - entryBits)) - 1n;
    this.v6.push({ start: entryStart6, end: entryStart6 | hostMask });
  }

  /** Merges what was added into a set. The builder can be used again afterwards. */
  build(): CidrSet {
    return makeSet(this.buildIPv4(), this.buildIPv6());
  }

  private buildIPv4(): Ranges4 {
    const keys = this.keys4.subarray(0, this.count4).sort();

    // Merge overlapping and adjacent prefixes into disjoint ranges, in place in `merged`.
    const merged = new Float64Array(keys.length * 2);
    let n = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const bits = key % 64;
      const start = (key - bits) / 64;
      const end = start + 2 ** (32 - bits) - 1;
      if (n > 0 && start <= merged[n - 1] + 1) {
        if (end > merged[n - 1]) merged[n - 1] = end;
      } else {
        merged[n++] = start;
        merged[n++] = end;
      }
    }

    const noBits = new Int32Array(0);
    if (n / 2 <= SMALL_RANGES) {
      const run = Uint32Array.from(merged.subarray(0, n));
      return { offsets: null, pieces: new Uint16Array(2), run, full: null, mixed: noBits };
    }

    const table = cutAt16(merged, n);
    if (table.offsets[BUCKETS] < BITMAP_PIECES) {
      return { ...table, run: new Uint32Array(0), full: null, mixed: noBits };
    }

    // Bitmap form: whole /24s into `full`, what is left of each range into `parts`.
    const full = new Int32Array(FULL_WORDS);
    const mixed = new Int32Array(MIXED_WORDS);
    const parts = new Float64Array(2 * n);
    let m = 0;
    const addPart = (first: number, last: number) => {
      parts[m++] = first;
      parts[m++] = last;
      setBitRange(mixed, Math.floor(first / 1024), Math.floor(last / 1024));
    };
    for (let i = 0; i < n; i += 2) {
      const first = merged[i];
      const last = merged[i + 1];
      const firstWhole = Math.ceil(first / 256);
      const lastWhole = Math.floor((last + 1) / 256) - 1;
      if (firstWhole > lastWhole) {
        addPart(first, last);
        continue;
      }
      setBitRange(full, firstWhole, lastWhole);
      if (first < firstWhole * 256) addPart(first, firstWhole * 256 - 1);
      if (last > lastWhole * 256 + 255) addPart(lastWhole * 256 + 256, last);
    }
    return { ...cutAt16(parts, m), run: new Uint32Array(0), full, mixed };
  }

  private buildIPv6(): Ranges6 {
    const sorted = this.v6.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const merged: bigint[] = [];
    for (const { start, end } of sorted) {
      const n = merged.length;
      if (n > 0 && start <= merged[n - 1] + 1n) {
        if (end > merged[n - 1]) merged[n - 1] = end;
      } else {
        merged.push(start, end);
      }
    }

    if (merged.length / 2 <= SMALL_RANGES) {
      const count = merged.length / 2;
      const table = new PieceTable6(count);
      for (let i = 0; i < merged.length; i += 2) table.push(merged[i], merged[i + 1]);
      return { offsets: null, ...table.done(), count, shift: 0, top: 0 };
    }

    // Skip the leading bits every range shares (all of 2000::/3, say), up to 16 of them, so the
    // 16 bits the buckets are picked by are ones that differ.
    const lowest = merged[0];
    const highest = merged[merged.length - 1];
    let shift = 0;
    while (shift < 16 && (lowest ^ highest) >> BigInt(127 - shift) === 0n) shift++;
    const bucketBits = BigInt(112 - shift);
    const bucketOf = (x: bigint) => Number((x >> bucketBits) & 0xffffn);

    const offsets = new Uint32Array(BUCKETS + 1);
    for (let i = 0; i < merged.length; i += 2) {
      const last = bucketOf(merged[i + 1]);
      for (let b = bucketOf(merged[i]); b <= last; b++) offsets[b + 1]++;
    }
    for (let b = 0; b < BUCKETS; b++) offsets[b + 1] += offsets[b];

    const count = offsets[BUCKETS];
    const table = new PieceTable6(count);
    const commonTop = (lowest >> (bucketBits + 16n)) << (bucketBits + 16n);
    const bucketSpan = (1n << bucketBits) - 1n;
    for (let i = 0; i < merged.length; i += 2) {
      const first = merged[i];
      const last = merged[i + 1];
      const firstBucket = bucketOf(first);
      const lastBucket = bucketOf(last);
      for (let b = firstBucket; b <= lastBucket; b++) {
        const bucketFirst = commonTop | (BigInt(b) << bucketBits);
        table.push(
          b === firstBucket ? first : bucketFirst,
          b === lastBucket ? last : bucketFirst | bucketSpan,
        );
      }
    }
    return { offsets, ...table.done(), count, shift, top: Number(lowest >> 96n) };
  }
}

/**
 * Cuts the sorted disjoint ranges merged[0 .. n) at /16 boundaries into pieces of 16-bit
 * [first, last] pairs, counting the pieces of each bucket first, then placing them.
 */
function cutAt16(merged: Float64Array, n: number): { offsets: Uint32Array; pieces: Uint16Array } {
  const offsets = new Uint32Array(BUCKETS + 1);
  for (let i = 0; i < n; i += 2) {
    const last = merged[i + 1] >>> 16;
    for (let b = merged[i] >>> 16; b <= last; b++) offsets[b + 1]++;
  }
  for (let b = 0; b < BUCKETS; b++) offsets[b + 1] += offsets[b];

  const pieces = new Uint16Array(2 * offsets[BUCKETS] + 2);
  let p = 0;
  for (let i = 0; i < n; i += 2) {
    const first = merged[i];
    const last = merged[i + 1];
    const firstBucket = first >>> 16;
    const lastBucket = last >>> 16;
    for (let b = firstBucket; b <= lastBucket; b++) {
      pieces[p++] = b === firstBucket ? first & 0xffff : 0;
      pieces[p++] = b === lastBucket ? last & 0xffff : 0xffff;
    }
  }
  pieces[p] = 0xffff;
  return { offsets, pieces };
}

const LOW_64 = (1n << 64n) - 1n;

/** Fills the split IPv6 piece arrays, one [first, last] range at a time. */
class PieceTable6 {
  private readonly pieces: Uint32Array;
  private readonly lows: Uint32Array;
  private readonly whole: Uint8Array;
  private count = 0;

  constructor(capacity: number) {
    this.pieces = new Uint32Array(4 * capacity + 4);
    this.lows = new Uint32Array(4 * capacity);
    this.whole = new Uint8Array(capacity);
  }

  push(first: bigint, last: bigint): void {
    const i = this.count << 2;
    writeWordPair(this.pieces, i, first >> 64n);
    writeWordPair(this.pieces, i + 2, last >> 64n);
    writeWordPair(this.lows, i, first & LOW_64);
    writeWordPair(this.lows, i + 2, last & LOW_64);
    this.whole[this.count] = (first & LOW_64) === 0n && (last & LOW_64) === LOW_64 ? 1 : 0;
    this.count++;
  }

  done(): { pieces: Uint32Array; lows: Uint32Array; whole: Uint8Array } {
    return { pieces: this.pieces, lows: this.lows, whole: this.whole };
  }
}

function writeWordPair(a: Uint32Array, i: number, value: bigint): void {
  a[i] = Number(value >> 32n);
  a[i + 1] = Number(value & 0xffffffffn);
}

let entryStart4 = 0;
let entryStart6 = 0n;
let entryBits = 0;

/**
 * Parses one set entry, an address or a prefix, into `entryStart4` or `entryStart6` and
 * `entryBits`; returns the family (an IPv4-mapped prefix of /96 or longer is IPv4). Throws a
 * CidrError naming the entry and its origin.
 */
function parseEntry(entry: string, origin: EntryOrigin, loose: boolean): 4 | 6 {
  if (typeof entry !== 'string') {
    const what = entry === null ? 'null' : typeof entry;
    throw entryError(String(entry), origin, 'ERR_CIDR_ENTRY', `a ${what}, not a string`);
  }

  const slash = entry.lastIndexOf('/');
  const addressText = slash < 0 ? entry : entry.slice(0, slash);
  let length = -1;
  if (slash >= 0) {
    length = parsePrefixLength(entry, slash + 1);
    if (length < 0) {
      throw entryError(
        entry,
        origin,
        'ERR_CIDR_ENTRY',
        'bad prefix length after "/" (a decimal number without leading zeros)',
      );
    }
  }

  let v4 = fastIPv4(addressText);
  let bits = length;
  const words = scratchWords;
  if (v4 < 0) {
    const kind = parseAddressInto(addressText, words);
    if (kind === KIND_INVALID) {
      throw entryError(entry, origin, 'ERR_CIDR_ENTRY', reasonText(lastReason));
    }
    if (lastZoneStart >= 0) {
      throw entryError(
        entry,
        origin,
        'ERR_CIDR_ENTRY',
        'a zone ("%") has no meaning in a set entry',
      );
    }
    if (kind === KIND_IPV4) {
      v4 = words[3];
    } else if (isMappedWords(words[0], words[1], words[2]) && (bits < 0 || bits >= 96)) {
      v4 = words[3];
      if (bits >= 0) bits = bits > 128 ? 33 : bits - 96;
    }
  }

  if (v4 >= 0) {
    if (bits < 0) bits = 32;
    if (bits > 32) {
      throw entryError(entry, origin, 'ERR_CIDR_ENTRY', `prefix length ${length} is too long`);
    }
    const start = bits === 0 ? 0 : (v4 & (-1 << (32 - bits))) >>> 0;
    if (start !== v4 && !loose) throw hostBitsError(entry, origin, `${formatIPv4(start)}/${bits}`);
    entryStart4 = start;
    entryBits = bits;
    return 4;
  }

  if (bits < 0) bits = 128;
  if (bits > 128) {
    throw entryError(entry, origin, 'ERR_CIDR_ENTRY', `prefix length ${bits} is above 128`);
  }
  const address = wordsToBigInt(words, 0);
  const hostMask = (1n << BigInt(128 - bits)) - 1n;
  const start = address & ~hostMask & MASK_128;
  if (start !== address && !loose) {
    throw hostBitsError(entry, origin, `${formatBigIPv6(start)}/${bits}`);
  }
  entryStart6 = start;
  entryBits = bits;
  return 6;
}

/**
 * The canonical text of one entry (`10.0.0.0/8`, `fd00::/8`, an IPv4-mapped prefix as IPv4),
 * always with a length. Throws like `CidrSet.from` for a bad entry.
 */
export function canonicalEntry(entry: string, origin: EntryOrigin, loose: boolean): string {
  return parseEntry(entry, origin, loose) === 4
    ? `${formatIPv4(entryStart4)}/${entryBits}`
    : `${formatBigIPv6(entryStart6)}/${entryBits}`;
}

/**
 * Reads the prefix length after the slash: decimal, no sign, no leading zero. -1 when bad.
 * The upper bound is checked by the caller, which knows the family.
 */
function parsePrefixLength(text: string, from: number): number {
  const digits = text.length - from;
  if (digits < 1 || digits > 3) return -1;
  if (digits > 1 && text.charCodeAt(from) === 48) return -1;

  let value = 0;
  for (let i = from; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

function formatBigIPv6(value: bigint): string {
  return formatIPv6(
    Number(value >> 96n),
    Number((value >> 64n) & 0xffffffffn),
    Number((value >> 32n) & 0xffffffffn),
    Number(value & 0xffffffffn),
  );
}

function describeOrigin(origin: EntryOrigin): string {
  if (origin.line !== undefined) {
    return origin.source === undefined ? `line ${origin.line}` : `${origin.source}:${origin.line}`;
  }
  if (origin.index !== undefined) return `entry ${origin.index}`;
  return 'entry';
}

function entryError(
  entry: string,
  origin: EntryOrigin,
  code: 'ERR_CIDR_ENTRY' | 'ERR_CIDR_HOST_BITS',
  reason: string,
): CidrError {
  const op = origin.line !== undefined ? 'load list' : 'build set';
  return new CidrError(`${op}: ${describeOrigin(origin)} ${quoteEntry(entry)}: ${reason}`, {
    code,
    entry,
    index: origin.index,
    line: origin.line,
    source: origin.source,
    reason,
  });
}

function hostBitsError(entry: string, origin: EntryOrigin, masked: string): CidrError {
  return entryError(
    entry,
    origin,
    'ERR_CIDR_HOST_BITS',
    `bits are set past the prefix length (did you mean ${masked}? { loose: true } masks them)`,
  );
}
