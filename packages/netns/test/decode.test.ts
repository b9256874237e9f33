// The fast decoders of src/decode.ts against node-netlink's parser (test/decode-oracle.ts):
// on messages encoded here with every attribute set, and, as root, on real kernel dumps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAddressMessage, decodeLinkMessage, decodeRouteMessage } from '../src/decode.ts';
import { NLM_F, RTM, RtSocket, netlink, rt, streamBytes, ifla } from '../src/rtnetlink.ts';
import { privilegedTest, withTestNamespaces } from '../src/testing.ts';
import { oracleAddress, oracleLink, oracleRoute } from './decode-oracle.ts';

function encoded(kind: 'link' | 'address' | 'route', data: object, attrs: object): Buffer {
  const stream = new netlink.AttrStream();
  const format = {
    link: rt.formatLinkMessage,
    address: rt.formatAddressMessage,
    route: rt.formatRouteMessage,
  }[kind];
  format({ kind, data, attrs } as never, stream as never);
  return Buffer.concat(stream.bufs as Uint8Array[]);
}

const types = { link: RTM.NEWLINK, address: RTM.NEWADDR, route: RTM.NEWROUTE };

function same(kind: 'link' | 'address' | 'route', bytes: Buffer): any {
  const parsed = rt.parseMessage(types[kind], bytes);
  const [fast, slow] =
    kind === 'link'
      ? [decodeLinkMessage(bytes), oracleLink(parsed)]
      : kind === 'address'
        ? [decodeAddressMessage(bytes), oracleAddress(parsed)]
        : [decodeRouteMessage(bytes), oracleRoute(parsed)];
  assert.equal(fast, slow);
  return fast;
}

test('links: name, MTU, flags, operstate, alias, MAC, peer, master, netnsid, kind', () => {
  const linkinfo = streamBytes(ifla.formatInfo({ kind: 'veth' }));
  const link = same(
    'link',
    encoded(
      'link',
      { index: 7, flags: { up: true, lowerUp: true } },
      {
        ifname: 'veth-host',
        mtu: 1420,
        operstate: 6,
        ifalias: 'netvault:media-vault',
        address: Buffer.from('02aabbccddee', 'hex'),
        link: Buffer.from([3, 0, 0, 0]),
        master: 2,
        linkNetnsid: 1,
        linkinfo,
      },
    ),
  );
  assert.equal(link, {
    index: 7,
    name: 'veth-host',
    mtu: 1420,
    up: true,
    lowerUp: true,
    operState: 'up',
    kind: 'veth',
    alias: 'netvault:media-vault',
    mac: '02:aa:bb:cc:dd:ee',
    peerIndex: 3,
    peerNamespaceId: 1,
    masterIndex: 2,
  });
  same('link', encoded('link', { index: 1 }, { ifname: 'lo', mtu: 65536 }));
});

test('addresses: IPv4 with a peer and label, IPv6 with extended flags', () => {
  const v4 = same(
    'address',
    encoded(
      'address',
      { family: 2, prefixlen: 32, index: 4, scope: 0 },
      {
        local: Buffer.from([10, 64, 0, 2]),
        address: Buffer.from([10, 64, 0, 1]),
        label: 'privado',
      },
    ),
  );
  assert.equal([v4?.cidr, v4?.peer, v4?.label], ['10.64.0.2/32', '10.64.0.1', 'privado']);
  const v6 = same(
    'address',
    encoded(
      'address',
      { family: 10, prefixlen: 64, index: 4, scope: 253 },
      {
        address: Buffer.from('fe800000000000000000000000000001', 'hex'),
        flags: { permanent: true, nodad: true },
      },
    ),
  );
  assert.equal([v6?.cidr, v6?.scope, v6?.flags], ['fe80::1/64', 'link', ['nodad', 'permanent']]);
});

test('routes: default, unreachable, via a gateway, table above 255, source', () => {
  same(
    'route',
    encoded(
      'route',
      { family: 2, dstLen: 0, table: 254, protocol: 3, scope: 253, type: 1 },
      { oif: 5 },
    ),
  );
  same(
    'route',
    encoded(
      'route',
      { family: 10, dstLen: 0, table: 254, protocol: 3, scope: 0, type: 7 },
      { priority: 4242 },
    ),
  );
  const via = same(
    'route',
    encoded(
      'route',
      { family: 2, dstLen: 15, table: 0, protocol: 4, scope: 0, type: 1 },
      {
        dst: Buffer.from([198, 18, 0, 0]),
        gateway: Buffer.from([10, 200, 1, 1]),
        table: 51820,
        prefsrc: Buffer.from([10, 200, 1, 2]),
        priority: 10,
        oif: 3,
      },
    ),
  );
  assert.equal(via, {
    family: 4,
    type: 'unicast',
    destination: '198.18.0.0/15',
    table: 51820,
    metric: 10,
    scope: 'global',
    protocol: 4,
    deviceIndex: 3,
    gateway: '10.200.1.1',
    source: '10.200.1.2',
  });
});

test('truncated or foreign messages decode to undefined instead of throwing', () => {
  assert.is(decodeLinkMessage(Buffer.alloc(3)), undefined);
  assert.is(decodeAddressMessage(Buffer.from([99, 0, 0, 0, 0, 0, 0, 0])), undefined);
  assert.is(decodeRouteMessage(Buffer.alloc(11)), undefined);
  const cut = encoded('link', { index: 2 }, { ifname: 'veth0', mtu: 1500 });
  assert.ok(decodeLinkMessage(cut.subarray(0, cut.length - 3)));
});

privilegedTest(test, 'kernel dump decoding test')(
  'real kernel dumps decode exactly as node-netlink decodes them',
  async () => {
    await withTestNamespaces(['dump'], async ({ handle }) => {
      for (let i = 0; i < 5; i += 1) {
        await handle.vethAdd({ name: `da${i}`, peerName: `db${i}` });
        await handle.addrAdd(`da${i}`, `198.18.${i}.1/24`);
        await handle.addrAdd(`da${i}`, `fd00:198:18:${i}::1/64`);
        await handle.linkSetAlias(`da${i}`, `alias ${i}`);
        await handle.linkSetUp(`da${i}`);
        await handle.linkSetUp(`db${i}`);
      }
      await handle.routeAdd({ destination: 'default', type: 'unreachable', metric: 4242 });
      await handle.routeAdd({
        destination: '198.18.64.0/24',
        gateway: '198.18.0.254',
        table: 51820,
      });
      const socket = handle.run(() => new RtSocket());
      try {
        const dump = async (type: number, kind: 'link' | 'address' | 'route', data: object) => {
          const stream = new netlink.AttrStream();
          const format = {
            link: rt.formatLinkMessage,
            address: rt.formatAddressMessage,
            route: rt.formatRouteMessage,
          }[kind];
          format({ kind, data, attrs: {} } as never, stream as never);
          const messages = await socket.request(type, stream.bufs as Uint8Array[], NLM_F.DUMP, {
            op: 'dump',
          });
          for (const message of messages) same(kind, message.data);
          return messages.length;
        };
        assert.ok((await dump(RTM.GETLINK, 'link', {})) >= 11);
        assert.ok((await dump(RTM.GETADDR, 'address', {})) >= 10);
        assert.ok((await dump(RTM.GETROUTE, 'route', {})) >= 10);
      } finally {
        socket.close();
      }
    });
  },
);

test.run();
