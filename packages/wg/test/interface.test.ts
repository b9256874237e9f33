// WireGuard interfaces against the real kernel, as root, inside namespaces each test makes and
// removes. Where the kernel has no WireGuard module (as on the CI machine) the interfaces run
// in wireguard-go. Traffic goes only between addresses the tests assign: 198.18.0.0/15 for the
// underlay, 10.77.x.0/24 for tunnel addresses.
//
//   ns "host" ── veth 198.18.20.1/30 ⇄ 198.18.20.2/30 ── ns "provider"
//     │ wg-a born here (UDP socket),                       wg-b born here, 10.77.1.1/24
//     └─ moved into ns "vault": 10.77.1.2/24, default dev wg-a, nothing else
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetnsHandle } from '@netvault/netns';
import {
  createTestNamespace,
  privilegedSkipReason,
  sweepTestNamespaces,
  withTestNamespaces,
  type TestNamespace,
} from '@netvault/netns/testing';

import {
  WgInterfaceError,
  createInterface,
  deleteInterface,
  detectImplementation,
  moveInterface,
  openInterface,
  waitForHandshake,
  type WgInterface,
} from '../src/interface.ts';
import { generateKeyPair } from '../src/keys.ts';
import { formatStatus } from '../src/status.ts';
import { sweepTestWireguard, TEST_INTERFACE_PREFIX, uniqueInterfaceName } from '../src/testing.ts';
import { findWireguardGo, socketPath, UAPI_DIR } from '../src/userspace.ts';
import { configureInterface, showInterface } from '../src/wgtool.ts';

const skip = privilegedSkipReason();
if (skip) console.log(`wg interface tests skipped: ${skip}`);
const it = skip ? test.skip : test;

const ownPrefix = `${TEST_INTERFACE_PREFIX}${process.pid.toString(36)}-`;

function ownProcesses() {
  return findWireguardGo().filter((found) => found.interfaceName.startsWith(ownPrefix));
}

async function rejects(promise: Promise<unknown>, check: (error: WgInterfaceError) => void) {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof WgInterfaceError)) throw error;
    check(error);
    return;
  }
  assert.unreachable('expected a WgInterfaceError');
}

/** A veth pair between two namespaces, `prefix.1/30` ⇄ `prefix.2/30`, both ends up. */
async function underlay(a: NetnsHandle, b: NetnsHandle, prefix: string) {
  await a.vethAdd({ name: 'veth-a', peerName: 'veth-b', peerNamespace: b });
  await a.addrAdd('veth-a', `${prefix}.1/30`);
  await b.addrAdd('veth-b', `${prefix}.2/30`);
  await a.linkSetUp('veth-a');
  await b.linkSetUp('veth-b');
}

/** Deletes whatever the test made, even when it failed halfway. */
async function removeAll(interfaces: (WgInterface | undefined)[]) {
  for (const iface of interfaces) {
    if (iface) await deleteInterface(iface, { missingOk: true });
  }
}

if (!skip) {
  test.before(async () => {
    await sweepTestWireguard();
    sweepTestNamespaces();
  });
}

// A hook that throws makes uvu drop the rest of the file silently: check in a test instead, and
// only clean up here.
if (!skip) {
  test.after(async () => {
    for (const { interfaceName } of ownProcesses()) {
      await deleteInterface({ name: interfaceName }, { missingOk: true }).catch(() => undefined);
    }
  });
}

