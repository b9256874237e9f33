// The `wg` wrapper: what it sends to `wg setconf`, how its errors read, and that no key ever
// shows up in one. The live part runs as root against wireguard-go inside a namespace of its own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { privilegedTest, withTestNamespaces } from '@netvault/netns/testing';

import { WgKeyError } from '../src/errors.ts';
import { createInterface, deleteInterface, type WgInterface } from '../src/interface.ts';
import { generateKeyPair, generatePresharedKey } from '../src/keys.ts';
import { uniqueInterfaceName } from '../src/testing.ts';
import {
  WgToolError,
  configureInterface,
  redactSecrets,
  removePeer,
  setconfText,
  setInterface,
  setPeer,
  showInterface,
  syncConfig,
} from '../src/wgtool.ts';

const live = privilegedTest(test, 'wg tool live tests');

async function toolError(promise: Promise<unknown>): Promise<WgToolError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WgToolError) return error;
    throw error;
  }
  assert.unreachable('expected a WgToolError');
  throw new Error('unreachable');
}

test('redactSecrets removes given secrets, key-shaped text and quoted key lines', () => {
  const { privateKey, publicKey } = generateKeyPair();

  assert.is(redactSecrets(`oops ${privateKey} here`), 'oops (redacted) here');
  assert.is(
    redactSecrets("Line unrecognized: `PrivateKey=abc'\nConfiguration parsing error\n"),
    "Line unrecognized: `(redacted)'\nConfiguration parsing error\n",
  );
  assert.is(
    redactSecrets("Key is not the correct length or format: `xyz'"),
    "Key is not the correct length or format: `(redacted)'",
  );
  assert.is(redactSecrets('short secret s3cr3t', ['s3cr3t']), 'short secret (redacted)');
  assert.is(
    redactSecrets("Unable to parse endpoint `nowhere'"),
    "Unable to parse endpoint `nowhere'",
    'quoted text without a key stays',
  );
  assert.not.ok(redactSecrets(`peer ${publicKey}`).includes(publicKey));
});

test('setconfText leaves out the wg-quick-only keys', () => {
  const { privateKey } = generateKeyPair();
  const peer = generateKeyPair().publicKey;
  const text = setconfText({
    interface: {
      privateKey,
      listenPort: 51820,
      addresses: ['10.77.0.2/32'],
      dns: ['198.18.0.53'],
      mtu: 1380,
      preUp: [],
      postUp: ['true'],
      preDown: [],
      postDown: [],
    },
    peers: [{ publicKey: peer, allowedIps: ['0.0.0.0/0'], endpoint: '198.18.0.1:51820' }],
  });

  assert.match(text, /^\[Interface\]\nPrivateKey = /);
  assert.match(text, /ListenPort = 51820\n/);
  assert.match(text, /\[Peer\]\nPublicKey = /);
  assert.not.match(text, /Address|DNS|MTU|PostUp/);
});

test('setconfText takes the device part alone', () => {
  const peer = generateKeyPair().publicKey;
  const text = setconfText({
    listenPort: 4000,
    fwMark: 0x51,
    peers: [{ publicKey: peer, allowedIps: ['10.77.0.0/24'], persistentKeepalive: 25 }],
  });

  assert.is(
    text,
    `[Interface]\nListenPort = 4000\nFwMark = 0x51\n\n[Peer]\nPublicKey = ${peer}\n` +
      'AllowedIPs = 10.77.0.0/24\nPersistentKeepalive = 25\n',
  );
});

test('WgToolError names the command, where, the exit code and what the tool said', () => {
  const error = new WgToolError({
    op: 'wg setconf',
    command: 'wg setconf wg0 /dev/stdin',
    interfaceName: 'wg0',
    namespace: 'vault',
    exitCode: 1,
    stderr: "Line unrecognized: `(redacted)'\nparse error\n",
  });

  assert.is(
    error.message,
    'wg: `wg setconf wg0 /dev/stdin` in vault exited with code 1: ' +
      "Line unrecognized: `(redacted)'; parse error",
  );
  assert.is(error.op, 'wg setconf');
  assert.is(error.exitCode, 1);
  assert.is(error.name, 'WgToolError');
});

