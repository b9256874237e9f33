// `netvault landing-zone` across a real network, as root, in two namespaces this test makes:
//
//   server netns                                 client netns
//   lz-srv 198.18.77.1/24  ⇄────── veth ──────⇄  lz-cli 198.18.77.2/24, 198.18.77.3/24
//   netvault landing-zone on 198.18.77.1 or [::] node fixtures/landing/request.mjs
//
// The command runs as a user would start it; its stderr lines are the log checked here.
// 198.18.77.0/24 is in none of the local ranges, so the default list refuses the client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { privilegedTest, withTestNamespaces, type TestNamespace } from '@netvault/netns/testing';
import {
  fixtureDir,
  makeDirs,
  providerConf,
  repoRoot,
  type Dirs,
} from './fixtures/landing/helpers.ts';

const it = privilegedTest(test, 'landing zone namespace tests');

const SERVER = '198.18.77.1';
const CLIENT = '198.18.77.2';
const OTHER_CLIENT = '198.18.77.3';

async function wire(server: TestNamespace, client: TestNamespace): Promise<void> {
  await server.handle.vethAdd({ name: 'lz-srv', peerName: 'lz-cli', peerNamespace: client.handle });
  await server.handle.addrAdd('lz-srv', `${SERVER}/24`, { noDad: true });
  await client.handle.addrAdd('lz-cli', `${CLIENT}/24`, { noDad: true });
  await client.handle.addrAdd('lz-cli', `${OTHER_CLIENT}/24`, { noDad: true });
  for (const [ns, link] of [
    [server, 'lz-srv'],
    [client, 'lz-cli'],
  ] as const) {
    await ns.handle.linkSetUp('lo');
    await ns.handle.linkSetUp(link);
  }
}

interface Served {
  lines: string[];
  /** Resolves with the next stderr line that matches. */
  next(pattern: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `netvault landing-zone ARGS…` in `ns` and waits for its "serving" line. */
async function serve(ns: TestNamespace, dirs: Dirs, args: string[]): Promise<Served> {
  const child = ns.handle.spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(repoRoot, 'packages/cli/src/netvault.ts'),
      'landing-zone',
      '--landing',
      dirs.landing,
      '--key-dir',
      dirs.keyDir,
      '--config-dir',
      dirs.configDir,
      ...args,
    ],
    { cwd: repoRoot, reject: false, stdout: 'ignore', stderr: 'pipe', buffer: false },
  );

  const lines: string[] = [];
  const waiting: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let seen = 0;
  const offer = () => {
    for (const waiter of [...waiting]) {
      const index = lines.findIndex((line, i) => i >= seen && waiter.pattern.test(line));
      if (index < 0) continue;
      seen = index + 1;
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(lines[index]);
    }
  };
  createInterface({ input: child.stderr! }).on('line', (line) => {
    lines.push(line);
    offer();
  });

