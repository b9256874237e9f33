// Seeded random sets and queries for the differential tests, and the naive oracle they are
// checked against: a plain scan of [first, last] ranges computed here with BigInt, which shares
// nothing with the package's parser or structure.
import ipaddr from 'ipaddr.js';

/** The seed: CIDR_TEST_SEED when set, else a fresh one. Print it in every failure message. */
export const seed = Number(process.env.CIDR_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;

/** mulberry32: small, fast, good enough to spread test cases. */
export function makeRandom(start: number) {
  let state = start >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const u32 = () => Math.floor(next() * 4294967296);
  const big128 = () =>
    (BigInt(u32()) << 96n) | (BigInt(u32()) << 64n) | (BigInt(u32()) << 32n) | BigInt(u32());
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  return { next, int, u32, big128, pick };
}
export type Random = ReturnType<typeof makeRandom>;

/** One oracle range. IPv4-mapped entries are stored as family 4, as the package means them. */
export interface OracleRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

export const MAPPED_PREFIX = 0xffffn << 32n;
const ALL_128 = (1n << 128n) - 1n;

export function v4Text(value: number | bigint): string {
  const v = Number(value);
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function bytesOf(value: bigint): number[] {
  const out: number[] = [];
  for (let shift = 120n; shift >= 0n; shift -= 8n) out.push(Number((value >> shift) & 0xffn));
  return out;
}

/** IPv6 text in one of several spellings, all naming `value`. */
export function v6Text(value: bigint, random: Random): string {
  const address = ipaddr.fromByteArray(bytesOf(value)) as ipaddr.IPv6;
  switch (random.int(4)) {
    case 0:
      return address.toNormalizedString();
    case 1:
      return address
        .toNormalizedString()
        .split(':')
        .map((g) => g.padStart(4, '0'))
        .join(':')
        .toUpperCase();
    default:
      return address.toRFC5952String();
  }
}

/** A prefix entry as text plus its oracle range. */
export interface Entry {
  text: string;
  range: OracleRange;
}

function v4Entry(start: number, bits: number): Entry {
  const size = 2 ** (32 - bits);
  const first = Math.floor(start / size) * size;
  const text = bits === 32 && start % 3 === 0 ? v4Text(first) : `${v4Text(first)}/${bits}`;
  return { text, range: { family: 4, first: BigInt(first), last: BigInt(first + size - 1) } };
}

function v6Entry(start: bigint, bits: number, random: Random): Entry {
  const host = (1n << BigInt(128 - bits)) - 1n;
  const first = start & ~host & ALL_128;
  const text =
    bits === 128 && random.int(2) === 0
      ? v6Text(first, random)
      : `${v6Text(first, random)}/${bits}`;
  return { text, range: { family: 6, first, last: first | host } };
}

/** Hot spots shared by entries and queries, so that ranges overlap, touch and nest. */
export function makeHotSpots(random: Random) {
  return {
    v4: Array.from({ length: 8 }, () => random.u32()),
    v6: Array.from({ length: 8 }, () => (0x2001_0db8n << 96n) | (random.big128() >> 32n)),
  };
}

export function randomIPv4Entry(random: Random, hot: number[]): Entry {
  const r = random.next();
  const bits = r < 0.5 ? 24 : r < 0.75 ? 16 + random.int(17) : r < 0.97 ? random.int(33) : 0;
  const start = random.next() < 0.4 ? (random.pick(hot) + random.int(1 << 20)) >>> 0 : random.u32();
  return v4Entry(start, bits);
}

export function randomIPv6Entry(random: Random, hot: bigint[]): Entry {
  const r = random.next();
  if (r < 0.05) {
    // An IPv4-mapped prefix: means the IPv4 prefix of its last 32 bits.
    const bits = 96 + random.int(33);
    const v4 = v4Entry(random.u32(), bits - 96);
    const text = `::ffff:${v4Text(v4.range.first)}/${bits}`;
    return { text, range: v4.range };
  }
  if (r < 0.07) return v6Entry(0n, random.int(3), random);
  if (r < 0.1) return v6Entry(0xfe80n << 112n, 10, random);
  const bits = r < 0.5 ? 48 : r < 0.7 ? 64 : r < 0.8 ? 128 : 3 + random.int(126);
  const start =
    random.next() < 0.5
      ? random.pick(hot) + (random.big128() >> 70n)
      : (0x2n << 124n) | (random.big128() >> 3n);
  return v6Entry(start & ALL_128, bits, random);
}

/** A query: its text and what the oracle should be asked (family and value). */
export interface Query {
  text: string;
  family: 4 | 6;
  value: bigint;
}

function nearby(random: Random, ranges: OracleRange[], family: 4 | 6): bigint | undefined {
  const own = ranges.filter((range) => range.family === family);
  if (own.length === 0) return undefined;
  const range = random.pick(own);
  const span = range.last - range.first;
  switch (random.int(5)) {
    case 0:
      return range.first - 1n;
    case 1:
      return range.first;
    case 2:
      return range.last;
    case 3:
      return range.last + 1n;
    default:
      return range.first + (random.big128() % (span + 1n));
  }
}

export function randomQuery(
  random: Random,
  ranges: OracleRange[],
  hot: ReturnType<typeof makeHotSpots>,
): Query {
  const r = random.next();
  if (r < 0.55) {
    let value = r < 0.35 ? nearby(random, ranges, 4) : undefined;
    if (value === undefined || value < 0n || value > 0xffffffffn) {
      value = BigInt(
        random.next() < 0.3 ? (random.pick(hot.v4) + random.int(1 << 20)) >>> 0 : random.u32(),
      );
    }
    switch (random.int(6)) {
      case 0:
        return { text: `::ffff:${v4Text(value)}`, family: 4, value };
      case 1:
        return { text: v6Text(MAPPED_PREFIX | value, random), family: 4, value };
      default:
        return { text: v4Text(value), family: 4, value };
    }
  }

  let value = r < 0.8 ? nearby(random, ranges, 6) : undefined;
  if (value === undefined || value < 0n || value > ALL_128) {
    const choice = random.int(4);
    value =
      choice === 0
        ? random.pick(hot.v6) + (random.big128() >> 80n)
        : choice === 1
          ? (0x2n << 124n) | (random.big128() >> 3n)
          : choice === 2
            ? BigInt(random.u32()) // IPv4-compatible ::a.b.c.d, an IPv6 address
            : random.big128();
  }
  value &= ALL_128;
  if (value >> 32n === 0xffffn)
    return { text: v6Text(value, random), family: 4, value: value & 0xffffffffn };

  let text = v6Text(value, random);
  if (value < 1n << 32n && value > 0xffffn && random.int(2) === 0) text = `::${v4Text(value)}`;
  if (random.int(10) === 0) text += '%eth0';
  return { text, family: 6, value };
}

/** The naive answer: scan every range. */
export function oracleHas(ranges: OracleRange[], family: 4 | 6, value: bigint): boolean {
  for (const range of ranges) {
    if (range.family === family && range.first <= value && value <= range.last) return true;
  }
  return false;
}

/** A faster naive scan for big IPv4-only sets: the same scan on numbers. */
export function oracleIPv4Scanner(ranges: OracleRange[]) {
  const v4 = ranges.filter((range) => range.family === 4);
  const firsts = new Float64Array(v4.map((range) => Number(range.first)));
  const lasts = new Float64Array(v4.map((range) => Number(range.last)));
  return (value: number): boolean => {
    for (let i = 0; i < firsts.length; i++)
      if (firsts[i] <= value && value <= lasts[i]) return true;
    return false;
  };
}
