// Message encoding and argument checks: no kernel, no root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetnsError } from '../src/errors.ts';
import {
  encodeAddress,
  encodeLinkInfo,
  encodeRoute,
  encodeRule,
  encodeVethPeer,
} from '../src/codec.ts';
import { decodeRouteMessage } from '../src/decode.ts';
import { netlink, parseErrorMessage, rt } from '../src/rtnetlink.ts';
import { sysctlPath } from '../src/handle.ts';
import {
  checkLinkName,
  checkNamespaceName,
  formatAddress,
  parseAddress,
  parsePrefix,
} from '../src/validate.ts';

function refused(fn: () => unknown, pattern: RegExp) {
  try {
    fn();
  } catch (error) {
    assert.instance(error, NetnsError);
    assert.is((error as NetnsError).code, 'EINVAL');
    assert.match((error as NetnsError).message, pattern);
    return;
  }
  assert.unreachable('expected a NetnsError');
}

test('interface names: 15 bytes at most, no slash, colon or space', () => {
  checkLinkName('veth-host', 'x');
  checkLinkName('a'.repeat(15), 'x');
  refused(
    () => checkLinkName('a'.repeat(16), 'link add'),
    /link add a{16} failed: an interface name has at most 15 bytes/,
  );
  refused(() => checkLinkName('a/b', 'x'), /cannot/);
  refused(() => checkLinkName('a:b', 'x'), /cannot/);
  refused(() => checkLinkName('a b', 'x'), /cannot/);
  refused(() => checkLinkName('', 'x'), /empty/);
  refused(() => checkLinkName('..', 'x'), /cannot/);
});

test('namespace names: no slash, not . or ..', () => {
  checkNamespaceName('media-vault', 'x');
  refused(() => checkNamespaceName('a/b', 'netns add'), /netns add a\/b failed/);
  refused(() => checkNamespaceName('..', 'x'), /cannot/);
  refused(() => checkNamespaceName('', 'x'), /empty/);
});

test('addresses: strict parsing and canonical printing', () => {
  assert.is(parseAddress('10.200.1.2', 'x').bytes.toString('hex'), '0ac80102');
  assert.is(parseAddress('fe80::1', 'x').text, 'fe80::1');
  assert.is(parseAddress('2001:DB8:0:0:1:0:0:1', 'x').text, '2001:db8::1:0:0:1');
  assert.is(
    parseAddress('::ffff:1.2.3.4', 'x').bytes.toString('hex'),
    '00000000000000000000ffff01020304',
  );
  assert.is(formatAddress(Buffer.alloc(16)), '::');
  assert.is(formatAddress(Buffer.from('20010db8000000000000000000000001', 'hex')), '2001:db8::1');
  for (const bad of ['010.0.0.1', '1.2.3', '1.2.3.256', ' 1.2.3.4', 'fe80::1%eth0', 'x', '']) {
    refused(() => parseAddress(bad, 'addr add'), /expected an IPv4 or IPv6 address/);
  }
});

test('prefixes: lengths in range, host bits refused where a network is needed', () => {
  assert.equal(parsePrefix('10.200.1.1/30', 'x').length, 30);
  assert.equal(parsePrefix('fd00::/8', 'x').length, 8);
  assert.equal(parsePrefix('10.0.0.1', 'x').length, 32);
  assert.equal(parsePrefix('default', 'x', { defaultFamily: 6 }).family, 6);
  refused(() => parsePrefix('10.0.0.0/33', 'x'), /0 to 32/);
  refused(() => parsePrefix('10.0.0.0/08', 'x'), /0 to 32/);
  refused(() => parsePrefix('::/129', 'x'), /0 to 128/);
  refused(
    () => parsePrefix('10.0.0.1/8', 'route add', { requireNetwork: true }),
    /route add 10.0.0.1\/8 failed: host bits are set beyond \/8/,
  );
});

test('route encoding: a default route pinned to a device is link-scoped, no gateway', () => {
  const { data, attrs } = encodeRoute(
    { destination: 'default', device: 'privado' },
    7,
    'route add',
  );
  assert.is(data.family, 2);
  assert.is(data.dstLen, 0);
  assert.is(data.scope, 253);
  assert.is(data.type, 1);
  assert.is(attrs.oif, 7);
  assert.is(attrs.dst, undefined);
  assert.is(attrs.table, 254);
});

test('route encoding: unreachable IPv6 default with a metric in a high table', () => {
  const { data, attrs } = encodeRoute(
    { destination: 'default', family: 6, type: 'unreachable', metric: 4242, table: 51820 },
    undefined,
    'route add',
  );
  assert.is(data.family, 10);
  assert.is(data.type, 7);
  assert.is(data.table, 0, 'tables above 255 travel in RTA_TABLE only');
  assert.is(attrs.table, 51820);
  assert.is(attrs.priority, 4242);
  assert.is(data.scope, 0);
});

test('route encoding: refuses a gateway of the wrong family, bad types and tables', () => {
  refused(
    () => encodeRoute({ destination: '10.0.0.0/8', gateway: 'fe80::1' }, 1, 'route add'),
    /gateway must be of the destination's family/,
  );
  refused(
    () => encodeRoute({ destination: '10.0.0.0/8', type: 'nope' as never }, 1, 'route add'),
    /a route type is one of/,
  );
  refused(() => encodeRoute({ destination: '10.0.0.0/8', table: 0 }, 1, 'route add'), /table 0/);
  refused(() => encodeRoute({ destination: '10.0.0.0/8', metric: -1 }, 1, 'route add'), /metric/);
  refused(
    () => encodeRoute({ destination: '::/0', family: 4 }, 1, 'route add'),
    /IPv4 destination/,
  );
});