it('two userspace peers in separate namespaces handshake, pass traffic, report status', async () => {
  await withTestNamespaces(['pa', 'pb'], async (a, b) => {
    await underlay(a.handle, b.handle, '198.18.10');
    const keysA = generateKeyPair();
    const keysB = generateKeyPair();
    let wgA: WgInterface | undefined;
    let wgB: WgInterface | undefined;

    try {
      wgA = await createInterface({
        name: uniqueInterfaceName('a'),
        namespace: a.handle,
        implementation: 'userspace',
      });
      wgB = await createInterface({
        name: uniqueInterfaceName('b'),
        namespace: b.handle,
        implementation: 'userspace',
        mtu: 1380,
      });
      assert.is(wgA.implementation, 'userspace');
      assert.ok(wgA.namespace === a.handle && wgA.bornIn === a.handle);
      assert.ok(wgA.pid !== undefined && existsSync(socketPath(wgA.name)));
      assert.equal(
        findWireguardGo(wgA.name).map((found) => found.pid),
        [wgA.pid],
      );
      assert.is((await b.handle.linkGet(wgB.name)).mtu, 1380);

      await configureInterface(wgA, {
        privateKey: keysA.privateKey,
        listenPort: 51820,
        peers: [
          {
            publicKey: keysB.publicKey,
            allowedIps: ['10.77.0.2/32'],
            endpoint: '198.18.10.2:51821',
            persistentKeepalive: 25,
          },
        ],
      });
      await configureInterface(wgB, {
        privateKey: keysB.privateKey,
        listenPort: 51821,
        peers: [{ publicKey: keysA.publicKey, allowedIps: ['10.77.0.1/32'] }],
      });
      await a.handle.addrAdd(wgA.name, '10.77.0.1/24');
      await b.handle.addrAdd(wgB.name, '10.77.0.2/24');
      await b.handle.linkSetUp(wgB.name);
      await a.handle.linkSetUp(wgA.name);

      const ping = await a.handle.exec('ping', ['-c', '3', '-i', '0.2', '-w', '20', '10.77.0.2']);
      assert.is(ping.exitCode, 0, ping.stdout + ping.stderr);

      const peer = await waitForHandshake(wgA, { peer: keysB.publicKey, timeoutMs: 10_000 });
      assert.ok(peer.latestHandshake instanceof Date);
      assert.ok(peer.handshakeAgeSeconds !== undefined && peer.handshakeAgeSeconds >= 0);

      // The live dump, parsed.
      const status = await showInterface(wgA);
      assert.is(status.interfaceName, wgA.name);
      assert.is(status.publicKey, keysA.publicKey);
      assert.is(status.hasPrivateKey, true);
      assert.is(status.listenPort, 51820);
      assert.is(status.fwMark, 0);
      assert.is(status.peers.length, 1);
      assert.is(status.peers[0].publicKey, keysB.publicKey);
      assert.is(status.peers[0].endpoint, '198.18.10.2:51821');
      assert.equal(status.peers[0].allowedIps, ['10.77.0.2/32']);
      assert.is(status.peers[0].persistentKeepalive, 25);
      assert.is(status.peers[0].hasPresharedKey, false);
      assert.ok(status.peers[0].rxBytes > 0 && status.peers[0].txBytes > 0);
      const seenByB = (await showInterface(wgB)).peers[0];
      assert.is(seenByB.endpoint, '198.18.10.1:51820', "B learnt A's endpoint from traffic");

      const serialized = JSON.stringify(status) + formatStatus(status);
      assert.not.ok(serialized.includes(keysA.privateKey));
      assert.ok(formatStatus(status).includes(`peer: ${keysB.publicKey}`));
    } finally {
      await removeAll([wgA, wgB]);
    }

    for (const [iface, ns] of [
      [wgA!, a],
      [wgB!, b],
    ] as const) {
      assert.not.ok(existsSync(socketPath(iface.name)), 'no socket file left');
      assert.equal(findWireguardGo(iface.name), [], 'no process left');
      assert.is(await ns.handle.linkFind(iface.name), undefined, 'no link left');
    }
  });
});

