// parseConfig, formatConfig and stripWgQuickKeys on hand-written inputs: the forms providers and
// people write, and every kind of error with its line, key and expected text. No root needed.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { formatConfig, parseConfig, stripWgQuickKeys } from '../src/config.js';
import type { WgQuickConfig } from '../src/config-types.js';
import { WgConfigError, WgError } from '../src/errors.js';
import { generateKeyPair, generatePresharedKey, generatePrivateKey } from '../src/keys.js';

const own = generateKeyPair();
const peerA = generateKeyPair().publicKey;
const peerB = generateKeyPair().publicKey;
const psk = generatePresharedKey();

/** Parses `text` expecting a WgConfigError and returns it. */
function parseError(text: string, source?: string): WgConfigError {
  try {
    parseConfig(text, { source });
  } catch (error) {
    assert.instance(error, WgConfigError);
    return error as WgConfigError;
  }
  throw new assert.Assertion({ message: `parsed without error:\n${text}` } as never);
}

function expectError(text: string, line: number, key: string | undefined, expected: RegExp) {
  const error = parseError(text);
  assert.is(error.line, line, `line of: ${error.message}`);
  assert.is(error.key, key, `key of: ${error.message}`);
  assert.match(error.expected, expected);
  return error;
}

// ---------------------------------------------------------------------------------------------
// What parses

test('a provider file: every [Interface] and [Peer] key, comments and blank lines', () => {
  const text = [
    '# Generated for nixhome',
    '[Interface]',
    `PrivateKey = ${own.privateKey}`,
    'ListenPort = 51820',
    'FwMark = 0xca6c',
    'Address = 10.34.0.7/32, fd7d:76ee:e68f:a993::7/128',
    'DNS = 198.18.0.53, vault.lan',
    'MTU = 1412',
    'Table = off',
    'SaveConfig = false',
    'PreUp = echo pre-up %i',
    'PostUp = echo post-up',
    'PreDown = echo pre-down',
    'PostDown = echo post-down',
    '',
    '[Peer]',
    '# exit in Amsterdam',
    `PublicKey = ${peerA}`,
    `PresharedKey = ${psk}`,
    'AllowedIPs = 0.0.0.0/0, ::/0',
    'Endpoint = 198.18.10.20:51820',
    'PersistentKeepalive = 25',
    '',
  ].join('\n');

  const config = parseConfig(text);

  assert.equal(config, {
    interface: {
      privateKey: own.privateKey,
      listenPort: 51820,
      fwMark: 0xca6c,
      addresses: ['10.34.0.7/32', 'fd7d:76ee:e68f:a993::7/128'],
      dns: ['198.18.0.53', 'vault.lan'],
      mtu: 1412,
      table: 'off',
      saveConfig: false,
      preUp: ['echo pre-up %i'],
      postUp: ['echo post-up'],
      preDown: ['echo pre-down'],
      postDown: ['echo post-down'],
    },
    peers: [
      {
        publicKey: peerA,
        presharedKey: psk,
        allowedIps: ['0.0.0.0/0', '::/0'],
        endpoint: '198.18.10.20:51820',
        persistentKeepalive: 25,
      },
    ],
  } satisfies WgQuickConfig);
});

test('CRLF, keys and headers in any case, = without spaces, tabs, comments after values', () => {
  const text =
    '\t[INTERFACE]  # ours\r\n' +
    `privatekey=${own.privateKey}\t \r\n` +
    'LISTENPORT\t=\t0 # random\r\n' +
    '[peer]\r\n' +
    `publickey=${peerA}\r\n` +
    'allowedIPs= 10.0.0.0/8 ,fd00::/8 # two\r\n' +
    'EndPoint=[::1]:51820\r\n';

  const config = parseConfig(text);

  assert.is(config.interface.privateKey, own.privateKey);
  assert.is(config.interface.listenPort, 0);
  assert.is(config.peers[0].publicKey, peerA);
  assert.equal(config.peers[0].allowedIps, ['10.0.0.0/8', 'fd00::/8']);
  assert.is(config.peers[0].endpoint, '[::1]:51820');
});