  const next = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line like ${pattern} in:\n${lines.join('\n')}`)),
        20_000,
      );
      waiting.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      offer();
    });
  const stop = async () => {
    child.kill('SIGTERM');
    await child;
  };

  try {
    await next(/^landing-zone: serving /);
  } catch (error) {
    await stop();
    throw error;
  }
  return { lines, next, stop };
}

interface Reply {
  status?: number;
  text?: string;
  error?: string;
}

async function fetchFrom(ns: TestNamespace, spec: Record<string, unknown>): Promise<Reply> {
  const result = await ns.handle.exec(
    process.execPath,
    [join(fixtureDir, 'request.mjs'), JSON.stringify(spec)],
    { timeoutMs: 20_000 },
  );
  return JSON.parse(result.stdout.trim() || `{"error":${JSON.stringify(result.stderr)}}`);
}

async function scenario(
  fn: (server: TestNamespace, client: TestNamespace, dirs: Dirs) => Promise<void>,
): Promise<void> {
  const dirs = makeDirs();
  try {
    await withTestNamespaces(['lzsrv', 'lzcli'], async (server, client) => {
      await wire(server, client);
      await fn(server, client, dirs);
    });
  } finally {
    dirs.remove();
  }
}

it('a client outside the default local ranges gets 403, logged with its address', async () => {
  await scenario(async (server, client, dirs) => {
    const zone = await serve(server, dirs, ['--listen', `${SERVER}:10023`]);
    try {
      const page = await fetchFrom(client, { host: SERVER, port: 10023 });
      assert.is(page.status, 403);
      assert.is(page.text, `403 forbidden: ${CLIENT}: not in the allowed ranges\n`);
      assert.is(
        await zone.next(/ 403 /),
        `landing-zone: ${CLIENT} GET / 403 forbidden: ${CLIENT}: not in the allowed ranges`,
      );

      const spoofed = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        headers: { 'x-forwarded-for': '127.0.0.1' },
      });
      assert.is(spoofed.status, 403, 'a header from an untrusted client changes nothing');
      await zone.next(new RegExp(`^landing-zone: ${CLIENT.replace(/\./g, '\\.')} GET / 403`));

      const uploaded = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        path: '/upload',
        method: 'POST',
        body: providerConf().text,
        headers: { 'content-type': 'application/octet-stream', 'x-forwarded-for': '127.0.0.1' },
      });
      assert.is(uploaded.status, 403);
      await zone.next(/POST \/upload 403 forbidden/);
      assert.equal(dirs.files(), [], 'nothing written');
    } finally {
      await zone.stop();
    }
  });
});

it('the same client on the list reaches the page and uploads; others stay out', async () => {
  await scenario(async (server, client, dirs) => {
    const zone = await serve(server, dirs, [
      '--listen',
      `${SERVER}:10023`,
      '--allow',
      `${CLIENT}/32,10.0.0.0/8`,
    ]);
    try {
      const page = await fetchFrom(client, { host: SERVER, port: 10023 });
      assert.is(page.status, 200);
      const token = /name="netvault-token" content="([^"]+)"/.exec(page.text!)![1];

      const provider = providerConf();
      const uploaded = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        path: '/upload',
        method: 'POST',
        body: provider.text,
        headers: {
          'content-type': 'application/octet-stream',
          'x-netvault-token': token,
          'x-netvault-filename': 'privado.conf',
        },
      });
      assert.is(uploaded.status, 200, uploaded.text);
      assert.is(JSON.parse(uploaded.text!).tunnel.peers[0].publicKey, provider.peerKey);
      assert.match(
        await zone.next(/POST \/upload 200/),
        /^landing-zone: 198\.18\.77\.2 POST \/upload 200 ingested "privado\.conf" as .*upload-/,
      );

      const other = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        localAddress: OTHER_CLIENT,
      });
      assert.is(other.status, 403);
      await zone.next(new RegExp(`${OTHER_CLIENT.replace(/\./g, '\\.')} GET / 403`));
    } finally {
      await zone.stop();
    }
  });
});

it('on a dual-stack socket the client is ::ffff:198.18.77.2 and is checked as IPv4', async () => {
  await scenario(async (server, client, dirs) => {
    const zone = await serve(server, dirs, ['--listen', '[::]:10024', '--allow', `${CLIENT}/32`]);
    try {
      const page = await fetchFrom(client, { host: SERVER, port: 10024 });
      assert.is(page.status, 200);
      assert.is(await zone.next(/ GET \/ /), `landing-zone: ::ffff:${CLIENT} GET / 200 page`);

      const other = await fetchFrom(client, {
        host: SERVER,
        port: 10024,
        localAddress: OTHER_CLIENT,
      });
      assert.is(other.status, 403);
      assert.is(other.text, `403 forbidden: ::ffff:${OTHER_CLIENT}: not in the allowed ranges\n`);
    } finally {
      await zone.stop();
    }
  });
});

it('X-Forwarded-For counts only from the trusted proxy address', async () => {
  await scenario(async (server, client, dirs) => {
    const zone = await serve(server, dirs, [
      '--listen',
      `${SERVER}:10023`,
      '--allow',
      '192.168.0.0/16',
      '--trusted-proxy',
      `${CLIENT}/32`,
    ]);
    try {
      const viaProxy = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        headers: { 'x-forwarded-for': '198.18.0.9, 192.168.2.10' },
      });
      assert.is(viaProxy.status, 200);
      assert.is(
        await zone.next(/ GET \/ 200/),
        `landing-zone: 192.168.2.10 via ${CLIENT} GET / 200 page`,
      );

      const spoofed = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        localAddress: OTHER_CLIENT,
        headers: { 'x-forwarded-for': '192.168.2.10' },
      });
      assert.is(spoofed.status, 403);
      assert.is(
        await zone.next(/ GET \/ 403/),
        `landing-zone: ${OTHER_CLIENT} GET / 403 forbidden (X-Forwarded-For ignored: not from a ` +
          `trusted proxy): ${OTHER_CLIENT}: not in the allowed ranges`,
      );

      const proxiedOutsider = await fetchFrom(client, {
        host: SERVER,
        port: 10023,
        headers: { 'x-forwarded-for': '192.168.2.10, 198.18.0.9' },
      });
      assert.is(proxiedOutsider.status, 403);
    } finally {
      await zone.stop();
    }
  });
});

test.run();
