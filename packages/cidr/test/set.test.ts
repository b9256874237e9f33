// CidrSet against a naive scan of the same prefixes: random sets (seeded; the seed is in every
// failure message, rerun with CIDR_TEST_SEED=N), IPv4 and IPv6 mixed, small and large, well over
// 10,000 queries a run in several spellings. Then building, errors, listing back and set
// operations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeCidr } from 'cidr-tools';

import {
  CidrError,
  CidrSet,
  LOCAL_RANGES,
  excludeCidrs,
  mergeCidrs,
  parseAddress,
  presets,
} from '../src/index.js';
import {
  makeHotSpots,
  makeRandom,
  oracleHas,
  oracleIPv4Scanner,
  randomIPv4Entry,
  randomIPv6Entry,
  randomQuery,
  seed,
  v4Text,
  type Entry,
  type OracleRange,
} from './random.js';

const why = (detail: string) => `${detail} (seed ${seed}; rerun with CIDR_TEST_SEED=${seed})`;

/** Checks `queries` answers of a set built from `entries` against the naive scan. */
function differential(
  name: string,
  random: ReturnType<typeof makeRandom>,
  entries: Entry[],
  queryCount: number,
): number {
  const hot = makeHotSpots(random);
  const set = CidrSet.from(entries.map((entry) => entry.text));
  const ranges: OracleRange[] = entries.map((entry) => entry.range);
  let inside = 0;
  for (let i = 0; i < queryCount; i++) {
    const query = randomQuery(random, ranges, hot);
    const expected = oracleHas(ranges, query.family, query.value);
    const actual = set.has(query.text);
    if (actual !== expected) {
      assert.unreachable(
        why(
          `${name}: has(${JSON.stringify(query.text)}) is ${actual}, ` +
            `a scan of ${entries.length} entries says ${expected}`,
        ),
      );
    }

    const parsed = parseAddress(query.text);
    assert.is(set.hasAddress(parsed), expected, why(`${name}: hasAddress(${query.text})`));
    if (query.family === 4) {
      assert.is(set.hasIPv4(Number(query.value)), expected, why(`${name}: hasIPv4(${query.text})`));
    }
    const [w0, w1, w2, w3] = parsed.words;
    assert.is(set.hasIPv6(w0, w1, w2, w3), expected, why(`${name}: hasIPv6(${query.text})`));
    if (expected) inside++;
  }
  return inside;
}