test('repeated list keys and hooks add up in file order', () => {
  const config = parseConfig(
    [
      '[Interface]',
      'Address = 10.0.0.2/32',
      'PostUp = first',
      'Address = fd00::2/128',
      'DNS = 10.0.0.1',
      'PostUp = second',
      'DNS = fd00::1, lan',
      '[Peer]',
      `PublicKey = ${peerA}`,
      'AllowedIPs = 0.0.0.0/0',
      'AllowedIPs = ::/0',
    ].join('\n'),
  );

  assert.equal(config.interface.addresses, ['10.0.0.2/32', 'fd00::2/128']);
  assert.equal(config.interface.dns, ['10.0.0.1', 'fd00::1', 'lan']);
  assert.equal(config.interface.postUp, ['first', 'second']);
  assert.equal(config.peers[0].allowedIps, ['0.0.0.0/0', '::/0']);
});

test('several peers, each with its own keys; a file of peers only', () => {
  const config = parseConfig(
    [
      '[Peer]',
      `PublicKey = ${peerA}`,
      'AllowedIPs = 10.0.0.2/32',
      '[Peer]',
      `PublicKey = ${peerB}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 10.0.0.3/32',
    ].join('\n'),
  );

  assert.is(config.interface.privateKey, undefined);
  assert.equal(
    config.peers.map((peer) => [peer.publicKey, peer.presharedKey, peer.allowedIps]),
    [
      [peerA, undefined, ['10.0.0.2/32']],
      [peerB, psk, ['10.0.0.3/32']],
    ],
  );
});

test('AllowedIPs are stored the way wg prints them: host bits cleared, lengths added', () => {
  const config = parseConfig(
    [
      '[Peer]',
      `PublicKey = ${peerA}`,
      'AllowedIPs = 10.1.2.3/8, 10.0.0.5/24, 198.18.4.4, 10.9.9.9/08',
      'AllowedIPs = 2001:DB8:0:0::5/64, 2001:db8::1, ::ffff:198.18.4.4, ::FFFF:C612:404/128',
      'AllowedIPs = 0.0.0.0/0, ::/0, ::0/0, 2001:db8:0:0:8001:2:3:4/65',
    ].join('\n'),
  );

  assert.equal(config.peers[0].allowedIps, [
    '10.0.0.0/8',
    '10.0.0.0/24',
    '198.18.4.4/32',
    '10.0.0.0/8',
    '2001:db8::/64',
    '2001:db8::1/128',
    '::ffff:198.18.4.4/128',
    '::ffff:198.18.4.4/128',
    '0.0.0.0/0',
    '::/0',
    '::/0',
    '2001:db8:0:0:8000::/65',
  ]);
});

test('numbers take the forms wg takes: FwMark off/hex/decimal, keepalive off, port 0', () => {
  const parse = (iface: string, peer = '') =>
    parseConfig(`[Interface]\n${iface}\n[Peer]\nPublicKey = ${peerA}\n${peer}\n`);

  assert.is(parse('FwMark = off').interface.fwMark, 0);
  assert.is(parse('FwMark = OFF').interface.fwMark, 0);
  assert.is(parse('FwMark = 0xCa6C').interface.fwMark, 0xca6c);
  assert.is(parse('FwMark = 010').interface.fwMark, 10);
  assert.is(parse('FwMark = 0xffffffff').interface.fwMark, 0xffffffff);
  assert.is(parse('FwMark = 4294967295').interface.fwMark, 4294967295);
  assert.is(parse('ListenPort = 0').interface.listenPort, 0);
  assert.is(parse('ListenPort = 65535').interface.listenPort, 65535);
  assert.is(parse('', 'PersistentKeepalive = off').peers[0].persistentKeepalive, 0);
  assert.is(parse('', 'PersistentKeepalive = 0').peers[0].persistentKeepalive, 0);
  assert.is(parse('', 'PersistentKeepalive = 65535').peers[0].persistentKeepalive, 65535);
});

test('endpoints: IPv4, bracketed IPv6, host names; kept as written', () => {
  for (const endpoint of [
    '198.18.0.1:51820',
    '127.0.0.1:1',
    '[::1]:65535',
    '[2001:db8::1]:51820',
    '[::ffff:198.18.0.1]:443',
    'localhost:51820',
    'nl-ams-012.vpn.example:1637',
    'vpn.example.:51820',
    'x--y.example:51820',
  ]) {
    const config = parseConfig(`[Peer]\nPublicKey = ${peerA}\nEndpoint = ${endpoint}`);
    assert.is(config.peers[0].endpoint, endpoint);
  }
});

test('wg-quick values: Table names and numbers, SaveConfig in any case, DNS search domains', () => {
  const parse = (line: string) => parseConfig(`[Interface]\n${line}`).interface;

  assert.is(parse('Table = auto').table, 'auto');
  assert.is(parse('Table = 1234').table, '1234');
  assert.is(parse('Table = vpn_out').table, 'vpn_out');
  assert.is(parse('SaveConfig = True').saveConfig, true);
  assert.is(parse('SaveConfig = FALSE').saveConfig, false);
  assert.equal(parse('DNS = 1.1.1.1, 2606:4700:4700::1111, home.arpa').dns, [
    '1.1.1.1',
    '2606:4700:4700::1111',
    'home.arpa',
  ]);
  assert.equal(parse('Address = 10.14.0.2/16, 10.14.0.3, fd00::3').addresses, [
    '10.14.0.2/16',
    '10.14.0.3',
    'fd00::3',
  ]);
});

test('hooks are kept as text and never run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nv-config-'));
  try {
    const marker = join(dir, 'ran');
    const config = parseConfig(
      `[Interface]\nPreUp = touch ${marker}\nPostUp = touch ${marker}; echo a=b\n`,
    );

    assert.equal(config.interface.preUp, [`touch ${marker}`]);
    assert.equal(config.interface.postUp, [`touch ${marker}; echo a=b`]);
    assert.not.ok(existsSync(marker));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('empty text, comments only and an empty [Interface] parse to an empty config', () => {
  const empty = { interface: parseConfig('').interface, peers: [] };
  assert.equal(parseConfig(''), empty);
  assert.equal(parseConfig('# nothing\n\n  \t\n'), empty);
  assert.equal(parseConfig('[Interface]\n'), empty);
});

// ---------------------------------------------------------------------------------------------
// Errors: line, key, expected

test('the message names the file, line and key and says what was expected', () => {
  const text =
    `[Interface]\nPrivateKey = ${own.privateKey}\n\n[Peer]\nPublicKey = ${peerA}\n` +
    'Endpoint = vpn.example.com\n';

  const error = parseError(text, '/etc/wireguard/privado.conf');

  assert.instance(error, WgError);
  assert.is(error.name, 'WgConfigError');
  assert.is(error.op, 'parseConfig');
  assert.is(error.source, '/etc/wireguard/privado.conf');
  assert.is(error.line, 6);
  assert.is(error.key, 'Endpoint');
  assert.is(error.expected, 'host:port or [v6]:port with a port 1-65535');
  assert.is(
    error.message,
    'wg config /etc/wireguard/privado.conf:6: Endpoint: expected host:port or [v6]:port ' +
      'with a port 1-65535, got "vpn.example.com"',
  );
});

test('without a source the message says "line N"', () => {
  const error = parseError('[Interface]\nMTU = 1\n');
  assert.is(error.source, undefined);
  assert.is(error.message, 'wg config line 2: MTU: expected a number 68-65535, got "1"');
});

test('structure errors: keys outside a section, unknown sections, keys and lines', () => {
  expectError('ListenPort = 1\n', 1, 'ListenPort', /before the first key/);
  expectError('# c\n\n[Interface]\n[Peers]\n', 4, undefined, /\[Interface\] or \[Peer\]/);
  expectError('[Interface\n', 1, undefined, /\[Interface\] or \[Peer\]/);
  expectError('[Interface] x\n', 1, undefined, /\[Interface\] or \[Peer\]/);
  expectError('[Interface]\nListenPort 51820\n', 2, undefined, /Key = value/);
  expectError('[Interface]\nFoo = 1\n', 2, 'Foo', /a key of \[Interface\]: PrivateKey, /);
  expectError('[Interface]\nPrivate Key = x\n', 2, 'Private Key', /a key of \[Interface\]/);
  expectError(`[Interface]\nPublicKey = ${peerA}\n`, 2, 'PublicKey', /a key of \[Interface\]/);
  expectError('[Peer]\nAddress = 10.0.0.2/32\n', 2, 'Address', /a key of \[Peer\]: PublicKey/);
  expectError('[Peer]\nListenPort = 1\n', 2, 'ListenPort', /a key of \[Peer\]/);
  expectError('[Interface]\nListenPort =\n', 2, 'ListenPort', /^a value$/);
  expectError('[Interface]\nDNS = # later\n', 2, 'DNS', /^a value$/);
  expectError('\uFEFF[Interface]\n', 1, undefined, /byte-order mark/);
});

test('duplicates that cannot repeat: keys, [Interface], the same peer twice', () => {
  const error = expectError(
    '[Interface]\nListenPort = 1\nMTU = 1420\nlistenport = 2\n',
    4,
    'listenport',
    /^ListenPort once per \[Interface\]$/,
  );
  assert.match(error.message, 'already set on line 2');

  expectError(
    `[Interface]\nPrivateKey = ${own.privateKey}\nPrivateKey = ${generatePrivateKey()}\n`,
    3,
    'PrivateKey',
    /PrivateKey once/,
  );
  expectError('[Interface]\nTable = off\nTable = auto\n', 3, 'Table', /Table once/);
  expectError('[Interface]\n[Peer]\n[Interface]\n', 3, undefined, /one \[Interface\]/);
  expectError(
    `[Peer]\nPublicKey = ${peerA}\nEndpoint = 198.18.0.1:1\nEndpoint = 198.18.0.1:2\n`,
    4,
    'Endpoint',
    /Endpoint once per \[Peer\]/,
  );
  expectError(
    `[Peer]\nPublicKey = ${peerA}\n[Peer]\nPublicKey = ${peerB}\n[Peer]\nPublicKey = ${peerA}\n`,
    6,
    'PublicKey',
    /no other \[Peer\]/,
  );
});

test('a [Peer] without PublicKey is reported at its header', () => {
  const error = expectError(
    `[Peer]\nPublicKey = ${peerA}\n\n[Peer]\nAllowedIPs = 0.0.0.0/0\n`,
    4,
    undefined,
    /a PublicKey in every \[Peer\]/,
  );
  assert.match(error.message, /^wg config line 4: expected/);
});

test('keys: base64 of exactly 32 bytes, canonical, standard alphabet', () => {
  const bad = [
    own.privateKey.slice(0, -1),
    `${own.privateKey}=`,
    `A${own.privateKey}`,
    `${own.privateKey.slice(0, 42)}B=`,
    `${own.privateKey.slice(0, 10)}-${own.privateKey.slice(11)}`,
    `${own.privateKey.slice(0, 10)}_${own.privateKey.slice(11)}`,
    `${own.privateKey.slice(0, 20)} ${own.privateKey.slice(20)}`,
    'Zm9vYmFy',
  ];
  for (const key of bad) {
    for (const [section, name] of [
      ['Interface', 'PrivateKey'],
      ['Peer', 'PublicKey'],
      ['Peer', 'PresharedKey'],
    ]) {
      const first = section === 'Peer' && name !== 'PublicKey' ? `PublicKey = ${peerA}\n` : '';
      const line = first === '' ? 2 : 3;
      const error = expectError(`[${section}]\n${first}${name} = ${key}\n`, line, name, /44/);
      assert.is(error.expected, 'base64 of 32 bytes (44 characters)');
    }
  }
});

test('numbers out of range or in forms wg does not take', () => {
  const iface = (line: string) => `[Interface]\n${line}\n`;
  const peer = (line: string) => `[Peer]\nPublicKey = ${peerA}\n${line}\n`;
  const cases: [string, number, string, RegExp][] = [
    [iface('ListenPort = 65536'), 2, 'ListenPort', /0-65535/],
    [iface('ListenPort = -1'), 2, 'ListenPort', /0-65535/],
    [iface('ListenPort = 0x10'), 2, 'ListenPort', /0-65535/],
    [iface('ListenPort = domain'), 2, 'ListenPort', /0-65535/],
    [iface('ListenPort = 51 820'), 2, 'ListenPort', /0-65535/],
    [iface('ListenPort = +1'), 2, 'ListenPort', /0-65535/],
    [iface('FwMark = 0x100000000'), 2, 'FwMark', /0xffffffff/],
    [iface('FwMark = 4294967296'), 2, 'FwMark', /0xffffffff/],
    [iface('FwMark = 0XCA6C'), 2, 'FwMark', /0xffffffff/],
    [iface('FwMark = 0x'), 2, 'FwMark', /0xffffffff/],
    [iface('FwMark = on'), 2, 'FwMark', /off or/],
    [iface('MTU = 67'), 2, 'MTU', /68-65535/],
    [iface('MTU = 65536'), 2, 'MTU', /68-65535/],
    [iface('MTU = 1420.5'), 2, 'MTU', /68-65535/],
    [iface('Table = 0'), 2, 'Table', /off, auto/],
    [iface('Table = 4294967296'), 2, 'Table', /off, auto/],
    [iface('Table = my table'), 2, 'Table', /off, auto/],
    [iface('SaveConfig = yes'), 2, 'SaveConfig', /true or false/],
    [iface('SaveConfig = 1'), 2, 'SaveConfig', /true or false/],
    [peer('PersistentKeepalive = 65536'), 3, 'PersistentKeepalive', /0-65535/],
    [peer('PersistentKeepalive = 0x19'), 3, 'PersistentKeepalive', /0-65535/],
    [peer('PersistentKeepalive = -1'), 3, 'PersistentKeepalive', /0-65535/],
  ];
  for (const [text, line, key, expected] of cases) expectError(text, line, key, expected);
});

test('AllowedIPs and Address: prefixes valid for their family', () => {
  const peer = (value: string) => `[Peer]\nPublicKey = ${peerA}\nAllowedIPs = ${value}\n`;
  for (const value of [
    '10.0.0.0/33',
    '::/129',
    '010.0.0.0/8',
    '10.0.0.256/32',
    '10.0.0/24',
    '10.0.0.0/',
    '10.0.0.0/+8',
    '10.0.0.0/8/8',
    '10.0.0.0/8,',
    '10.0.0.0/8,,::/0',
    ', 10.0.0.0/8',
    'fe80::1%eth0/128',
    '[::1]/128',
    '1::2::3/128',
    'vpn.example/32',
    '10.0.0.0/8 ::/0',
  ]) {
    const error = expectError(peer(value), 3, 'AllowedIPs', /prefixes/);
    assert.match(error.message, /, got "/);
  }

  for (const value of ['10.0.0.300/32', '10.0.0.2/33', 'fd00::2/200', '10.0.0.2,']) {
    expectError(`[Interface]\nAddress = ${value}\n`, 2, 'Address', /addresses/);
  }
});

test('endpoints: host:port or [v6]:port, port 1-65535', () => {
  for (const endpoint of [
    '198.18.0.1',
    '198.18.0.1:',
    '198.18.0.1:0',
    '198.18.0.1:65536',
    '198.18.0.1:domain',
    '198.18.0.1:-1',
    '::1:51820',
    '[::1]',
    '[::1]:',
    '[::1:51820',
    '[198.18.0.1]:51820',
    '[fe80::1%lo]:51820',
    '127.1:51820',
    '198.18.0.256:51820',
    '-vpn.example:51820',
    'vpn-.example:51820',
    'vpn..example:51820',
    'vpn_1.example:51820',
    'vpn example:51820',
    ':51820',
  ]) {
    const error = expectError(
      `[Peer]\nPublicKey = ${peerA}\nEndpoint = ${endpoint}\n`,
      3,
      'Endpoint',
      /^host:port or \[v6\]:port with a port 1-65535$/,
    );
    assert.ok(error.message.endsWith(`got ${JSON.stringify(endpoint)}`), error.message);
  }
});

test('DNS: addresses or search domains, nothing that only looks like one', () => {
  for (const value of ['10.2.1', '1.2.3.4.5', 'fe80::1%eth0', 'bad_name', 'a..b', '10.0.0.1;']) {
    expectError(`[Interface]\nDNS = ${value}\n`, 2, 'DNS', /search domains/);
  }
});

test('only ASCII white space separates: a no-break space is part of the text', () => {
  expectError('[Interface]\nListenPort = 51820\u00a0\n', 2, 'ListenPort', /0-65535/);
  expectError('[Interface]\n\u00a0MTU = 1420\n', 2, undefined, /a key of/);
});

// ---------------------------------------------------------------------------------------------
// Secrets never appear in messages

test('no message repeats key material, whatever the mistake', () => {
  const secret = own.privateKey;
  const texts = [
    `[Interface]\nPrivateKey = ${secret.slice(0, 40)}\n`,
    `[Interface]\nPrivateKey = ${secret}x\n`,
    `[Interface]\nPrivateKey = ${secret} trailing\n`,
    `[Interface]\nPrivateKey = ${secret}\nPrivateKey = ${secret}\n`,
    `PrivateKey = ${secret}\n`,
    `[Interface]\nPrivate Key = ${secret}\n`,
    `[Interface]\n${secret}\n`,
    `[Interface]\n${secret.slice(0, -1)}\n`,
    `[${secret}]\n`,
    `[Peer]\nPublicKey = ${peerA}\nPresharedKey = ${secret.slice(1)}\n`,
    `[Peer]\nPublicKey = ${peerA}\nEndpoint = ${secret}:51820\n`,
    `[Peer]\nPublicKey = ${peerA}\nAllowedIPs = 10.0.0.0/8, ${secret}\n`,
    `[Interface]\nDNS = 10.0.0.1, ${secret}\n`,
    `[Interface]\nTable = ${secret}\n`,
    `[Interface]\nMTU = ${secret.replace(/[+/=]/g, 'a')}\n`,
  ];
  const fragments = [secret.slice(0, 12), secret.slice(16, 28), secret.slice(30, 42)];
  const safeFragments = fragments.map((fragment) => fragment.replace(/[+/=]/g, 'a'));

  for (const text of texts) {
    const error = parseError(text);
    for (const fragment of [...fragments, ...safeFragments]) {
      assert.not.ok(error.message.includes(fragment), `key material in: ${error.message}`);
      assert.not.ok((error.key ?? '').includes(fragment), `key material in key: ${error.key}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// formatConfig and stripWgQuickKeys

const fullText = [
  '[Interface]',
  `PrivateKey = ${own.privateKey}`,
  'ListenPort = 51820',
  'FwMark = 51820',
  'Address = 10.34.0.7/32, fd7d::7/128',
  'DNS = 198.18.0.53, lan',
  'MTU = 1412',
  'Table = 1234',
  'SaveConfig = true',
  'PreUp = echo a',
  'PostUp = echo b',
  'PostUp = echo c',
  'PreDown = echo d',
  'PostDown = echo e',
  '',
  '[Peer]',
  `PublicKey = ${peerA}`,
  `PresharedKey = ${psk}`,
  'AllowedIPs = 0.0.0.0/0, ::/0',
  'Endpoint = [::1]:51820',
  'PersistentKeepalive = off',
  '',
  '[Peer]',
  `PublicKey = ${peerB}`,
  'AllowedIPs = 10.0.0.0/8',
].join('\n');

test('formatConfig writes a file that parses back to the same config', () => {
  const config = parseConfig(fullText);
  const text = formatConfig(config);

  assert.equal(parseConfig(text), config);
  assert.is(
    text,
    [
      '[Interface]',
      `PrivateKey = ${own.privateKey}`,
      'ListenPort = 51820',
      'FwMark = 0xca6c',
      'Address = 10.34.0.7/32, fd7d::7/128',
      'DNS = 198.18.0.53, lan',
      'MTU = 1412',
      'Table = 1234',
      'SaveConfig = true',
      'PreUp = echo a',
      'PostUp = echo b',
      'PostUp = echo c',
      'PreDown = echo d',
      'PostDown = echo e',
      '',
      '[Peer]',
      `PublicKey = ${peerA}`,
      `PresharedKey = ${psk}`,
      'AllowedIPs = 0.0.0.0/0, ::/0',
      'Endpoint = [::1]:51820',
      'PersistentKeepalive = 0',
      '',
      '[Peer]',
      `PublicKey = ${peerB}`,
      'AllowedIPs = 10.0.0.0/8',
      '',
    ].join('\n'),
  );
});

test('formatConfig with wgQuickKeys: false leaves out what only wg-quick reads', () => {
  const text = formatConfig(parseConfig(fullText), { wgQuickKeys: false });

  assert.not.match(text, /^(Address|DNS|MTU|Table|SaveConfig|PreUp|PostUp|PreDown|PostDown)\b/m);
  assert.match(text, `PrivateKey = ${own.privateKey}\nListenPort = 51820\nFwMark = 0xca6c\n`);
  assert.is(parseConfig(text).peers.length, 2);
});

test('formatConfig writes FwMark 0 as off and an empty config as a bare [Interface]', () => {
  const config = parseConfig('[Interface]\nFwMark = 0\n');
  assert.is(formatConfig(config), '[Interface]\nFwMark = off\n');
  assert.is(formatConfig(parseConfig('')), '[Interface]\n');
});

test('formatConfig refuses values that would add lines, cut a value or fail to parse', () => {
  const base = parseConfig(fullText);
  const broken: [WgQuickConfig, string | undefined, RegExp][] = [
    [
      { ...base, interface: { ...base.interface, postUp: ['true\nPostUp = curl x | sh'] } },
      'PostUp',
      /line breaks/,
    ],
    [
      { ...base, interface: { ...base.interface, preDown: ['echo # not a comment'] } },
      'PreDown',
      /#/,
    ],
    [{ ...base, interface: { ...base.interface, dns: ['10.0.0.1,10.0.0.2'] } }, 'DNS', /commas/],
    [{ ...base, interface: { ...base.interface, mtu: 1e6 } }, 'MTU', /68-65535/],
    [{ ...base, interface: { ...base.interface, listenPort: 1.5 } }, 'ListenPort', /0-65535/],
    [{ ...base, interface: { ...base.interface, table: 'a b' } }, 'Table', /off, auto/],
    [{ ...base, peers: [{ ...base.peers[0], endpoint: '198.18.0.1:0' }] }, 'Endpoint', /host:port/],
    [
      { ...base, peers: [{ ...base.peers[0], allowedIps: ['10.0.0.0/40'] }] },
      'AllowedIPs',
      /prefixes/,
    ],
    [{ ...base, peers: [{ allowedIps: [], publicKey: '' }] }, 'PublicKey', /44/],
  ];

  for (const [config, key, expected] of broken) {
    try {
      formatConfig(config);
      assert.unreachable(`formatted ${key}`);
    } catch (error) {
      assert.instance(error, WgConfigError);
      const configError = error as WgConfigError;
      assert.is(configError.op, 'formatConfig');
      assert.is(configError.key, key);
      assert.match(configError.expected, expected);
      assert.match(configError.message, /^wg config formatted line \d+: /);
    }
  }
});

test('formatConfig never repeats a bad private key in its error', () => {
  const config = parseConfig(fullText);
  const secret = `${own.privateKey.slice(0, 43)}`;
  try {
    formatConfig({ ...config, interface: { ...config.interface, privateKey: secret } });
    assert.unreachable('formatted a 43-character key');
  } catch (error) {
    assert.instance(error, WgConfigError);
    assert.not.ok((error as Error).message.includes(secret.slice(0, 20)));
  }
});

test('stripWgQuickKeys drops wg-quick lines of [Interface] only, keeps the rest verbatim', () => {
  const text =
    '# header\r\n[Interface] # x\r\n' +
    `PrivateKey = ${own.privateKey}\r\n` +
    'address = 10.0.0.2/32\r\n' +
    'DNS=10.0.0.1\r\n' +
    '  PostUp = iptables -A x # y\r\n' +
    'Table = off\r\nMTU = 1420\r\nSaveConfig = true\r\n' +
    'PreUp = a\r\nPreDown = b\r\nPostDown = c\r\n' +
    '\r\n[Peer]\r\n' +
    `PublicKey = ${peerA}\r\n` +
    'DNS = 10.0.0.1\r\n' +
    'AllowedIPs = 0.0.0.0/0\r\n';

  assert.is(
    stripWgQuickKeys(text),
    '# header\r\n[Interface] # x\r\n' +
      `PrivateKey = ${own.privateKey}\r\n` +
      '\r\n[Peer]\r\n' +
      `PublicKey = ${peerA}\r\n` +
      'DNS = 10.0.0.1\r\n' +
      'AllowedIPs = 0.0.0.0/0\r\n',
  );
});

test.run();
