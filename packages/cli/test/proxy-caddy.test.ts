// A real reverse proxy (Caddy, from Debian) with the Caddyfile of `netvault proxy-config caddy`,
// in front of a service in a vault, in namespaces this test makes:
//
//   allowed client 192.168.2.10 ──┐      host (Caddy :8080)      vault
//                                 ├──► 192.168.2.1 / 198.18.5.1 ── 10.200.1.1 ⇄ 10.200.1.2:8989
//   refused client 198.18.5.2 ────┘
//
// The allowed client gets the service's answer through Caddy, the refused one a 403 that
// never reaches the vault, and neither can reach the vault except through the proxy.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetnsHandle } from '@netvault/netns';
import { createTestNamespace, privilegedTest, type TestNamespace } from '@netvault/netns/testing';
import { caddyfile, DEFAULT_ALLOW_LIST } from '../src/proxy-config.ts';

const caddyMissing =
  spawnSync('caddy', ['version']).status === 0 ? undefined : 'caddy not found (Debian: caddy)';
const it = privilegedTest(test, 'Caddy end-to-end test', caddyMissing);

const port = 8080;

/** HTTP status and body of a GET for `host` sent to `address` from inside `client`. */
async function get(client: NetnsHandle, host: string, address: string, targetPort = port) {
  const result = await client.exec('curl', [
    '-s',
    '--max-time',
    '5',
    '-o',
    '-',
    '-w',
    '\n%{http_code}',
    '--resolve',
    `${host}:${targetPort}:${address}`,
    `http://${host}:${targetPort}/`,
  ]);
  const lines = result.stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n'), exitCode: result.exitCode };
}

it('Caddy serves the vault to an allowed client and refuses the other', async () => {
  const made: TestNamespace[] = [];
  const work = mkdtempSync(join(tmpdir(), 'nvt-caddy-'));
  const processes: { kill(signal?: NodeJS.Signals): boolean }[] = [];
  try {
    const [host, vault, allowed, refused] = ['host', 'vault', 'ok', 'no'].map((tag) => {
      const ns = createTestNamespace(tag);
      made.push(ns);
      return ns.handle;
    });
    await host.vethAdd({ name: 'veth-host', peerName: 'veth-vault', peerNamespace: vault });
    await host.vethAdd({ name: 'veth-ok', peerName: 'eth0', peerNamespace: allowed });
    await host.vethAdd({ name: 'veth-no', peerName: 'eth0', peerNamespace: refused });
    await host.addrAdd('veth-host', '10.200.1.1/30');
    await vault.addrAdd('veth-vault', '10.200.1.2/30');
    await host.addrAdd('veth-ok', '192.168.2.1/24');
    await allowed.addrAdd('eth0', '192.168.2.10/24');
    await host.addrAdd('veth-no', '198.18.5.1/24');
    await refused.addrAdd('eth0', '198.18.5.2/24');
    const links = [
      [host, ['veth-host', 'veth-ok', 'veth-no']],
      [vault, ['veth-vault']],
      [allowed, ['eth0']],
      [refused, ['eth0']],
    ] as const;
    for (const [handle, names] of links) {
      for (const link of ['lo', ...names]) await handle.linkSetUp(link);
    }

    // The service in the vault tells who reached it; each request is also logged to stdout.
    const server = vault.spawn(
      process.execPath,
      [
        '-e',
        `
      require('node:http').createServer((request, response) => {
        console.log('hit ' + request.socket.remoteAddress + ' ' + request.headers.host);
        response.end('sonarr in the vault, reached from ' + request.socket.remoteAddress);
      }).listen(8989, '10.200.1.2', () => console.log('ready'));`,
      ],
      { reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'inherit' },
    );
    processes.push(server);
    const hits: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the vault server did not start')), 10_000);
      server.stdout!.on('data', (chunk: Buffer) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          if (line === 'ready') {
            clearTimeout(timer);
            resolve();
          } else hits.push(line);
        }
      });
    });

    const config = join(work, 'Caddyfile');
    writeFileSync(
      config,
      caddyfile({
        services: [{ name: 'sonarr', port: 8989 }],
        upstream: '10.200.1.2',
        allowList: DEFAULT_ALLOW_LIST,
        domain: 'home.lan',
        entryPoint: 'web',
        listen: `:${port}`,
      }),
    );
    const caddy = host.spawn('caddy', ['run', '--config', config, '--adapter', 'caddyfile'], {
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
      cwd: work,
      env: { HOME: work, XDG_CONFIG_HOME: join(work, 'config'), XDG_DATA_HOME: join(work, 'data') },
    });
    processes.push(caddy);
    let caddyLog = '';
    caddy.stderr!.on('data', (chunk: Buffer) => {
      caddyLog += String(chunk);
    });

    let first = await get(allowed, 'sonarr.home.lan', '192.168.2.1');
    for (let i = 0; i < 50 && first.status === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      first = await get(allowed, 'sonarr.home.lan', '192.168.2.1');
    }
    assert.is(first.status, 200, `allowed client through Caddy: ${first.body}\n${caddyLog}`);
    assert.is(first.body, 'sonarr in the vault, reached from 10.200.1.1');
    assert.equal(hits, ['hit 10.200.1.1 sonarr.home.lan:8080']);

    const denied = await get(refused, 'sonarr.home.lan', '198.18.5.1');
    assert.is(denied.status, 403, `refused client: ${denied.body}`);
    assert.is(hits.length, 1, 'a refused request must not reach the vault');

    // Only through the proxy: neither client has a route to the vault's address.
    for (const client of [allowed, refused]) {
      const direct = await get(client, '10.200.1.2', '10.200.1.2', 8989);
      assert.is(direct.status, 0, `direct to the vault: ${direct.body}`);
    }
    assert.is(hits.length, 1);

    // Caddy listens on the site's port only: no admin API (2019), no HTTPS port.
    const sockets = await host.exec('ss', ['-Hltn']);
    const listening = sockets.stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3]);
    assert.equal(listening, [`*:${port}`], sockets.stdout);
  } finally {
    for (const child of processes) child.kill('SIGKILL');
    for (const ns of made.reverse()) ns.dispose();
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