it('created in "host", moved into "vault": the tunnel is the vault\'s only way out', async () => {
  await withTestNamespaces(['host', 'prov', 'vault'], async (host, provider, vault) => {
    await underlay(host.handle, provider.handle, '198.18.20');
    const vaultKeys = generateKeyPair();
    const providerKeys = generateKeyPair();
    let wgA: WgInterface | undefined;
    let wgB: WgInterface | undefined;

    try {
      wgA = await createInterface({ name: uniqueInterfaceName('a'), namespace: host.handle });
      wgB = await createInterface({ name: uniqueInterfaceName('b'), namespace: provider.handle });
      assert.is(wgA.implementation, await detectImplementation());

      await configureInterface(wgB, {
        privateKey: providerKeys.privateKey,
        listenPort: 51830,
        peers: [{ publicKey: vaultKeys.publicKey, allowedIps: ['10.77.1.2/32'] }],
      });
      await provider.handle.addrAdd(wgB.name, '10.77.1.1/24');
      await provider.handle.linkSetUp(wgB.name);

      await configureInterface(wgA, {
        privateKey: vaultKeys.privateKey,
        listenPort: 51831,
        peers: [
          {
            publicKey: providerKeys.publicKey,
            allowedIps: ['0.0.0.0/0'],
            endpoint: '198.18.20.2:51830',
          },
        ],
      });
      await moveInterface(wgA, vault.handle);
      assert.ok(wgA.namespace === vault.handle);
      assert.ok(wgA.bornIn === host.handle);
      assert.is(await host.handle.linkFind(wgA.name), undefined);

      await vault.handle.linkSetUp('lo');
      await vault.handle.addrAdd(wgA.name, '10.77.1.2/24');
      await vault.handle.linkSetUp(wgA.name);
      await vault.handle.routeAdd({ destination: 'default', device: wgA.name });

      // The configuration survived the move; `wg` reaches it in its new namespace.
      const moved = await showInterface(wgA);
      assert.is(moved.listenPort, 51831);
      assert.is(moved.peers[0].publicKey, providerKeys.publicKey);

      const ping = await vault.handle.exec('ping', [
        '-c',
        '3',
        '-i',
        '0.2',
        '-w',
        '20',
        '10.77.1.1',
      ]);
      assert.is(ping.exitCode, 0, ping.stdout + ping.stderr);
      const peer = await waitForHandshake(wgA, { timeoutMs: 10_000 });
      assert.is(peer.publicKey, providerKeys.publicKey);

      // The vault has only lo and the tunnel, and every route of its main table is the tunnel.
      const tunnel = await vault.handle.linkGet(wgA.name);
      assert.equal(
        (await vault.handle.linkList()).map((link) => link.name).sort(),
        ['lo', wgA.name].sort(),
      );
      const routes = await vault.handle.routeList();
      assert.ok(routes.some((route) => route.destination === 'default'));
      for (const route of routes) {
        assert.is(route.deviceIndex, tunnel.index, `route ${route.destination} is via the tunnel`);
      }

      // The encrypted UDP socket stayed where the interface was born.
      const hostSockets = await host.handle.exec('ss', ['-Hlun']);
      const vaultSockets = await vault.handle.exec('ss', ['-Hlun']);
      assert.match(hostSockets.stdout, /:51831\b/);
      assert.not.match(vaultSockets.stdout, /:51831\b/);
    } finally {
      await removeAll([wgA, wgB]);
    }

    assert.is(await vault.handle.linkFind(wgA!.name), undefined);
    assert.not.ok(existsSync(socketPath(wgA!.name)));
  });
});

it('implementation: auto follows detection; kernel is refused where there is no module', async () => {
  await withTestNamespaces(['impl'], async (ns) => {
    const detected = await detectImplementation();
    let iface: WgInterface | undefined;

    try {
      if (detected === 'userspace') {
        await rejects(
          createInterface({
            name: uniqueInterfaceName('k'),
            namespace: ns.handle,
            implementation: 'kernel',
          }),
          (error) => {
            assert.is(error.code, 'EOPNOTSUPP');
            assert.match(error.message, /no WireGuard module/);
          },
        );
      } else {
        iface = await createInterface({
          name: uniqueInterfaceName('k'),
          namespace: ns.handle,
          implementation: 'kernel',
        });
        assert.is(iface.implementation, 'kernel');
        assert.is((await ns.handle.linkGet(iface.name)).kind, 'wireguard');
        await deleteInterface(iface);
      }

      iface = await createInterface({ name: uniqueInterfaceName('auto'), namespace: ns.handle });
      assert.is(iface.implementation, detected);
      assert.is(
        (await ns.handle.linkGet(iface.name)).kind,
        detected === 'kernel' ? 'wireguard' : 'tun',
      );
    } finally {
      await removeAll([iface]);
    }
  });
});

it('a userspace name in use in another namespace is refused; so is a taken link name', async () => {
  await withTestNamespaces(['ca', 'cb'], async (a, b) => {
    const name = uniqueInterfaceName('c');
    let first: WgInterface | undefined;

    try {
      first = await createInterface({ name, namespace: a.handle, implementation: 'userspace' });
      await rejects(
        createInterface({ name, namespace: b.handle, implementation: 'userspace' }),
        (error) => {
          assert.is(error.code, 'EADDRINUSE');
          assert.match(error.message, /unique across namespaces/);
        },
      );
      await rejects(createInterface({ name, namespace: a.handle }), (error) =>
        assert.is(error.code, 'EEXIST'),
      );
      await rejects(createInterface({ name: 'no/slash', namespace: a.handle }), (error) =>
        assert.is(error.code, 'EINVAL'),
      );

      assert.equal(
        findWireguardGo(name).map((found) => found.pid),
        [first.pid],
      );
      assert.is(await b.handle.linkFind(name), undefined, 'nothing left in b');
      assert.is((await showInterface(first)).interfaceName, name, 'the first one still answers');
    } finally {
      await removeAll([first]);
    }
  });
});

