// `netvault demo`: the whole killswitch on any Linux box, as root, touching nothing of the
// machine's own network. It builds, inside namespaces it makes and removes:
//
//   nvdemo-PID-host ("the host")        nvdemo-PID-provider ("the internet" + the VPN)
//   veth-net 198.18.0.1/30  ◄────────►  veth-net 198.18.0.2/30, WireGuard peer :51820
//   veth-host 10.200.1.1/30             IP-echo HTTP server on 198.18.10.1:80, tunnel 10.64.0.1
//        ▲
//        ▼  nvdemo-PID-vault: veth-vault 10.200.1.2/30, privado-demo 10.64.0.2 (moved in)
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createNamespace,
  deleteNamespace,
  namespaceExists,
  openNamespace,
  type NetnsHandle,
} from '@netvault/netns';
import {
  configureInterface,
  createInterface,
  deleteInterface,
  generateKeyPair,
  waitForHandshake,
} from '@netvault/wg';
import type { Reporter } from './changes.ts';
import { DEFAULTS, type VaultConfig } from './config.ts';
import { probe } from './probes.ts';
import { formatStatus } from './status-view.ts';
import { down, status, up } from './topology.ts';
import { formatVerify, verify } from './verify.ts';

const echoServer = `
require('node:http').createServer((req, res) => {
  res.end(req.socket.remoteAddress.replace(/^::ffff:/, '') + '\\n');
}).listen(80, '198.18.10.1');
`;

