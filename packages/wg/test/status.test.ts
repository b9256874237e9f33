// `wg show IF dump` parsing and the text form of a status, on fixed text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { WgError } from '../src/errors.ts';
import { formatDuration, formatStatus, handshakeAge, parseDump } from '../src/status.ts';

/** A key-shaped value made of one repeated letter, easy to search for in output. */
const key = (letter: string) => `${letter.repeat(42)}A=`;

const privateKey = key('p');
const publicKey = key('q');
const peerOne = key('r');
const peerTwo = key('s');
const presharedKey = key('t');
const now = new Date('2024-05-01T12:00:00Z');
const tenSecondsAgo = now.getTime() / 1000 - 10;

const dump = [
  [privateKey, publicKey, '51820', '0xca6c'].join('\t'),
  [
    peerOne,
    presharedKey,
    '198.18.0.2:51820',
    '10.77.0.2/32,fd00:77::2/128',
    String(tenSecondsAgo),
    '1532',
    '2964',
    '25',
  ].join('\t'),
  [peerTwo, '(none)', '(none)', '(none)', '0', '0', '0', 'off'].join('\t'),
  '',
].join('\n');

test('parseDump reads the interface line and drops the private key', () => {
  const status = parseDump(dump, { interfaceName: 'wg0', now });

  assert.is(status.interfaceName, 'wg0');
  assert.is(status.publicKey, publicKey);
  assert.is(status.hasPrivateKey, true);
  assert.is(status.listenPort, 51820);
  assert.is(status.fwMark, 0xca6c);
  assert.not.ok(JSON.stringify(status).includes(privateKey));
  assert.not.ok(JSON.stringify(status).includes(presharedKey));
});

test('parseDump reads a peer with handshake, counters, keepalive and preshared key', () => {
  const [peer] = parseDump(dump, { interfaceName: 'wg0', now }).peers;

  assert.equal(peer, {
    publicKey: peerOne,
    hasPresharedKey: true,
    endpoint: '198.18.0.2:51820',
    allowedIps: ['10.77.0.2/32', 'fd00:77::2/128'],
    latestHandshake: new Date(tenSecondsAgo * 1000),
    handshakeAgeSeconds: 10,
    rxBytes: 1532,
    txBytes: 2964,
    persistentKeepalive: 25,
  });
});

test('parseDump reads (none), off and a zero handshake as absent', () => {
  const peer = parseDump(dump, { now }).peers[1];

  assert.is(peer.hasPresharedKey, false);
  assert.is(peer.endpoint, undefined);
  assert.equal(peer.allowedIps, []);
  assert.is(peer.latestHandshake, undefined);
  assert.is(peer.handshakeAgeSeconds, undefined);
  assert.is(peer.persistentKeepalive, 0);
});

test('parseDump reads an interface without keys, port or fwmark, and without peers', () => {
  const status = parseDump('(none)\t(none)\t0\toff\n', { interfaceName: 'wg1' });

  assert.equal(status, {
    interfaceName: 'wg1',
    publicKey: undefined,
    hasPrivateKey: false,
    listenPort: 0,
    fwMark: 0,
    peers: [],
  });
});

test('parseDump keeps an IPv6 endpoint in brackets', () => {
  const text =
    `${privateKey}\t${publicKey}\t51820\toff\n` +
    `${peerOne}\t(none)\t[fd00:198:18::2]:51820\t::/0\t0\t0\t0\toff\n`;
  const [peer] = parseDump(text).peers;

  assert.is(peer.endpoint, '[fd00:198:18::2]:51820');
  assert.equal(peer.allowedIps, ['::/0']);
});

test('parseDump refuses malformed output without quoting it', () => {
  const cases = [
    '',
    `${privateKey}\t${publicKey}\t51820\n`,
    `${privateKey}\t${publicKey}\tport\toff\n`,
    `${privateKey}\t${publicKey}\t51820\toff\n${peerOne}\t(none)\n`,
    `${privateKey}\t${publicKey}\t51820\toff\n${peerOne}\t(none)\t(none)\t(none)\tx\t0\t0\toff\n`,
    `${privateKey}\t${publicKey}\t51820\tmark\n`,
  ];

  for (const text of cases) {
    try {
      parseDump(text, { interfaceName: 'wg0' });
      assert.unreachable(`accepted ${JSON.stringify(text.slice(50))}`);
    } catch (error) {
      assert.instance(error, WgError);
      assert.is((error as WgError).op, 'parseDump');
      assert.not.ok((error as Error).message.includes(privateKey));
      assert.match((error as Error).message, /^wg: cannot parse `wg show wg0 dump` line \d/);
    }
  }
});

test('formatStatus shows public keys, age and transfer, never a private or preshared key', () => {
  const text = formatStatus(parseDump(dump, { interfaceName: 'wg0', now }), { now });

  assert.ok(text.startsWith('interface: wg0\n'));
  assert.ok(text.includes(`  public key: ${publicKey}\n`));
  assert.ok(text.includes('  private key: (hidden)\n'));
  assert.ok(text.includes('  fwmark: 0xca6c\n'));
  assert.ok(text.includes(`peer: ${peerOne}\n`));
  assert.ok(text.includes('  preshared key: (hidden)\n'));
  assert.ok(text.includes('  latest handshake: 10 seconds ago\n'));
  assert.ok(text.includes('  transfer: 1.50 KiB received, 2.89 KiB sent\n'));
  assert.ok(text.includes('  persistent keepalive: every 25 seconds\n'));
  assert.ok(text.includes(`peer: ${peerTwo}\n  allowed ips: (none)\n`));
  assert.not.ok(text.includes(privateKey));
  assert.not.ok(text.includes(presharedKey));
});

test('handshakeAge and formatDuration', () => {
  assert.is(handshakeAge(undefined, now), undefined);
  assert.is(handshakeAge(new Date(now.getTime() - 61_500), now), 61);
  assert.is(handshakeAge(new Date(now.getTime() + 5000), now), 0);
  assert.is(formatDuration(0), '0 seconds');
  assert.is(formatDuration(1), '1 second');
  assert.is(formatDuration(3725), '1 hour, 2 minutes, 5 seconds');
  assert.is(formatDuration(90000), '1 day, 1 hour');
});

test.run();
