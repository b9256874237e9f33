// Every operation of @netvault/netns against the real kernel, as root, inside namespaces each
// The kernel here may lack the dummy module; bridges stand in for a plain link.
// test makes and removes. Traffic goes only between addresses the tests assign (198.18.0.0/15,
// fd00:198:18::/64).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NetnsError,
  createNamespace,
  deleteNamespace,
  listNamespaces,
  memoryFile,
  namespaceExists,
  openNamespace,
  type NetnsHandle,
} from '../src/index.ts';
import { inHomeNetns } from '../src/syscalls.ts';
import {
  createTestNamespace,
  privilegedTest,
  sweepTestNamespaces,
  uniqueName,
  withTestNamespaces,
} from '../src/testing.ts';

const it = privilegedTest(test, 'netns integration tests');

async function rejects(promise: Promise<unknown>, check: (error: NetnsError) => void) {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, NetnsError);
    check(error as NetnsError);
    return;
  }
  assert.unreachable('expected a NetnsError');
}

/** Two namespaces joined by a veth pair with 198.18.0.1/30 ⇄ 198.18.0.2/30, both ends up. */
async function pair(a: NetnsHandle, b: NetnsHandle) {
  await a.vethAdd({ name: 'veth-a', peerName: 'veth-b', peerNamespace: b });
  await a.addrAdd('veth-a', '198.18.0.1/30');
  await b.addrAdd('veth-b', '198.18.0.2/30');
  await a.linkSetUp('veth-a');
  await b.linkSetUp('veth-b');
}

test.before(() => {
  sweepTestNamespaces();
});

test.after.each(() => {
  assert.ok(inHomeNetns(), 'the thread is back in its own namespace');
});