export async function demo(report: Reporter, say: (line: string) => void): Promise<boolean> {
  const tag = `nvdemo-${process.pid.toString(36)}`;
  const names = { host: `${tag}-host`, provider: `${tag}-provider`, vault: `${tag}-vault` };
  const work = mkdtempSync('/run/netvault-demo-');
  chmodSync(work, 0o700);
  const handles: NetnsHandle[] = [];
  let interrupted = false;
  const cleanupSteps: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const step of cleanupSteps.reverse()) {
      try {
        await step();
      } catch (error) {
        say(`cleanup: ${(error as Error).message}`);
      }
    }
    cleanupSteps.length = 0;
    for (const handle of handles) handle.close();
    for (const name of Object.values(names)) if (namespaceExists(name)) deleteNamespace(name);
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('interrupted: removing everything the demo made');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const config: VaultConfig = {
    ...structuredClone(DEFAULTS),
    vault: names.vault,
    hostNamespace: names.host,
    tunnel: { interface: 'privado-demo', file: `${work}/tunnel.json`, implementation: 'auto' },
    verify: { mustNotReach: ['198.18.0.1'], ipEchoUrl: 'http://198.18.10.1/' },
    source: 'demo',
  };
  try {
    say(`1. the stand-ins: a host namespace and a provider namespace (${names.provider})`);
    createNamespace(names.host);
    createNamespace(names.provider);
    report({ sign: '+', text: `netns add ${names.host}` });
    report({ sign: '+', text: `netns add ${names.provider}` });
    const host = openNamespace({ name: names.host });
    const provider = openNamespace({ name: names.provider });
    handles.push(host, provider);
    await host.vethAdd({ name: 'veth-net', peerName: 'veth-net', peerNamespace: provider });
    await host.addrAdd('veth-net', '198.18.0.1/30');
    await provider.addrAdd('veth-net', '198.18.0.2/30');
    await provider.addrAdd('lo', '198.18.10.1/32');
    for (const [ns, link] of [
      [host, 'lo'],
      [host, 'veth-net'],
      [provider, 'lo'],
      [provider, 'veth-net'],
    ] as const) {
      await ns.linkSetUp(link);
    }
    await host.routeAdd({ destination: 'default', gateway: '198.18.0.2' });
    report({
      sign: '+',
      text:
        'link add veth-net (host ⇄ provider), 198.18.0.1/30 ⇄ 198.18.0.2/30, ' +
        'default via 198.18.0.2 (host)',
    });

    const vaultKeys = generateKeyPair();
    const providerKeys = generateKeyPair();
    const providerWg = await createInterface({
      name: `${tag.slice(0, 10)}-p`,
      namespace: provider,
    });
    cleanupSteps.push(() =>
      deleteInterface({ name: providerWg.name, namespace: provider }, { missingOk: true }).then(
        () => undefined,
      ),
    );
    await configureInterface(
      { name: providerWg.name, namespace: provider },
      {
        privateKey: providerKeys.privateKey,
        listenPort: 51820,
        peers: [{ publicKey: vaultKeys.publicKey, allowedIps: ['10.64.0.2/32'] }],
      },
    );
    await provider.addrAdd(providerWg.name, '10.64.0.1/24');
    await provider.linkSetUp(providerWg.name);
    report({
      sign: '+',
      text:
        `link add ${providerWg.name} type wireguard ` +
        `(provider, ${providerWg.implementation}), 10.64.0.1/24, :51820`,
    });
    const server = provider.spawn(process.execPath, ['-e', echoServer], {
      stdio: 'ignore',
      reject: false,
    });
    cleanupSteps.push(() => {
      server.kill('SIGKILL');
    });
    report({ sign: '+', text: 'IP-echo server on 198.18.10.1:80 (provider)' });

    writeFileSync(`${work}/privado.key`, `${vaultKeys.privateKey}\n`, { mode: 0o600 });
    writeFileSync(
      config.tunnel.file,
      JSON.stringify(
        {
          name: 'privado-demo',
          addresses: ['10.64.0.2/32'],
          dns: ['10.64.0.1'],
          mtu: 1420,
          privateKeyFile: `${work}/privado.key`,
          peers: [
            {
              publicKey: providerKeys.publicKey,
              endpoint: '198.18.0.2:51820',
              allowedIps: ['0.0.0.0/0', '::/0'],
              persistentKeepalive: 25,
            },
          ],
        },
        null,
        2,
      ),
    );
    mkdirSync(work, { recursive: true });
    cleanupSteps.push(() => down(config, report).then(() => undefined));

    say('\n2. netvault up');
    await up(config, report);
    const vault = openNamespace({ name: names.vault });
    handles.push(vault);
    await vault.exec('ping', ['-c', '1', '-W', '2', '10.64.0.1']);
    await waitForHandshake(
      { name: config.tunnel.interface, namespace: vault },
      { timeoutMs: 10_000 },
    );

    say('\n3. netvault verify');
    const first = await verify(config);
    say(formatVerify(first));

    say('\n4. netvault status');
    say(formatStatus(await status(config), config));

    say('\n5. the tunnel dies (its interface is deleted): the vault has no way out');
    await deleteInterface({ name: config.tunnel.interface, namespace: vault });
    report({ sign: '-', text: `link del ${config.tunnel.interface} (${names.vault})` });
    for (const [kind, target, port] of [
      ['http', 'http://198.18.10.1/'],
      ['icmp', '198.18.10.1'],
      ['tcp', '10.200.1.1', 80],
      ['udp', '198.18.0.2', 51820],
    ] as const) {
      const result = await probe(vault, kind, target, { port, timeoutMs: 1500 });
      const outcome = result.ok ? 'LEAK' : 'ok  ';
      const seen = result.ok ? 'reached' : 'blocked';
      say(
        `  ${outcome} ${kind} ${result.target}: ${seen} (${result.detail}, ${Math.round(result.ms)} ms)`,
      );
    }
    const left = (await vault.routeList({ table: 'all' })).filter(
      (r) => r.destination === 'default',
    );
    const described = left.map((r) => `${r.type} IPv${r.family} metric ${r.metric}`);
    say(`  default routes left in the vault: ${described.join(', ')}`);

    say('\n6. netvault up again repairs it');
    await up(config, report);
    await vault.exec('ping', ['-c', '1', '-W', '2', '10.64.0.1']);
    await waitForHandshake(
      { name: config.tunnel.interface, namespace: vault },
      { timeoutMs: 10_000, since: new Date(Date.now() - 1000) },
    );
    const echoed = await probe(vault, 'http', 'http://198.18.10.1/', { timeoutMs: 3000 });
    say(`  the IP-echo server sees the vault as ${echoed.detail}`);
    const again = await verify(config);
    say(again.ok ? '  verify: the killswitch holds' : formatVerify(again));

    say('\n7. netvault down, and the stand-ins removed');
    return first.ok && again.ok && !echoed.detail.startsWith('198.18.0.1');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) await cleanup();
    for (const name of [names.host, names.provider]) {
      if (!namespaceExists(name)) report({ sign: '-', text: `netns del ${name}` });
    }
  }
}
