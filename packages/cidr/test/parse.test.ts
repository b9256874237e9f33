// Address parsing: a table of tricky inputs with the answer Go's netip.ParseAddr gives, the
// IPv4 value where one is expected, and the reason where it is refused; formatting; and
// splitHostPort against net.SplitHostPort's answers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import ipaddr from 'ipaddr.js';

import {
  CidrError,
  formatAddress,
  isValidAddress,
  parseAddress,
  presets,
  splitHostPort,
} from '../src/index.js';

/** [input, expected: 'v4' | 'v6' | 'mapped' | false, IPv4 value for v4/mapped, reason part]. */
type Row = [string, 'v4' | 'v6' | 'mapped' | false, string?];

const table: Row[] = [
  // Plain IPv4.
  ['0.0.0.0', 'v4', '0.0.0.0'],
  ['255.255.255.255', 'v4', '255.255.255.255'],
  ['192.168.2.10', 'v4', '192.168.2.10'],
  ['127.0.0.1', 'v4', '127.0.0.1'],
  ['1.2.3.0', 'v4', '1.2.3.0'],
  // Leading zeros, octal, hex, short and integer forms: refused.
  ['0177.0.0.1', false, 'leading zero'],
  ['127.0.0.01', false, 'leading zero'],
  ['00.0.0.0', false, 'leading zero'],
  ['010.0.0.1', false, 'leading zero'],
  ['0x7f.0.0.1', false, 'unexpected character'],
  ['0x7f000001', false, 'no "." or ":"'],
  ['127.1', false, 'fewer than four'],
  ['127.0.1', false, 'fewer than four'],
  ['1.2.3', false, 'fewer than four'],
  ['2130706433', false, 'no "." or ":"'],
  ['1.2.3.4.5', false, 'more than four'],
  ['1.2.3.256', false, 'above 255'],
  ['192.168.1.256', false, 'above 255'],
  ['256.0.0.0', false, 'above 255'],
  ['1.2.3.1000', false, 'above 255'],
  ['1..2.3', false, 'empty IPv4 octet'],
  ['.1.2.3', false, 'empty IPv4 octet'],
  ['1.2.3.', false, 'empty IPv4 octet'],
  ['1.2.3.-4', false, 'unexpected character'],
  ['１.2.3.4', false, 'unexpected character'],
  // Whitespace, newlines, ports, brackets, prefixes.
  [' 1.2.3.4', false, 'unexpected character'],
  ['1.2.3.4 ', false, 'unexpected character'],
  ['1.2.3.4\n', false, 'unexpected character'],
  ['\t::1', false, ''],
  ['::1 ', false, ''],
  ['::1\n', false, ''],
  ['1.2.3.4:80', false, 'unexpected character'],
  ['[::1]', false, ''],
  ['[::1]:443', false, ''],
  ['[1.2.3.4]', false, ''],
  ['10.0.0.0/8', false, 'unexpected character'],
  ['1.2.3.4%eth0', false, 'unexpected character'],
  // Empty and junk.
  ['', false, 'empty string'],
  ['localhost', false, 'no "." or ":"'],
  ['%eth0', false, 'zone'],
  [':', false, ''],
  [':::', false, ''],
  // IPv6.
  ['::', 'v6'],
  ['::1', 'v6'],
  ['1::', 'v6'],
  ['2001:db8::1', 'v6'],
  ['2001:DB8::1', 'v6'],
  ['FE80::1', 'v6'],
  ['2001:0db8:0000:0000:0000:0000:0000:0001', 'v6'],
  ['1:2:3:4:5:6:7:8', 'v6'],
  ['1:2:3:4:5:6:7::', 'v6'],
  ['::2:3:4:5:6:7:8', 'v6'],
  ['1:2:3:4:5:6:7:8:9', false, 'after the end'],
  ['1:2:3:4:5:6:7', false, 'fewer than eight'],
  ['1:2:3:4:5:6:7:8::', false, 'no group at all'],
  ['::1:2:3:4:5:6:7:8', false, 'no group at all'],
  ['1::2::3', false, 'more than one'],
  ['12345::', false, 'more than four hex digits'],
  ['g::1', false, 'empty IPv6 group'],
  ['1:', false, 'trailing ":"'],
  [':1', false, 'empty IPv6 group'],
  ['1:::2', false, 'empty IPv6 group'],
  ['2001:db8::1/128', false, 'expected'],
  // Zones: accepted (and ignored for matching).
  ['fe80::1%eth0', 'v6'],
  ['fe80::1%25eth0', 'v6'],
  ['fe80::1%', false, 'empty zone'],
  ['::1%lo', 'v6'],
  // Embedded dotted quads.
  ['::ffff:192.168.2.10', 'mapped', '192.168.2.10'],
  ['::FFFF:192.168.2.10', 'mapped', '192.168.2.10'],
  ['::ffff:c0a8:20a', 'mapped', '192.168.2.10'],
  ['::ffff:C0A8:020A', 'mapped', '192.168.2.10'],
  ['0:0:0:0:0:ffff:192.168.2.10', 'mapped', '192.168.2.10'],
  ['0000:0000:0000:0000:0000:ffff:c0a8:020a', 'mapped', '192.168.2.10'],
  ['::ffff:127.0.0.1%eth0', 'mapped', '127.0.0.1'],
  ['::ffff:0.0.0.0', 'mapped', '0.0.0.0'],
  ['::ffff:1.2.3', false, 'fewer than four'],
  ['::ffff:01.2.3.4', false, 'leading zero'],
  ['::ffff:1.2.3.256', false, 'above 255'],
  ['::ffff:1.2.3.4:5', false, 'unexpected character'],
  ['::192.168.2.10', 'v6'],
  ['::0.0.0.1', 'v6'],
  ['64:ff9b::192.168.2.10', 'v6'],
  ['1:2:3:4:5:6:1.2.3.4', 'v6'],
  ['1:2:3:4:5:1.2.3.4', false, 'last two groups'],
  ['1:2:3:4:5:6:7:1.2.3.4', false, 'last two groups'],
  ['1:2:3:4:5:6:7::1.2.3.4', false, 'room'],
  ['::ffff:1.2.3.4.5', false, 'more than four'],
];