it('namespaces: create, list, exists, open by name, path and pid, delete', async () => {
  const name = uniqueName('life');
  createNamespace(name);
  try {
    assert.ok(listNamespaces().includes(name));
    assert.ok(namespaceExists(name));
    await rejects(
      Promise.resolve().then(() => createNamespace(name)),
      (e) => assert.ok(e.isExists()),
    );
    const byName = openNamespace({ name });
    const byPath = openNamespace({ path: `/run/netns/${name}` });
    const sleeper = spawn('ip', ['netns', 'exec', name, 'sleep', '30'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const byPid = openNamespace({ pid: sleeper.pid! });
    try {
      assert.ok(byName.isSameAs(byPath));
      assert.ok(byName.isSameAs(byPid));
      assert.equal(
        (await byPid.linkList()).map((l) => l.name),
        ['lo'],
      );
    } finally {
      sleeper.kill();
      byPid.close();
      byPath.close();
      byName.close();
    }
    const seen = await openNamespace({ name }).exec('ip', ['-o', 'link', 'show']);
    assert.match(seen.stdout, /1: lo:/, 'ip netns exec sees the namespace');
  } finally {
    deleteNamespace(name);
  }
  assert.not.ok(namespaceExists(name));
  await rejects(
    Promise.resolve().then(() => deleteNamespace(name)),
    (e) => assert.ok(e.isNotFound()),
  );
  await rejects(
    Promise.resolve().then(() => openNamespace({ name })),
    (e) => assert.ok(e.isNotFound()),
  );
});

it('bad arguments are refused before the kernel sees them', async () => {
  await withTestNamespaces(['args'], async ({ handle }) => {
    await rejects(handle.linkAdd({ name: 'sixteen-chars-xx', kind: 'bridge' }), (e) =>
      assert.match(e.reason ?? '', /15 bytes/),
    );
    await rejects(handle.addrAdd('lo', '10.0.0.1/33'), (e) => assert.match(e.message, /0 to 32/));
    await rejects(
      Promise.resolve().then(() => createNamespace('a/b')),
      (e) => assert.match(e.message, /contain "\/"/),
    );
    assert.equal(
      (await handle.linkList()).map((l) => l.name),
      ['lo'],
      'nothing was created',
    );
  });
});

it('links: add, get by name and index, up/down, MTU, alias, rename, delete, errors', async () => {
  await withTestNamespaces(['link'], async ({ handle }) => {
    const made = await handle.linkAdd({ name: 'dummy0', kind: 'bridge', mtu: 1400 });
    assert.is(made.kind, 'bridge');
    assert.is(made.mtu, 1400);
    assert.is((await handle.linkGet(made.index)).name, 'dummy0');
    await handle.linkSetUp('dummy0');
    assert.ok((await handle.linkGet('dummy0')).up);
    await handle.linkSetMtu('dummy0', 1280);
    await handle.linkSetAlias('dummy0', 'netvault:test');
    await handle.linkSetDown('dummy0');
    await handle.linkSetName('dummy0', 'renamed0');
    const renamed = await handle.linkGet('renamed0');
    assert.equal(
      [renamed.index, renamed.mtu, renamed.alias, renamed.up],
      [made.index, 1280, 'netvault:test', false],
    );
    await rejects(handle.linkAdd({ name: 'renamed0', kind: 'bridge' }), (e) => {
      assert.ok(e.isExists());
      assert.is(e.errno, 17);
    });
    await handle.linkDelete('renamed0');
    assert.is(await handle.linkFind('renamed0'), undefined);
    await rejects(handle.linkGet('renamed0'), (e) => {
      assert.ok(e.isNotFound());
      assert.is(e.code, 'ENODEV');
      assert.match(e.message, /link show renamed0 in nvt-/);
    });
    await rejects(handle.linkAdd({ name: 'x0', kind: 'nosuchkind' }), (e) =>
      assert.is(e.code, 'EOPNOTSUPP'),
    );
  });
});

it('veth pair with the peer placed straight into another namespace passes traffic', async () => {
  await withTestNamespaces(['va', 'vb'], async (a, b) => {
    await pair(a.handle, b.handle);
    const [here, there] = [await a.handle.linkGet('veth-a'), await b.handle.linkGet('veth-b')];
    assert.is(here.kind, 'veth');
    assert.is(there.kind, 'veth');
    assert.is(here.peerIndex, there.index);
    assert.is(await a.handle.linkFind('veth-b'), undefined, 'the peer is not left behind');
    const ping = await a.handle.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', '198.18.0.2']);
    assert.is(ping.exitCode, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /2 received/);
  });
});

it('addresses: IPv4 and IPv6 add, replace, list, delete', async () => {
  await withTestNamespaces(['addr'], async ({ handle }) => {
    await handle.linkAdd({ name: 'dummy0', kind: 'bridge' });
    await handle.addrAdd('dummy0', '198.18.1.1/24');
    await handle.addrAdd('dummy0', 'fd00:198:18::1/64');
    await rejects(handle.addrAdd('dummy0', '198.18.1.1/24'), (e) => assert.ok(e.isExists()));
    await handle.addrReplace('dummy0', '198.18.1.1/24');
    const listed = await handle.addrList({ link: 'dummy0' });
    assert.equal(listed.map((a) => a.cidr).sort(), ['198.18.1.1/24', 'fd00:198:18::1/64']);
    assert.equal(
      (await handle.addrList({ family: 6, link: 'dummy0' })).map((a) => a.address),
      ['fd00:198:18::1'],
    );
    await handle.addrDelete('dummy0', '198.18.1.1/24');
    await handle.addrDelete('dummy0', 'fd00:198:18::1/64');
    assert.equal(await handle.addrList({ link: 'dummy0' }), []);
    await rejects(handle.addrDelete('dummy0', '198.18.1.1/24'), (e) => assert.ok(e.isNotFound()));
  });
});

it('routes: pinned default, gateway route, replace, tables, removal with the device', async () => {
  await withTestNamespaces(['ra', 'rb'], async (a, b) => {
    await pair(a.handle, b.handle);
    const h = b.handle;
    // No route covers the gateway yet: the kernel refuses it and says why.
    await rejects(h.routeAdd({ destination: '198.18.99.0/24', gateway: '198.18.77.1' }), (e) =>
      assert.match(e.extack ?? '', /gateway/i),
    );
    await h.routeAdd({ destination: 'default', device: 'veth-b' });
    await h.routeAdd({ destination: '198.18.64.0/24', gateway: '198.18.0.1', metric: 5 });
    await h.routeReplace({
      destination: '198.18.64.0/24',
      gateway: '198.18.0.1',
      metric: 5,
      mtu: 1300,
    });
    await h.routeAdd({ destination: 'default', device: 'veth-b', table: 51820 });
    await rejects(h.routeAdd({ destination: 'default', device: 'veth-b' }), (e) =>
      assert.ok(e.isExists()),
    );
    const main = await h.routeList({ family: 4 });
    const pinned = main.find((r) => r.destination === 'default');
    const via = main.find((r) => r.destination === '198.18.64.0/24');
    const index = (await h.linkGet('veth-b')).index;
    assert.equal([pinned?.deviceIndex, pinned?.gateway, pinned?.scope], [index, undefined, 'link']);
    assert.equal([via?.gateway, via?.metric], ['198.18.0.1', 5]);
    assert.equal(
      (await h.routeList({ table: 51820 })).map((r) => r.destination),
      ['default'],
    );
    await h.routeDelete({ destination: '198.18.64.0/24', metric: 5 });
    assert.not.ok((await h.routeList()).some((r) => r.destination === '198.18.64.0/24'));
    // The pinned default goes away with its device.
    await a.handle.linkDelete('veth-a');
    const left = await h.routeList({ table: 'all', family: 4 });
    assert.not.ok(
      left.some((r) => r.destination === 'default'),
      JSON.stringify(left),
    );
  });
});

it('unreachable fallback takes over when the pinned default disappears', async () => {
  await withTestNamespaces(['ua', 'ub'], async (a, b) => {
    await pair(a.handle, b.handle);
    await a.handle.addrAdd('lo', '198.19.0.1/32');
    await a.handle.linkSetUp('lo');
    const h = b.handle;
    await h.routeAdd({ destination: 'default', device: 'veth-b' });
    await h.routeAdd({ destination: 'default', type: 'unreachable', metric: 4242 });
    await h.routeAdd({ destination: 'default', family: 6, type: 'unreachable', metric: 4242 });
    const through = await h.exec('ping', ['-c', '1', '-W', '2', '198.19.0.1']);
    assert.is(through.exitCode, 0, 'positive control: reachable through the device');
    await h.linkSetDown('veth-b');
    const routes = await h.routeList({ table: 'all' });
    const defaults = routes.filter((r) => r.destination === 'default');
    assert.equal(defaults.map((r) => [r.family, r.type, r.metric]).sort(), [
      [4, 'unreachable', 4242],
      [6, 'unreachable', 4242],
    ]);
    const blocked = await h.exec('ping', ['-c', '1', '-W', '2', '198.19.0.1']);
    assert.is.not(blocked.exitCode, 0);
    assert.match(blocked.stdout + blocked.stderr, /unreachable|no route to host/i);
  });
});

it('blackhole and prohibit routes', async () => {
  await withTestNamespaces(['bh'], async ({ handle }) => {
    await handle.routeAdd({ destination: '198.18.200.0/24', type: 'blackhole' });
    await handle.routeAdd({ destination: '198.18.201.0/24', type: 'prohibit', metric: 9 });
    const types = (await handle.routeList()).map((r) => `${r.type} ${r.destination} ${r.metric}`);
    assert.ok(types.includes('blackhole 198.18.200.0/24 0'));
    assert.ok(types.includes('prohibit 198.18.201.0/24 9'));
    await handle.routeDelete({ destination: '198.18.200.0/24', type: 'blackhole' });
    assert.not.ok((await handle.routeList()).some((r) => r.type === 'blackhole'));
  });
});

it('policy rules: fwmark setups as wg-quick makes them', async () => {
  await withTestNamespaces(['rule'], async ({ handle }) => {
    await handle.ruleAdd({ family: 4, invert: true, fwmark: 51820, table: 51820, priority: 100 });
    await handle.ruleAdd({ family: 4, table: 'main', suppressPrefixLength: 0, priority: 99 });
    await handle.ruleAdd({ family: 6, action: 'blackhole', priority: 98 });
    const rules = await handle.ruleList();
    const marked = rules.find((r) => r.priority === 100);
    assert.equal([marked?.invert, marked?.fwmark, marked?.table], [true, 51820, 51820]);
    assert.is(rules.find((r) => r.priority === 99)?.suppressPrefixLength, 0);
    assert.is(rules.find((r) => r.priority === 98 && r.family === 6)?.action, 'blackhole');
    const shown = await handle.exec('ip', ['rule', 'show']);
    assert.match(shown.stdout, /100:\s+not from all fwmark 0xca6c lookup 51820/);
    await handle.ruleDelete({
      family: 4,
      invert: true,
      fwmark: 51820,
      table: 51820,
      priority: 100,
    });
    assert.not.ok((await handle.ruleList(4)).some((r) => r.priority === 100));
  });
});

it('links move between namespaces and keep their addresses only where they are', async () => {
  await withTestNamespaces(['ma', 'mb'], async (a, b) => {
    // Bridges are bound to their namespace; one end of a veth pair is not.
    await a.handle.vethAdd({ name: 'mover0', peerName: 'stay0' });
    await a.handle.linkSetNamespace('mover0', b.handle);
    assert.is(await a.handle.linkFind('mover0'), undefined);
    assert.is((await b.handle.linkGet('mover0')).kind, 'veth');
    assert.is((await a.handle.linkGet('stay0')).kind, 'veth');
    await b.handle.addrAdd('mover0', '198.18.9.1/24');
    assert.equal(
      (await b.handle.addrList({ link: 'mover0' })).map((x) => x.cidr),
      ['198.18.9.1/24'],
    );
  });
});

it('sysctls are read and written inside the right namespace', async () => {
  await withTestNamespaces(['sa', 'sb'], async (a, b) => {
    a.handle.sysctlSet('net.ipv4.ip_forward', 1);
    a.handle.sysctlSet('net.ipv4.conf.all.arp_ignore', 2);
    assert.is(a.handle.sysctlGet('net.ipv4.ip_forward'), '1');
    assert.is(a.handle.sysctlGet('net.ipv4.conf.all.arp_ignore'), '2');
    assert.is(b.handle.sysctlGet('net.ipv4.ip_forward'), '0', 'the other namespace is untouched');
    const seen = await a.handle.exec('cat', ['/proc/sys/net/ipv4/ip_forward']);
    assert.is(seen.stdout.trim(), '1');
    a.handle.sysctlSet('net.ipv6.conf.lo.disable_ipv6', 1);
    assert.is(a.handle.sysctlGet('net/ipv6/conf/lo/disable_ipv6'), '1');
    let failed: unknown;
    try {
      a.handle.sysctlGet('net.ipv4.conf.nosuchlink.arp_ignore');
    } catch (error) {
      failed = error;
    }
    assert.ok(failed instanceof NetnsError && failed.isNotFound(), String(failed));
  });
});

it('exec applies /etc/netns/NAME files, returns exit code and output', async () => {
  const ns = createTestNamespace('exec');
  const etc = `/etc/netns/${ns.name}`;
  try {
    mkdirSync(etc, { recursive: true });
    writeFileSync(`${etc}/resolv.conf`, 'nameserver 198.18.53.53\n');
    const resolv = await ns.handle.exec('cat', ['/etc/resolv.conf']);
    assert.is(resolv.stdout, 'nameserver 198.18.53.53\n');
    const failing = await ns.handle.exec('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.equal([failing.exitCode, failing.stdout, failing.stderr], [3, 'out\n', 'err\n']);
    const fed = await ns.handle.exec('cat', [], { input: 'to stdin' });
    assert.is(fed.stdout, 'to stdin');
  } finally {
    rmSync(etc, { recursive: true, force: true });
    ns.dispose();
  }
  assert.not.ok(existsSync(etc));
});

it('execInNetwork enters only the network namespace; memoryFile hands over stdin', async () => {
  await withTestNamespaces(['direct'], async ({ handle }) => {
    const links = await handle.execInNetwork('ip', ['-o', 'link', 'show']);
    assert.equal(links.stdout.trim().split('\n').length, 1, 'only lo: the namespace, not ours');
    const fd = memoryFile('test-input', 'not on any disk\n');
    try {
      const read = await handle.execInNetwork(
        'sh',
        ['-c', 'cat /dev/stdin; readlink /proc/self/fd/0'],
        { stdin: fd },
      );
      assert.match(read.stdout, /^not on any disk\n\/memfd:test-input \(deleted\)\n$/);
    } finally {
      closeSync(fd);
    }
    const fed = await handle.execInNetwork('cat', [], { input: 'piped' });
    assert.equal([fed.exitCode, fed.stdout], [0, 'piped']);
    const failing = await handle.execInNetwork('sh', ['-c', 'exit 4']);
    assert.is(failing.exitCode, 4);
  });
});

it('events: a link deleted by another process is seen; linkWait follows state', async () => {
  await withTestNamespaces(['ev'], async ({ name, handle }) => {
    await handle.linkAdd({ name: 'watched0', kind: 'bridge' });
    const events = handle.events({ kinds: ['link'] });
    const other = spawn('ip', ['-n', name, 'link', 'del', 'watched0'], { stdio: 'ignore' });
    let seen = false;
    const timer = setTimeout(() => events.close(), 5000);
    for await (const event of events) {
      if (event.kind === 'link' && event.action === 'del' && event.link.name === 'watched0') {
        seen = true;
        break;
      }
    }
    clearTimeout(timer);
    other.kill();
    assert.ok(seen, 'the deletion by another process was reported');

    const waiting = handle.linkWait('later0', { state: 'up', timeoutMs: 5000 });
    await handle.linkAdd({ name: 'later0', kind: 'bridge' });
    await handle.linkSetUp('later0');
    await waiting;
    await rejects(handle.linkWait('never0', { timeoutMs: 200 }), (e) =>
      assert.is(e.code, 'ETIMEDOUT'),
    );
  });
});

it('a closed handle refuses work; failing calls leave the thread at home', async () => {
  const ns = createTestNamespace('closed');
  ns.handle.close();
  await rejects(ns.handle.linkList(), (e) => assert.match(e.message, /closed/));
  ns.dispose();
  assert.ok(inHomeNetns());
  let failed: unknown;
  try {
    openNamespace({ path: '/proc/self/ns/mnt' }).close();
  } catch (error) {
    failed = error;
  }
  assert.instance(failed, NetnsError);
  assert.ok(inHomeNetns(), 'setns to a namespace of the wrong type failed and left us home');
});

test.run();