test('a bad key is refused before anything runs, without repeating it', async () => {
  const target = { name: 'wg0' };
  const { privateKey } = generateKeyPair();
  const cases: [Promise<unknown>, string][] = [
    [setPeer(target, { publicKey: `${privateKey}x` }), privateKey],
    [
      setPeer(target, { publicKey: generateKeyPair().publicKey, presharedKey: 'tooshort' }),
      'tooshort',
    ],
    [setInterface(target, { privateKey: 'not-a-key' }), 'not-a-key'],
    [removePeer(target, 'nope'), 'nope'],
  ];

  for (const [promise, secret] of cases) {
    try {
      await promise;
      assert.unreachable('accepted a bad key');
    } catch (error) {
      assert.instance(error, WgKeyError);
      assert.not.ok((error as Error).message.includes(secret));
    }
  }
});

live('errors from a missing interface carry command, exit code, stderr and no key', async () => {
  await withTestNamespaces(['tool'], async (ns) => {
    const target = { name: 'absent0', namespace: ns.handle };
    const { privateKey } = generateKeyPair();

    const shown = await toolError(showInterface(target));
    assert.is(shown.command, 'wg show absent0 dump');
    assert.is(shown.namespace, ns.name);
    assert.ok(shown.exitCode !== undefined && shown.exitCode !== 0);
    // "No such device" with the kernel module, "Protocol not supported" without it.
    assert.match(shown.stderr, /^Unable to access interface: /);

    const configured = await toolError(configureInterface(target, { privateKey, peers: [] }));
    assert.is(configured.command, 'wg setconf absent0 /dev/stdin');
    for (const text of [configured.message, configured.stderr, configured.command]) {
      assert.not.ok(text.includes(privateKey));
    }

    const set = await toolError(setInterface(target, { privateKey }));
    assert.is(set.command, 'wg set absent0 private-key /dev/stdin');
    assert.not.ok(set.message.includes(privateKey));
  });
});

live('set, setPeer, syncConfig and removePeer change a live interface', async () => {
  await withTestNamespaces(['set'], async (ns) => {
    const own = generateKeyPair();
    const peerA = generateKeyPair().publicKey;
    const peerB = generateKeyPair().publicKey;
    const psk = generatePresharedKey();
    let iface: WgInterface | undefined;

    try {
      iface = await createInterface({ name: uniqueInterfaceName('set'), namespace: ns.handle });

      await setInterface(iface, { privateKey: own.privateKey, listenPort: 51840, fwMark: 0x2a });
      let status = await showInterface(iface);
      assert.is(status.publicKey, own.publicKey);
      assert.is(status.listenPort, 51840);
      assert.is(status.fwMark, 0x2a);

      await setPeer(iface, {
        publicKey: peerA,
        presharedKey: psk,
        endpoint: '198.18.40.2:51820',
        allowedIps: ['10.77.4.0/24', 'fd00:77:4::/64'],
        persistentKeepalive: 15,
      });
      status = await showInterface(iface);
      assert.equal(
        status.peers.map((peer) => ({ ...peer })),
        [
          {
            publicKey: peerA,
            hasPresharedKey: true,
            endpoint: '198.18.40.2:51820',
            allowedIps: ['10.77.4.0/24', 'fd00:77:4::/64'],
            latestHandshake: undefined,
            handshakeAgeSeconds: undefined,
            rxBytes: 0,
            txBytes: 0,
            persistentKeepalive: 15,
          },
        ],
      );
      assert.not.ok(JSON.stringify(status).includes(psk));

      await setPeer(iface, {
        publicKey: peerA,
        presharedKey: null,
        persistentKeepalive: 0,
        allowedIps: [],
      });
      const [changed] = (await showInterface(iface)).peers;
      assert.is(changed.hasPresharedKey, false);
      assert.is(changed.persistentKeepalive, 0);
      assert.equal(changed.allowedIps, []);

      await syncConfig(iface, {
        privateKey: own.privateKey,
        listenPort: 51841,
        peers: [{ publicKey: peerB, allowedIps: ['10.77.5.0/24'] }],
      });
      status = await showInterface(iface);
      assert.is(status.listenPort, 51841);
      assert.equal(
        status.peers.map((peer) => peer.publicKey),
        [peerB],
      );

      await removePeer(iface, peerB);
      assert.equal((await showInterface(iface)).peers, []);
    } finally {
      if (iface) await deleteInterface(iface, { missingOk: true });
    }
  });
});

test.run();