for (const [input, expected, extra] of table) {
  test(`${JSON.stringify(input)} is ${expected === false ? 'refused' : expected}`, () => {
    assert.is(isValidAddress(input), expected !== false);
    assert.type(presets.local.has(input), 'boolean');

    if (expected === false) {
      try {
        parseAddress(input);
        assert.unreachable('parsed');
      } catch (error) {
        assert.instance(error, CidrError);
        const e = error as CidrError;
        assert.is(e.code, 'ERR_CIDR_ADDRESS');
        assert.is(e.entry, input);
        assert.ok(e.message.startsWith('parse address '), e.message);
        assert.ok(e.reason.includes(extra ?? ''), `${e.reason} should mention ${extra}`);
      }
      return;
    }

    const parsed = parseAddress(input);
    assert.is(parsed.version, expected === 'v4' ? 4 : 6);
    if (expected === 'v6') {
      assert.is(parsed.ipv4, -1);
      // ipaddr.js reads any embedded dotted quad as IPv4-mapped, so spell it in hex first.
      const hexOnly = input
        .split('%')[0]
        .replace(
          /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
          (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
        );
      const reference = ipaddr.IPv6.parse(hexOnly).toByteArray();
      const bytes = parsed.words.flatMap((w) => [
        w >>> 24,
        (w >>> 16) & 255,
        (w >>> 8) & 255,
        w & 255,
      ]);
      assert.equal(bytes, reference);
    } else {
      const [a, b, c, d] = extra!.split('.').map(Number);
      assert.is(parsed.ipv4, ((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
    }
    const percent = input.indexOf('%');
    assert.is(parsed.zone, percent < 0 ? '' : input.slice(percent + 1));
  });
}

test('has() is false and never throws for what is not an address', () => {
  const set = presets.local;
  for (const value of [
    undefined,
    null,
    127,
    0x7f000001,
    {},
    [],
    ['127.0.0.1'],
    Symbol('x'),
    '127.0.0.1 ',
    '127.1',
    '0177.0.0.1',
    '[::1]',
    '[::1]:80',
    '127.0.0.1:80',
    '::1%',
    'x',
  ]) {
    assert.is(set.has(value), false, String(typeof value === 'symbol' ? 'symbol' : value));
  }
});

test('parseAddress of a non-string throws a CidrError, isValidAddress is false', () => {
  assert.throws(
    () => parseAddress(42 as unknown as string),
    (e: unknown) => e instanceof CidrError,
  );
  assert.is(isValidAddress(42), false);
  assert.is(isValidAddress(null), false);
});

test('formatAddress writes RFC 5952 text and keeps the zone', () => {
  const cases: [string, string][] = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['::ffff:c0a8:20a', '::ffff:192.168.2.10'],
    ['::192.168.2.10', '::c0a8:20a'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['10.0.0.1', '10.0.0.1'],
  ];
  for (const [input, output] of cases) assert.is(formatAddress(parseAddress(input)), output, input);
});

test('splitHostPort gives the answers of Go net.SplitHostPort', () => {
  const ok: [string, string, string][] = [
    ['1.2.3.4:80', '1.2.3.4', '80'],
    ['[::1]:443', '::1', '443'],
    ['[fe80::1%eth0]:22', 'fe80::1%eth0', '22'],
    ['localhost:http', 'localhost', 'http'],
    [':80', '', '80'],
    ['1.2.3.4:', '1.2.3.4', ''],
    ['[::1]:', '::1', ''],
    ['[]:80', '', '80'],
  ];
  for (const [input, host, port] of ok) assert.equal(splitHostPort(input), { host, port }, input);

  const refused: [string, string][] = [
    ['1.2.3.4', 'missing port'],
    ['::1', 'too many colons'],
    ['::1:80', 'too many colons'],
    ['[::1]', 'missing port'],
    ['[::1]80', 'missing port'],
    ['[::1]:80:90', 'too many colons'],
    ['[::1:80', 'missing "]"'],
    ['::1]:80', 'too many colons'],
    ['1.2.3.4]:80', 'unexpected "]"'],
    ['[1.2.3.4]]:80', 'missing port'],
    ['a[b:80', 'unexpected "["'],
    ['', 'missing port'],
  ];
  for (const [input, why] of refused) {
    try {
      splitHostPort(input);
      assert.unreachable(input);
    } catch (error) {
      const e = error as CidrError;
      assert.is(e.code, 'ERR_CIDR_HOST_PORT', input);
      assert.ok(e.reason.includes(why), `${input}: ${e.reason}`);
      assert.ok(e.message.startsWith('split host:port '), e.message);
    }
  }
});

test.run();
