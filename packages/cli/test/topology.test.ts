// `up`, `down`, `status` and `verify` for real, with the whole topology inside namespaces the
// test makes: a stand-in host, a provider with its own WireGuard peer, and the vault.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { namespaceExists, openNamespace } from '@netvault/netns';
import { createTestNamespace, privilegedTest, uniqueName } from '@netvault/netns/testing';
import { uniqueInterfaceName } from '@netvault/wg/testing';
import {
  configureInterface,
  createInterface,
  deleteInterface,
  generateKeyPair,
  waitForHandshake,
} from '@netvault/wg';
import type { Change } from '../src/changes.ts';
import { DEFAULTS, type VaultConfig } from '../src/config.ts';
import { main } from '../src/main.ts';
import { readCounters } from '../src/firewall.ts';
import { probe } from '../src/probes.ts';
import { down, status, up } from '../src/topology.ts';
import { verify } from '../src/verify.ts';

const it = privilegedTest(test, 'CLI topology tests');

it('up builds, a second up changes nothing, verify holds, down removes it all', async () => {
  const host = createTestNamespace('host');
  const provider = createTestNamespace('prov');
  const work = mkdtempSync('/run/nvt-cli-');
  const wgName = uniqueInterfaceName('p');
  const config: VaultConfig = {
    ...structuredClone(DEFAULTS),
    vault: uniqueName('vault'),
    hostNamespace: host.name,
    tunnel: {
      interface: uniqueInterfaceName('v'),
      file: `${work}/tunnel.json`,
      implementation: 'auto',
    },
    verify: { mustNotReach: ['198.18.0.1'], ipEchoUrl: undefined },
    source: 'test',
  };
  const changes: Change[] = [];
  const report = (change: Change) => changes.push(change);
  try {
    await host.handle.vethAdd({
      name: 'veth-net',
      peerName: 'veth-net',
      peerNamespace: provider.handle,
    });
    await host.handle.addrAdd('veth-net', '198.18.0.1/30');
    await provider.handle.addrAdd('veth-net', '198.18.0.2/30');
    for (const ns of [host, provider]) {
      await ns.handle.linkSetUp('veth-net');
      await ns.handle.linkSetUp('lo');
    }
    const vaultKeys = generateKeyPair();
    const providerKeys = generateKeyPair();
    await createInterface({ name: wgName, namespace: provider.handle });
    await configureInterface(
      { name: wgName, namespace: provider.handle },
      {
        privateKey: providerKeys.privateKey,
        listenPort: 51820,
        peers: [{ publicKey: vaultKeys.publicKey, allowedIps: ['10.64.0.2/32'] }],
      },
    );
    await provider.handle.addrAdd(wgName, '10.64.0.1/24');
    await provider.handle.linkSetUp(wgName);
    writeFileSync(`${work}/vault.key`, `${vaultKeys.privateKey}\n`, { mode: 0o600 });
    writeFileSync(
      config.tunnel.file,
      JSON.stringify({
        addresses: ['10.64.0.2/32'],
        dns: ['10.64.0.1'],
        privateKeyFile: `${work}/vault.key`,
        peers: [
          {
            publicKey: providerKeys.publicKey,
            endpoint: '198.18.0.2:51820',
            allowedIps: ['0.0.0.0/0'],
          },
        ],
      }),
    );

    const first = await up(config, report);
    assert.ok(first.changed);
    const vault = openNamespace({ name: config.vault });
    try {
      // The reverse-proxy path: the host reaches a server in the vault at 10.200.1.2.
      const server = vault.spawn(
        process.execPath,
        [
          '-e',
          "require('node:http').createServer((q, r) => r.end('vault')).listen(8989, '10.200.1.2')",
        ],
        { stdio: 'ignore', reject: false },
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      const proxied = await probe(host.handle, 'http', 'http://10.200.1.2:8989/', {
        timeoutMs: 3000,
      });
      server.kill('SIGKILL');
      assert.ok(proxied.ok, `host → vault service: ${proxied.detail}`);

      await vault.exec('ping', ['-c', '1', '-W', '2', '10.64.0.1']);
      await waitForHandshake(
        { name: config.tunnel.interface, namespace: vault },
        { timeoutMs: 10_000 },
      );

      changes.length = 0;
      const second = await up(config, report);
      assert.not.ok(second.changed, JSON.stringify(changes.filter((c) => c.sign !== '=')));
      const facts = await status(config);
      assert.ok(facts.healthy, facts.problems.join('; '));

      // `netvault exec` runs in the vault with the vault's resolv.conf, and passes the exit code.
      const configFile = `${work}/netvault.json`;
      const { source: _source, ...written } = config;
      writeFileSync(configFile, JSON.stringify(written));
      const seen = `${work}/exec-out`;
      const script = `cat /etc/resolv.conf > ${seen}; ip -o link show | wc -l >> ${seen}; exit 3`;
      assert.is(await main(['exec', '-c', configFile, '--', 'sh', '-c', script]), 3);
      const [resolv, links] = readFileSync(seen, 'utf8').split(/(?<=options edns0\n)/);
      assert.match(resolv, /^nameserver 10\.64\.0\.1$/m);
      assert.is(links.trim(), '3', "lo, veth-vault and the tunnel: the vault's links");
      const report1 = await verify(config);
      assert.ok(report1.ok, JSON.stringify(report1, null, 1));

      // A default route via the host forced into the vault, with forwarding on in the host:
      // nothing reaches the provider that way; the host's drop counter rises.
      host.handle.sysctlSet('net.ipv4.ip_forward', 1);
      await deleteInterface({ name: config.tunnel.interface, namespace: vault });
      await vault.routeReplace({ destination: 'default', gateway: '10.200.1.1' });
      const before = await readCounters(host.handle, `netvault-${config.vault}`);
      const leaks = [];
      for (let i = 0; i < 20; i += 1) {
        const result = await probe(vault, i % 2 ? 'icmp' : 'tcp', '198.18.0.2', {
          port: 80,
          timeoutMs: 300,
        });
        if (result.ok) leaks.push(result);
      }
      assert.is(leaks.length, 0, 'no probe got out through the host');
      const after = await readCounters(host.handle, `netvault-${config.vault}`);
      const vaultCounters = await readCounters(vault, 'netvault');
      assert.ok(
        vaultCounters.leak_veth.packets > 0 ||
          after.leak_forward.packets > before.leak_forward.packets,
        `drops were counted: ${JSON.stringify({ before, after, vaultCounters })}`,
      );
      host.handle.sysctlSet('net.ipv4.ip_forward', 0);
    } finally {
      vault.close();
    }

    changes.length = 0;
    await down(config, report);
    assert.not.ok(namespaceExists(config.vault));
    assert.is(await host.handle.linkFind('veth-host'), undefined);
    const again = await down(config, report);
    assert.not.ok(again.changed, 'down is idempotent');
  } finally {
    await down(config, () => {}).catch(() => undefined);
    await deleteInterface({ name: wgName, namespace: provider.handle }, { missingOk: true }).catch(
      () => undefined,
    );
    rmSync(work, { recursive: true, force: true });
    provider.dispose();
    host.dispose();
  }
});

it('a failing up undoes what it created', async () => {
  const host = createTestNamespace('fhost');
  const work = mkdtempSync('/run/nvt-cli-');
  const config: VaultConfig = {
    ...structuredClone(DEFAULTS),
    vault: uniqueName('fvault'),
    hostNamespace: host.name,
    tunnel: { interface: 'veth-host', file: `${work}/tunnel.json`, implementation: 'auto' },
    source: 'test',
  };
  try {
    // A link named like the tunnel that is not netvault's: the tunnel step must refuse it.
    await host.handle.vethAdd({ name: 'veth-host-x', peerName: 'other0' });
    await host.handle.linkSetName('other0', 'tun-taken');
    config.tunnel.interface = 'tun-taken';
    const keys = generateKeyPair();
    writeFileSync(`${work}/k.key`, `${keys.privateKey}\n`, { mode: 0o600 });
    writeFileSync(
      config.tunnel.file,
      JSON.stringify({
        addresses: ['10.64.0.2/32'],
        dns: ['10.64.0.1'],
        privateKeyFile: `${work}/k.key`,
        peers: [
          { publicKey: keys.publicKey, endpoint: '198.18.0.2:51820', allowedIps: ['0.0.0.0/0'] },
        ],
      }),
    );
    let failed: Error | undefined;
    await up(config, () => {}).catch((error) => {
      failed = error;
    });
    assert.match(failed?.message ?? '', /step "tunnel" failed: tun-taken exists .* not netvault's/);
    assert.not.ok(namespaceExists(config.vault), 'the vault namespace was removed again');
    assert.is(
      await host.handle.linkFind('veth-host'),
      undefined,
      'the veth pair was removed again',
    );
    assert.ok(await host.handle.linkFind('tun-taken'), 'the foreign link is untouched');
  } finally {
    await down(config, () => {}).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    host.dispose();
  }
});

test.run();