function makeEntries(random: ReturnType<typeof makeRandom>, v4: number, v6: number): Entry[] {
  const hot = makeHotSpots(random);
  const entries: Entry[] = [];
  for (let i = 0; i < v4; i++) entries.push(randomIPv4Entry(random, hot.v4));
  for (let i = 0; i < v6; i++) entries.push(randomIPv6Entry(random, hot.v6));
  // Shuffle so families and sizes come in any order.
  for (let i = entries.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return entries;
}

test('small random sets (up to 12 entries) agree with a naive scan', () => {
  const random = makeRandom(seed);
  let queries = 0;
  let inside = 0;
  for (let round = 0; round < 300; round++) {
    const entries = makeEntries(random, random.int(7), random.int(6));
    inside += differential(`small set ${round}`, random, entries, 40);
    queries += 40;
  }
  assert.ok(queries >= 10_000);
  assert.ok(inside > queries / 10, why(`only ${inside} of ${queries} queries were inside`));
});

test('medium random sets (about 50 to 2,000 entries, both forms) agree with a naive scan', () => {
  const random = makeRandom(seed + 1);
  for (const [v4, v6] of [
    [40, 30],
    [80, 80],
    [1000, 10],
    [10, 1000],
    [1500, 500],
  ]) {
    const entries = makeEntries(random, v4, v6);
    const inside = differential(`set of ${v4}+${v6}`, random, entries, 4000);
    assert.ok(inside > 400, why(`only ${inside} inside`));
  }
});

test('IPv6 sets that share a long prefix (bucket window shifted by 16) agree', () => {
  const random = makeRandom(seed + 2);
  const entries: Entry[] = [];
  for (let i = 0; i < 400; i++) {
    const bits = 32 + random.int(97);
    const start = (0x2001_0db8n << 96n) | (random.big128() >> 32n);
    const host = (1n << BigInt(128 - bits)) - 1n;
    const first = start & ~host;
    const text = `${parseAddressText(first)}/${bits}`;
    entries.push({ text, range: { family: 6, first, last: first | host } });
  }
  const inside = differential('2001:db8::/32 set', random, entries, 6000);
  assert.ok(inside > 600, why(`only ${inside} inside`));
});

function parseAddressText(value: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n)
    groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

test('a large IPv4 set (30,000 random prefixes, mostly /24) agrees with a naive scan', () => {
  const random = makeRandom(seed + 3);
  const entries: string[] = [];
  const ranges: OracleRange[] = [];
  for (let i = 0; i < 30_000; i++) {
    const r = random.next();
    const bits =
      r < 0.75
        ? 24
        : r < 0.95
          ? 25 + random.int(8)
          : 8 + Math.floor(Math.log2(1 + random.int(65535)));
    const size = 2 ** (32 - bits);
    const first = Math.floor(random.u32() / size) * size;
    entries.push(`${v4Text(first)}/${bits}`);
    ranges.push({ family: 4, first: BigInt(first), last: BigInt(first + size - 1) });
  }
  const set = CidrSet.from(entries);
  const scan = oracleIPv4Scanner(ranges);
  let inside = 0;
  for (let i = 0; i < 10_000; i++) {
    let value: number;
    if (i % 2 === 0) {
      const range = ranges[random.int(ranges.length)];
      const span = Number(range.last - range.first) + 1;
      const edge = random.int(4);
      value = Number(range.first) + (edge === 0 ? -1 : edge === 1 ? span : random.int(span));
      value = Math.min(Math.max(value, 0), 0xffffffff);
    } else {
      value = random.u32();
    }
    const expected = scan(value);
    const text = i % 7 === 0 ? `::ffff:${v4Text(value)}` : v4Text(value);
    if (set.has(text) !== expected) assert.unreachable(why(`has(${text}) should be ${expected}`));
    assert.is(set.hasIPv4(value), expected, why(`hasIPv4(${value})`));
    if (expected) inside++;
  }
  assert.ok(inside > 2000, why(`only ${inside} inside`));
});

test('a set large enough for the /24 bitmaps, whole and partly covered /24s mixed, agrees', () => {
  const random = makeRandom(seed + 4);
  const entries: string[] = [];
  const ranges: OracleRange[] = [];
  const add = (first: number, bits: number) => {
    const size = 2 ** (32 - bits);
    entries.push(`${v4Text(first)}/${bits}`);
    ranges.push({ family: 4, first: BigInt(first), last: BigInt(first + size - 1) });
  };

  // Enough single addresses spread everywhere to cross into the bitmap form, then a dense
  // region (10.0.0.0/12) where whole /24s, parts of /24s and shorter prefixes sit side by side.
  for (let i = 0; i < 140_000; i++) add(random.u32(), 32);
  const region = 0x0a000000;
  for (let i = 0; i < 3000; i++) {
    const r = random.next();
    const bits = r < 0.3 ? 24 : r < 0.9 ? 25 + random.int(8) : 20 + random.int(4);
    const size = 2 ** (32 - bits);
    add(region + Math.floor(random.int(1 << 20) / size) * size, bits);
  }
  add(0xc0000000, 8);
  add(0xc1020300, 24);

  const set = CidrSet.from(entries);
  assert.ok(set.byteLength > 2 << 20, 'the bitmap form is built');
  const scan = oracleIPv4Scanner(ranges);
  let inside = 0;
  for (let i = 0; i < 4000; i++) {
    let value: number;
    if (i % 4 === 3) {
      value = random.u32();
    } else {
      const range = ranges[ranges.length - 1 - random.int(3002)];
      const span = Number(range.last - range.first) + 1;
      const edge = random.int(4);
      value = Number(range.first) + (edge === 0 ? -1 : edge === 1 ? span : random.int(span));
      value = Math.min(Math.max(value, 0), 0xffffffff);
    }
    const expected = scan(value);
    const text = i % 5 === 0 ? `::ffff:${v4Text(value)}` : v4Text(value);
    if (set.has(text) !== expected) assert.unreachable(why(`has(${text}) should be ${expected}`));
    assert.is(set.hasIPv4(value), expected, why(`hasIPv4(${value})`));
    if (expected) inside++;
  }
  assert.ok(inside > 1000, why(`only ${inside} inside`));

  // Listing back: the CIDRs cover exactly the merged ranges of the entries.
  const sorted = ranges
    .map((range) => [Number(range.first), Number(range.last)])
    .sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [first, last] of sorted) {
    const n = merged.length;
    if (n > 0 && first <= merged[n - 1] + 1) merged[n - 1] = Math.max(merged[n - 1], last);
    else merged.push(first, last);
  }
  const listed: number[] = [];
  for (const cidr of set.toCidrs()) {
    const [address, bits] = cidr.split('/');
    const first = parseAddress(address).ipv4;
    const last = first + 2 ** (32 - Number(bits)) - 1;
    const n = listed.length;
    if (n > 0 && listed[n - 1] + 1 === first) listed[n - 1] = last;
    else listed.push(first, last);
  }
  assert.equal(listed, merged, 'toCidrs covers the same addresses');
  assert.is(set.rangeCount.ipv4, merged.length / 2);
});

