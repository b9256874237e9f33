// Reverse-proxy semantics, case by case against what Traefik's ipAllowList and ipStrategy do:
// the peer address by default, X-Forwarded-For by depth or past excluded proxies, ipv6Subnet,
// and spoofed headers that must not let a client in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  CidrError,
  CidrSet,
  IpStrategy,
  clientAddress,
  ipAllowList,
  presets,
  type RequestLike,
} from '../src/index.js';

const request = (remoteAddress: string | undefined, xff?: string | string[]): RequestLike => ({
  remoteAddress,
  headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
});

test('by default the peer address decides and X-Forwarded-For is never read', () => {
  const internal = ipAllowList({ sourceRange: presets.local });
  assert.ok(internal.allows(request('::ffff:192.168.2.10')));
  assert.ok(internal.allows(request('127.0.0.1')));
  assert.ok(internal.allows(request('::1')));
  assert.ok(internal.allows(request('fe80::1%eth0')));
  assert.not.ok(internal.allows(request('::ffff:203.0.113.9')));

  // A spoofed header from an outside client changes nothing.
  const spoofed = internal.check(request('::ffff:203.0.113.9', '127.0.0.1'));
  assert.equal(spoofed, {
    allowed: false,
    clientAddress: '::ffff:203.0.113.9',
    reason: 'not in the allowed ranges',
  });
  assert.ok(internal.allows(request('10.0.0.7', '203.0.113.9')));
});

test('the peer address is read from socket.remoteAddress too, and a port is dropped', () => {
  const internal = ipAllowList({ sourceRange: ['10.0.0.0/8'] });
  assert.ok(internal.allows({ socket: { remoteAddress: '10.1.1.1' }, headers: {} }));
  assert.ok(internal.allows(request('10.1.1.1:51234')));
  assert.ok(internal.allows(request('[::ffff:10.1.1.1]:51234')));
  assert.equal(internal.check({ headers: {} }), {
    allowed: false,
    clientAddress: undefined,
    reason: 'no client address',
  });
  assert.equal(internal.check(request('not-an-ip')), {
    allowed: false,
    clientAddress: 'not-an-ip',
    reason: 'not an IP address',
  });
  assert.is(clientAddress(request('[2001:db8::1]:443')), '2001:db8::1');
  assert.is(clientAddress(request('::ffff:10.1.1.1')), '::ffff:10.1.1.1');
});

test('depth picks the entry counted from the right; too few entries means no address', () => {
  const xff = '198.51.100.1, 10.0.0.1 ,10.0.0.2';
  assert.is(clientAddress(request('10.200.1.1', xff), { depth: 1 }), '10.0.0.2');
  assert.is(clientAddress(request('10.200.1.1', xff), { depth: 2 }), '10.0.0.1');
  assert.is(clientAddress(request('10.200.1.1', xff), { depth: 3 }), '198.51.100.1');
  assert.is(clientAddress(request('10.200.1.1', xff), { depth: 4 }), undefined);
  assert.is(clientAddress(request('10.200.1.1'), { depth: 1 }), undefined);
  assert.is(clientAddress(request('10.200.1.1', '1.2.3.4,,5.6.7.8'), { depth: 2 }), undefined);

  const internal = ipAllowList({ sourceRange: presets.local, ipStrategy: { depth: 1 } });
  assert.not.ok(internal.allows(request('10.200.1.1')), 'no header: refused, not the peer');
  assert.not.ok(internal.allows(request('127.0.0.1', '203.0.113.9')));
  // The client put 127.0.0.1 in the header; the proxy appended the real address.
  assert.not.ok(internal.allows(request('10.200.1.1', '127.0.0.1, 203.0.113.9')));
  assert.ok(internal.allows(request('203.0.113.9', '203.0.113.9, 192.168.2.10')));

  const deeper = ipAllowList({ sourceRange: presets.local, ipStrategy: { depth: 3 } });
  assert.equal(deeper.check(request('10.200.1.1', '192.168.2.10, 10.0.0.1')), {
    allowed: false,
    clientAddress: undefined,
    reason: 'no client address',
  });
});

