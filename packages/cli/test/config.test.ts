// The config file: defaults, and errors that name the file, line and key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DEFAULTS, parseConfigText } from '../src/config.ts';
import { parseTunnelJson } from '../src/tunnel-file.ts';

function refused(text: string, pattern: RegExp, line?: number) {
  try {
    parseConfigText(text, '/etc/netvault/netvault.json');
  } catch (error) {
    assert.instance(error, ConfigError);
    assert.match((error as Error).message, pattern);
    if (line !== undefined) assert.is((error as ConfigError).line, line);
    return;
  }
  assert.unreachable('expected a ConfigError');
}

test('an empty file gives the media-vault defaults', () => {
  const config = parseConfigText('', 'x.json');
  assert.is(config.vault, 'media-vault');
  assert.equal(config.veth, DEFAULTS.veth);
  assert.is(config.tunnel.interface, 'privado');
  assert.is(config.fallbackMetric, 4242);
});

test('comments and every key can be set', () => {
  const config = parseConfigText(
    `{
    // a second vault on the same host
    "vault": "books-vault",
    "veth": { "host": "vb-host", "vault": "vb-vault",
              "hostAddress": "10.200.2.1/30", "vaultAddress": "10.200.2.2/30" },
    "tunnel": { "interface": "wg-books", "file": "/var/lib/netvault/books.json",
                "implementation": "userspace" },
    "firewall": { "servicePorts": [8080] },
    "fallbackMetric": 100,
    "verify": { "mustNotReach": ["198.18.0.1"], "ipEchoUrl": "http://198.18.10.1/" },
  }`,
    'books.json',
  );
  assert.is(config.vault, 'books-vault');
  assert.is(config.tunnel.implementation, 'userspace');
  assert.equal(config.firewall.servicePorts, [8080]);
});

test('errors name the file, the line and the key', () => {
  refused(
    '{\n  "veth": {\n    "hostAddress": "10.200.1.1"\n  }\n}',
    /netvault\.json:3: veth\.hostAddress: expected an IPv4 address with a prefix length/,
    3,
  );
  refused('{\n  "vault": "a/b"\n}', /:2: vault: expected a namespace name/, 2);
  refused(
    '{ "tunnel": { "interface": "sixteen-chars-xx" } }',
    /tunnel\.interface: expected an interface name/,
  );
  refused(
    '{ "firewall": { "servicePorts": [80, 70000] } }',
    /firewall\.servicePorts\.1: expected a port/,
  );
  refused('{ "colour": "blue" }', /colour: unknown key/);
  refused('{ "vault": "x", }x', /expected valid JSON/);
  refused(
    '{ "veth": { "hostAddress": "10.200.1.1/30", "vaultAddress": "10.200.1.1/30" } }',
    /veth\.vaultAddress: expected a different address/,
  );
});

test('tunnel.json is checked key by key', () => {
  const good = {
    addresses: ['10.64.0.2/32'],
    dns: ['10.64.0.1'],
    privateKeyFile: '/var/lib/netvault/keys/privado.key',
    peers: [
      {
        publicKey: 'TE8FVlm0TE8FVlm0TE8FVlm0TE8FVlm0TE8FVlm0TE8=',
        endpoint: '198.18.0.2:51820',
        allowedIps: ['0.0.0.0/0'],
      },
    ],
  };
  assert.is(parseTunnelJson(JSON.stringify(good), 't.json').peers.length, 1);
  for (const [change, pattern] of [
    [{ addresses: [] }, /addresses: expected at least one/],
    [{ privateKeyFile: 'relative.key' }, /privateKeyFile: expected an absolute path/],
    [{ peers: [{ ...good.peers[0], endpoint: 'nope' }] }, /peers\.0\.endpoint: expected host:port/],
    [{ peers: [{ ...good.peers[0], publicKey: 'short' }] }, /peers\.0\.publicKey/],
  ] as const) {
    assert.throws(() => parseTunnelJson(JSON.stringify({ ...good, ...change }), 't.json'), pattern);
  }
});

test.run();