test('edges: /0, /32, /128, bucket boundaries, adjacent and nested prefixes', () => {
  const all4 = CidrSet.from(['0.0.0.0/0']);
  assert.ok(all4.has('0.0.0.0') && all4.has('255.255.255.255') && all4.has('::ffff:1.2.3.4'));
  assert.not.ok(all4.has('::1'));
  assert.not.ok(all4.has('::1.2.3.4'), 'IPv4-compatible is IPv6');
  assert.not.ok(all4.has('64:ff9b::1.2.3.4'), 'NAT64 is IPv6');

  const all6 = CidrSet.from(['::/0']);
  assert.ok(all6.has('::') && all6.has('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
  assert.ok(all6.has('::1.2.3.4'));
  assert.not.ok(all6.has('::ffff:1.2.3.4'), 'IPv4-mapped is checked as IPv4, not against ::/0');
  assert.not.ok(all6.has('1.2.3.4'));

  // Many /16 neighbours force the bucketed form; check across bucket edges.
  const entries = Array.from({ length: 200 }, (_, i) => `10.${i}.255.255/32`);
  entries.push('11.0.0.0/15', '12.0.255.0/24', '12.1.0.0/24');
  const set = CidrSet.from(entries);
  assert.ok(set.has('10.5.255.255'));
  assert.not.ok(set.has('10.5.255.254'));
  assert.not.ok(set.has('10.6.0.0'));
  assert.ok(set.has('11.0.0.0') && set.has('11.1.255.255') && !set.has('11.2.0.0'));
  assert.ok(set.has('12.0.255.255') && set.has('12.1.0.0') && !set.has('12.1.1.0'));
  assert.ok(set.toCidrs().includes('11.0.0.0/15'));
  assert.ok(set.toCidrs().includes('12.0.255.0/24') && set.toCidrs().includes('12.1.0.0/24'));
  assert.is(set.rangeCount.ipv4, 202);
});

test('the local preset: each range, its edges, mapped and compatible forms', () => {
  const local = presets.local;
  const inside = [
    '127.0.0.1',
    '127.255.255.255',
    '10.0.0.0',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.2.10',
    '169.254.1.1',
    '100.64.0.1',
    '100.127.255.255',
    '::1',
    'fe80::1',
    'febf:ffff::1',
    'fc00::1',
    'fd7a:115c:a1e0::1',
    '::ffff:192.168.2.10',
    '::ffff:c0a8:20a',
    '::FFFF:127.0.0.1',
    'fe80::1%eth0',
    'FE80::1',
  ];
  const outside = [
    '8.8.8.8',
    '172.32.0.0',
    '172.15.255.255',
    '100.128.0.0',
    '100.63.255.255',
    '11.0.0.0',
    '192.169.0.0',
    '169.255.0.0',
    '::2',
    '::',
    '0.0.0.0',
    'fec0::1',
    'fe00::1',
    'fe7f:ffff::1',
    '2001:db8::1',
    '::192.168.2.10',
    '64:ff9b::192.168.2.10',
    '::ffff:8.8.8.8',
    '0177.0.0.1',
    '127.1',
    '192.168.1.256',
    ' 127.0.0.1',
    '[::1]',
    '[::1]:80',
    '127.0.0.1:80',
  ];
  for (const ip of inside) assert.ok(local.has(ip), ip);
  for (const ip of outside) assert.not.ok(local.has(ip), ip);

  assert.is(LOCAL_RANGES.length, 9);
  for (const range of LOCAL_RANGES) assert.match(range.rfc, /^RFC \d+/);
  assert.equal(local.toCidrs(), [
    '10.0.0.0/8',
    '100.64.0.0/10',
    '127.0.0.0/8',
    '169.254.0.0/16',
    '172.16.0.0/12',
    '192.168.0.0/16',
    '::1/128',
    'fc00::/7',
    'fe80::/10',
  ]);
});

test('entries are validated with the entry and its index in the error', () => {
  const cases: [string[], number, string, string][] = [
    [['10.0.0.0/8', '10.0.0.1/8'], 1, 'ERR_CIDR_HOST_BITS', '10.0.0.0/8'],
    [['fd00::1/8'], 0, 'ERR_CIDR_HOST_BITS', 'fd00::/8'],
    [['10.0.0.0/33'], 0, 'ERR_CIDR_ENTRY', 'too long'],
    [['::/129'], 0, 'ERR_CIDR_ENTRY', 'above 128'],
    [['10.0.0.0/08'], 0, 'ERR_CIDR_ENTRY', 'leading zeros'],
    [['10.0.0.0/'], 0, 'ERR_CIDR_ENTRY', 'prefix length'],
    [['10.0.0.0/+8'], 0, 'ERR_CIDR_ENTRY', 'prefix length'],
    [['10.0.0.0/8 '], 0, 'ERR_CIDR_ENTRY', 'prefix length'],
    [['1.2.3.4', ' 1.2.3.4'], 1, 'ERR_CIDR_ENTRY', 'unexpected character'],
    [['127.1'], 0, 'ERR_CIDR_ENTRY', 'fewer than four'],
    [['fe80::1%eth0'], 0, 'ERR_CIDR_ENTRY', 'zone'],
    [['fe80::%eth0/64'], 0, 'ERR_CIDR_ENTRY', 'zone'],
    [[''], 0, 'ERR_CIDR_ENTRY', 'empty'],
    [['10.0.0.0/8', '::ffff:10.0.0.1/104'], 1, 'ERR_CIDR_HOST_BITS', '10.0.0.0/8'],
  ];
  for (const [entries, index, code, part] of cases) {
    try {
      CidrSet.from(entries);
      assert.unreachable(entries.join(' '));
    } catch (error) {
      assert.instance(error, CidrError);
      const e = error as CidrError;
      assert.is(e.code, code, entries.join(' '));
      assert.is(e.index, index);
      assert.is(e.entry, entries[index]);
      assert.ok(e.message.startsWith(`build set: entry ${index} `), e.message);
      assert.ok(e.message.includes(part), `${e.message} should mention ${part}`);
    }
  }
  assert.throws(() => CidrSet.from([42 as unknown as string]), /not a string/);
});

test('a lone string is one entry', () => {
  assert.equal(CidrSet.from('10.0.0.0/8').toCidrs(), ['10.0.0.0/8']);
  assert.equal(CidrSet.from('10.0.0.0/8').union('11.0.0.0/8').toCidrs(), ['10.0.0.0/7']);
  assert.equal(mergeCidrs('10.0.0.1'), ['10.0.0.1/32']);
});

test('loose masks host bits instead of refusing them', () => {
  const set = CidrSet.from(['10.0.0.1/8', 'fd00::1/8', '::ffff:192.168.2.10/112'], { loose: true });
  assert.equal(set.toCidrs(), ['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8']);
});

test('IPv4-mapped prefixes are IPv4 prefixes; shorter ones stay IPv6', () => {
  const set = CidrSet.from(['::ffff:192.168.0.0/112', '::ffff:10.1.2.3']);
  assert.equal(set.toCidrs(), ['10.1.2.3/32', '192.168.0.0/16']);
  assert.ok(set.has('192.168.7.7') && set.has('10.1.2.3') && !set.has('10.1.2.4'));
  const wide = CidrSet.from(['::fffe:0:0/95']);
  assert.not.ok(wide.has('1.2.3.4'));
  assert.ok(wide.has('::fffe:1:2'));
});

test('toCidrs lists the shortest equivalent list (as cidr-tools merges it), and rebuilds the same set', () => {
  const random = makeRandom(seed + 4);
  for (let round = 0; round < 30; round++) {
    const entries = makeEntries(random, random.int(300), random.int(100)).map((e) => e.text);
    const set = CidrSet.from(entries);
    const listed = set.toCidrs();
    assert.equal(
      normalize(listed),
      normalize(mergeCidr(mergeCidrs(entries))),
      why(`round ${round}`),
    );
    assert.equal(CidrSet.from(listed).toCidrs(), listed, why(`round ${round}`));
  }
});

/** Canonical text of each CIDR, so two spellings of one prefix compare equal. */
function normalize(list: string[]): string[] {
  return list.map((cidr) => {
    const [address, bits] = cidr.split('/');
    const parsed = parseAddress(address);
    return parsed.version === 4
      ? `4 ${parsed.ipv4} ${bits}`
      : `6 ${parsed.words.join(',')} ${bits}`;
  });
}

test('union and exclude agree with a naive scan of both sets', () => {
  const random = makeRandom(seed + 5);
  for (let round = 0; round < 20; round++) {
    const a = makeEntries(random, 1 + random.int(80), random.int(40));
    const b = makeEntries(random, 1 + random.int(80), random.int(40));
    const setA = CidrSet.from(a.map((e) => e.text));
    const setB = CidrSet.from(b.map((e) => e.text));
    const union = setA.union(setB);
    const difference = setA.exclude(b.map((e) => e.text));
    const rangesA = a.map((e) => e.range);
    const rangesB = b.map((e) => e.range);
    const hot = makeHotSpots(random);
    for (let i = 0; i < 300; i++) {
      const q = randomQuery(random, i % 2 === 0 ? rangesA : rangesB, hot);
      const inA = oracleHas(rangesA, q.family, q.value);
      const inB = oracleHas(rangesB, q.family, q.value);
      assert.is(union.has(q.text), inA || inB, why(`union has(${q.text})`));
      assert.is(difference.has(q.text), inA && !inB, why(`exclude has(${q.text})`));
    }
  }
});

test('mergeCidrs and excludeCidrs validate entries, then let cidr-tools do the work', () => {
  assert.equal(mergeCidrs(['10.0.0.0/9', '10.128.0.0/9', '10.1.2.3', '::ffff:1.2.3.0/120']), [
    '1.2.3.0/24',
    '10.0.0.0/8',
  ]);
  assert.equal(excludeCidrs(['10.0.0.0/8'], ['10.0.0.0/9']), ['10.128.0.0/9']);
  assert.throws(
    () => mergeCidrs(['10.0.0.0/8', '010.0.0.0/8']),
    (e: CidrError) => e.index === 1,
  );
});

test('hasBytes reads 4 and 16 bytes, refuses other lengths', () => {
  const set = CidrSet.from(['192.168.0.0/16', 'fd00::/8']);
  assert.ok(set.hasBytes(new Uint8Array([192, 168, 2, 10])));
  assert.ok(
    set.hasBytes(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 168, 2, 10])),
  );
  assert.ok(set.hasBytes(new Uint8Array([0xfd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])));
  assert.not.ok(set.hasBytes(new Uint8Array([192, 168, 2])));
  assert.not.ok(set.hasIPv4(-1));
  assert.not.ok(set.hasIPv4(2 ** 32));
  assert.not.ok(set.hasIPv4(1.5));
  assert.not.ok(set.hasIPv6(0xfd000000, 0, 0, -1));
});

test('an empty set holds nothing; byteLength stays small for small sets', () => {
  const empty = CidrSet.from([]);
  assert.not.ok(empty.has('1.2.3.4') || empty.has('::1') || empty.has('::ffff:1.2.3.4'));
  assert.equal(empty.toCidrs(), []);
  assert.ok(presets.local.byteLength < 1024, String(presets.local.byteLength));
});

test('a 1,000,000-prefix set is built and held in typed arrays under 8 MB', () => {
  const random = makeRandom(seed + 6);
  const entries: string[] = [];
  for (let i = 0; i < 1_000_000; i++) entries.push(`${v4Text(random.u32() & 0xffffff00)}/24`);
  const set = CidrSet.from(entries);
  assert.ok(set.byteLength < 8_000_000, String(set.byteLength));
  const sample = entries[random.int(entries.length)].replace('.0/24', '.77');
  assert.ok(set.has(sample), why(sample));
});

test.run();