test('excludedIPs picks the first entry from the right outside the excluded proxies', () => {
  const strategy = new IpStrategy({ excludedIPs: ['10.0.0.0/8', '2001:db8::1'] });
  const pick = (xff: string | undefined) => strategy.clientAddress(request('10.200.1.1', xff));
  assert.is(pick('198.51.100.7, 10.0.0.2, 10.0.0.3'), '198.51.100.7');
  assert.is(pick('198.51.100.7, 192.168.2.10, 10.0.0.3'), '192.168.2.10');
  assert.is(pick('198.51.100.7 , , 2001:db8::1'), '198.51.100.7');
  assert.is(pick('10.0.0.2, 10.0.0.3'), undefined);
  assert.is(pick(undefined), undefined);
  assert.is(pick(''), undefined);
  assert.is(pick('junk, 10.0.0.3'), 'junk');

  const internal = ipAllowList({ sourceRange: presets.local, ipStrategy: strategy });
  assert.not.ok(
    internal.allows(request('10.200.1.1', '127.0.0.1, 203.0.113.9, 10.0.0.3')),
    'a spoofed loopback behind the real client does not count',
  );
  assert.ok(internal.allows(request('10.200.1.1', '192.168.2.10, 10.0.0.3')));
  assert.not.ok(internal.allows(request('127.0.0.1')), 'no header: no client, even from loopback');
  assert.equal(internal.check(request('10.200.1.1', 'junk, 10.0.0.3')), {
    allowed: false,
    clientAddress: 'junk',
    reason: 'not an IP address',
  });

  // depth wins over excludedIPs.
  assert.is(
    clientAddress(request('x', '1.1.1.1, 10.0.0.3'), {
      depth: 1,
      excludedIPs: ['10.0.0.0/8'],
    }),
    '10.0.0.3',
  );
  // A ready set works as excludedIPs too.
  assert.is(
    clientAddress(request('x', '1.1.1.1, 10.0.0.3'), {
      excludedIPs: CidrSet.from(['10.0.0.0/8']),
    }),
    '1.1.1.1',
  );
});

test('an X-Forwarded-For entry with a port is checked without it, as Traefik does', () => {
  const internal = ipAllowList({ sourceRange: ['192.168.0.0/16'], ipStrategy: { depth: 1 } });
  assert.ok(internal.allows(request('10.200.1.1', '192.168.2.10:51234')));
  assert.ok(internal.allows(request('10.200.1.1', '[::ffff:192.168.2.10]:51234')));
  assert.not.ok(internal.allows(request('10.200.1.1', '192.168.2.10:51234:1')));
});

test('ipv6Subnet reduces IPv6 clients to their subnet, leaves IPv4 and mapped alone', () => {
  const remote = (address: string, bits: number) =>
    clientAddress(request(address), { ipv6Subnet: bits });
  assert.is(remote('2001:db8:1:2:3:4:5:6', 64), '2001:db8:1:2::');
  assert.is(remote('2001:db8:1:2:3:4:5:6', 48), '2001:db8:1::');
  assert.is(remote('2001:db8:1:2:3:4:5:6', 128), '2001:db8:1:2:3:4:5:6');
  assert.is(remote('2001:db8:1:2:3:4:5:6', 1), '::');
  assert.is(remote('fe80::1:2%eth0', 64), 'fe80::');
  assert.is(remote('192.168.2.10', 8), '192.168.2.10');
  assert.is(remote('::ffff:192.168.2.10', 64), '::ffff:192.168.2.10');
  assert.is(remote('not-an-ip', 64), 'not-an-ip');
  assert.is(
    clientAddress(request('x', '2001:db8::1:2, 10.0.0.1'), { depth: 2, ipv6Subnet: 64 }),
    '2001:db8::',
  );
  assert.is(
    clientAddress(request('x', '2001:db8::1:2, 10.0.0.1'), {
      excludedIPs: ['10.0.0.0/8'],
      ipv6Subnet: 64,
    }),
    '2001:db8::1:2',
    'not applied with excludedIPs, as in Traefik',
  );

  const list = ipAllowList({ sourceRange: ['2001:db8:1:2::/64'], ipStrategy: { ipv6Subnet: 64 } });
  assert.ok(list.allows(request('2001:db8:1:2:ffff::1')));
  assert.not.ok(list.allows(request('2001:db8:1:3::1')));
});

test('options out of range are refused with ERR_CIDR_OPTION', () => {
  for (const options of [
    { depth: -1 },
    { depth: 1.5 },
    { ipv6Subnet: 0 },
    { ipv6Subnet: 129 },
    { ipv6Subnet: 64.5 },
  ]) {
    try {
      new IpStrategy(options);
      assert.unreachable(JSON.stringify(options));
    } catch (error) {
      assert.instance(error, CidrError);
      assert.is((error as CidrError).code, 'ERR_CIDR_OPTION');
      assert.ok((error as CidrError).message.startsWith('configure ip strategy: '));
    }
  }
  assert.throws(
    () => ipAllowList({ sourceRange: ['10.0.0.1/8'] }),
    (e: CidrError) => e.code === 'ERR_CIDR_HOST_BITS',
  );
});

test('headers as a fetch Headers object or with several values', () => {
  const headers = new Headers();
  headers.append('X-Forwarded-For', '198.51.100.7');
  headers.append('X-Forwarded-For', '192.168.2.10');
  assert.is(clientAddress({ remoteAddress: '10.200.1.1', headers }, { depth: 1 }), '192.168.2.10');
  assert.is(clientAddress({ remoteAddress: '10.200.1.1', headers }, { depth: 2 }), '198.51.100.7');

  // Two header lines are read as one list, the later line to the right.
  const twoLines = request('10.200.1.1', ['127.0.0.1', '203.0.113.9']);
  assert.is(clientAddress(twoLines, { depth: 1 }), '203.0.113.9');
  assert.is(
    clientAddress({ remoteAddress: 'x', headers: { 'X-Forwarded-For': '1.2.3.4' } }, { depth: 1 }),
    '1.2.3.4',
  );
});

test.run();