it('another process finds and deletes a userspace interface by name', async () => {
  const ns: TestNamespace = createTestNamespace('other');
  const name = uniqueInterfaceName('o');

  try {
    const iface = await createInterface({ name, namespace: ns.handle });
    const pid = iface.pid;
    const source = fileURLToPath(new URL('../src/interface.ts', import.meta.url));
    const script = `
      const { openNamespace } = await import('@netvault/netns');
      const { openInterface, deleteInterface } = await import(${JSON.stringify(source)});
      const namespace = openNamespace({ name: ${JSON.stringify(ns.name)} });
      const iface = await openInterface({ name: ${JSON.stringify(name)}, namespace });
      const deleted = await deleteInterface(iface);
      const again = await deleteInterface({ name: iface.name, namespace }, { missingOk: true });
      console.log(JSON.stringify({ implementation: iface.implementation, pid: iface.pid, deleted, again }));
      namespace.close();
    `;
    const child = await execa(
      'node',
      ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );

    assert.equal(JSON.parse(child.stdout), {
      implementation: iface.implementation,
      pid,
      deleted: true,
      again: false,
    });
    assert.is(await ns.handle.linkFind(name), undefined);
    assert.not.ok(existsSync(socketPath(name)));
    assert.equal(findWireguardGo(name), []);
    await rejects(deleteInterface({ name, namespace: ns.handle }), (error) =>
      assert.is(error.code, 'ENODEV'),
    );
  } finally {
    await deleteInterface({ name, namespace: ns.handle }, { missingOk: true });
    ns.dispose();
  }
});

it('deleteInterface refuses a link that is not WireGuard; openInterface too', async () => {
  await withTestNamespaces(['nw'], async (ns) => {
    await ns.handle.linkAdd({ name: 'br-not-wg', kind: 'bridge' });
    await rejects(deleteInterface({ name: 'br-not-wg', namespace: ns.handle }), (error) =>
      assert.is(error.code, 'EINVAL'),
    );
    await rejects(openInterface({ name: 'br-not-wg', namespace: ns.handle }), (error) =>
      assert.is(error.code, 'EINVAL'),
    );
    await rejects(openInterface({ name: 'absent0', namespace: ns.handle }), (error) =>
      assert.is(error.code, 'ENODEV'),
    );
    assert.ok(await ns.handle.linkFind('br-not-wg'));
  });
});

it('waitForHandshake times out without an answering peer; says when the peer is unknown', async () => {
  await withTestNamespaces(['to'], async (ns) => {
    const keys = generateKeyPair();
    const silent = generateKeyPair();
    let iface: WgInterface | undefined;

    try {
      iface = await createInterface({ name: uniqueInterfaceName('t'), namespace: ns.handle });
      await ns.handle.addrAdd('lo', '198.18.30.1/32');
      await ns.handle.linkSetUp('lo');
      // The endpoint is an address of this namespace where nothing listens.
      await configureInterface(iface, {
        privateKey: keys.privateKey,
        peers: [
          {
            publicKey: silent.publicKey,
            allowedIps: ['10.77.2.0/24'],
            endpoint: '198.18.30.1:51899',
            persistentKeepalive: 1,
          },
        ],
      });
      await ns.handle.linkSetUp(iface.name);

      await rejects(waitForHandshake(iface, { timeoutMs: 1500, intervalMs: 100 }), (error) => {
        assert.is(error.code, 'ETIMEDOUT');
        assert.is(error.op, 'wait for handshake');
        assert.not.ok(error.message.includes(keys.privateKey));
      });
      await rejects(waitForHandshake(iface, { peer: keys.publicKey, timeoutMs: 300 }), (error) =>
        assert.match(error.message, /is not configured/),
      );
    } finally {
      await removeAll([iface]);
    }
  });
});

it('sweepTestWireguard stops nothing of a live test run', async () => {
  await withTestNamespaces(['sw'], async (ns) => {
    let iface: WgInterface | undefined;
    try {
      iface = await createInterface({ name: uniqueInterfaceName('s'), namespace: ns.handle });
      assert.equal(await sweepTestWireguard(), []);
      assert.ok(await ns.handle.linkFind(iface.name));
    } finally {
      await removeAll([iface]);
    }
  });
});

it('no wireguard-go process or socket file of this file is left', () => {
  assert.equal(ownProcesses(), []);
  const sockets = existsSync(UAPI_DIR) ? readdirSync(UAPI_DIR) : [];
  assert.equal(
    sockets.filter((file) => file.startsWith(ownPrefix)),
    [],
  );
});

test.run();