test('route decoding round-trips through node-netlink', () => {
  const { data, attrs } = encodeRoute(
    { destination: '198.18.0.0/15', gateway: '10.200.1.1', metric: 10, table: 100 },
    3,
    'route add',
  );
  const stream = new netlink.AttrStream();
  rt.formatRouteMessage({ kind: 'route', data, attrs } as never, stream as never);
  const decoded = decodeRouteMessage(Buffer.concat(stream.bufs as Uint8Array[]));
  assert.equal(decoded, {
    family: 4,
    type: 'unicast',
    destination: '198.18.0.0/15',
    table: 100,
    metric: 10,
    scope: 'global',
    protocol: 3,
    deviceIndex: 3,
    gateway: '10.200.1.1',
  });
});

test('address encoding: local and peer, IPv6 without duplicate detection', () => {
  const plain = encodeAddress(4, '10.200.1.1/30', 'addr add');
  assert.is(plain.data.prefixlen, 30);
  assert.is((plain.attrs.local as Buffer).toString('hex'), '0ac80101');
  const v6 = encodeAddress(4, 'fd00::1/64', 'addr add', { noDad: true });
  assert.equal(v6.data.flags, { nodad: true });
  const p2p = encodeAddress(4, '10.0.0.1/32', 'addr add', { peer: '10.0.0.2' });
  assert.is((p2p.attrs.address as Buffer).toString('hex'), '0a000002');
  refused(() => encodeAddress(4, '10.0.0.1/32', 'addr add', { peer: 'fe80::1' }), /same family/);
});

test('veth peer: IFLA_INFO_DATA carries VETH_INFO_PEER with the name and target namespace', () => {
  const peer = encodeVethPeer('veth-vault', 42);
  assert.is(peer.readUInt16LE(2), 1, 'VETH_INFO_PEER');
  assert.ok(peer.includes(Buffer.from('veth-vault\0')));
  const info = encodeLinkInfo('veth', peer);
  assert.ok(info.includes(Buffer.from('veth\0')));
  assert.ok(info.includes(peer));
});

test('rules: fwmark with full mask, inverted, suppress_prefixlength as an extra attribute', () => {
  const { data, attrs, extra } = encodeRule(
    { family: 4, fwmark: 0xca6c, table: 51820, invert: true, priority: 100 },
    'rule add',
  );
  assert.equal(data.flags, { invert: true });
  assert.is(attrs.fwmark, 0xca6c);
  assert.is(attrs.fwmask, 0xffffffff);
  assert.is(attrs.table, 51820);
  const suppress = encodeRule({ family: 6, table: 'main', suppressPrefixLength: 0 }, 'rule add');
  assert.is(suppress.extra.length, 1);
  assert.is(suppress.extra[0].readUInt16LE(2), 14);
  assert.is(extra.length, 0);
  refused(() => encodeRule({ family: 4, from: '10.0.0.0/8', to: 'fd00::/8' }, 'rule add'), /IPv4/);
});

test('NLMSG_ERROR payload: errno and the extended ack text', () => {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16, 0);
  const text = Buffer.from('Nexthop has invalid gateway\0');
  const tlv = Buffer.alloc(4 + ((text.length + 3) & ~3));
  tlv.writeUInt16LE(4 + text.length, 0);
  tlv.writeUInt16LE(1, 2);
  text.copy(tlv, 4);
  const errno = Buffer.alloc(4);
  errno.writeInt32LE(-101, 0);
  const parsed = parseErrorMessage(Buffer.concat([errno, header, tlv]), 0x100 | 0x200);
  assert.equal(parsed, { errno: 101, extack: 'Nexthop has invalid gateway' });
  assert.equal(parseErrorMessage(Buffer.concat([Buffer.alloc(4), header]), 0x100), {
    errno: 0,
    extack: undefined,
  });
});

test('errors carry op, object, errno and code, and say not-found/exists without strings', () => {
  const missing = new NetnsError({ op: 'link show', object: 'privado in media-vault', errno: 19 });
  assert.is(missing.code, 'ENODEV');
  assert.ok(missing.isNotFound());
  assert.not.ok(missing.isExists());
  assert.is(missing.message, 'netns: link show privado in media-vault failed: ENODEV (errno 19)');
  const exists = new NetnsError({ op: 'netns add', object: 'x', errno: 17, extack: 'File exists' });
  assert.ok(exists.isExists());
  assert.match(exists.message, /EEXIST \(errno 17\): File exists/);
});

test('sysctl keys: only per-namespace net.* keys, dotted or slashed', () => {
  assert.is(sysctlPath('net.ipv4.ip_forward', 'x'), '/proc/sys/net/ipv4/ip_forward');
  assert.is(
    sysctlPath('net/ipv4/conf/eth0.1/arp_ignore', 'x'),
    '/proc/sys/net/ipv4/conf/eth0.1/arp_ignore',
  );
  refused(() => sysctlPath('kernel.hostname', 'sysctl set'), /per-namespace key under net\./);
  refused(() => sysctlPath('net.ipv4..x', 'x'), /non-empty/);
  refused(() => sysctlPath('net/ipv4/../../kernel', 'x'), /non-empty/);
});

test.run();
