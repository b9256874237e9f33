// The landing page server over real sockets on loopback: what it serves, what it ingests,
// and everything it refuses (403, 413, 415, 422, 429) with nothing written. Each test runs its
// own server on a free port with its own directories.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import {
  startLandingZone,
  type LandingLogEntry,
  type LandingRequestEntry,
  type LandingZone,
  type LandingZoneOptions,
} from '../src/landing.ts';
import {
  brokenConf,
  brokenLine,
  makeDirs,
  providerConf,
  send,
  uploadHeaders,
  type Dirs,
} from './fixtures/landing/helpers.ts';

interface Running {
  zone: LandingZone;
  dirs: Dirs;
  log: LandingLogEntry[];
  requests(): LandingRequestEntry[];
}

async function withZone(
  options: Partial<LandingZoneOptions>,
  fn: (running: Running) => Promise<void>,
): Promise<void> {
  const dirs = makeDirs();
  const log: LandingLogEntry[] = [];
  let zone: LandingZone | undefined;
  try {
    zone = await startLandingZone({
      listen: '127.0.0.1:0',
      landingDir: dirs.landing,
      keyDir: dirs.keyDir,
      configDir: dirs.configDir,
      watch: false,
      log: (entry) => log.push(entry),
      ...options,
    });
    const requests = () => log.filter((e): e is LandingRequestEntry => e.kind === 'request');
    await fn({ zone, dirs, log, requests });
  } finally {
    await zone?.close();
    dirs.remove();
  }
}

const upload = (zone: LandingZone, body: string | Buffer, name?: string) =>
  send(`${zone.url}upload`, { method: 'POST', headers: uploadHeaders(zone.token, name), body });

test('GET / serves the page with its token, a strict policy and no caching', async () => {
  await withZone({}, async ({ zone, requests }) => {
    const page = await send(zone.url);
    assert.is(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.ok(page.text.includes(`content="${zone.token}"`));
    const policy = String(page.headers['content-security-policy']);
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'nonce-[^']+'/);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.is(page.headers['cache-control'], 'no-store');
    assert.is(page.headers['x-content-type-options'], 'nosniff');

    const head = await send(zone.url, { method: 'HEAD' });
    assert.is(head.status, 200);
    assert.is(head.text, '');
    assert.is((await send(`${zone.url}?x=1`)).status, 200);
    assert.equal(
      requests().map((e) => [e.status, e.outcome, e.client]),
      [
        [200, 'page', '127.0.0.1'],
        [200, 'page', '127.0.0.1'],
        [200, 'page', '127.0.0.1'],
      ],
    );
  });
});

test('a good file is ingested at once: key in a 0600 file, public parameters answered', async () => {
  await withZone({}, async ({ zone, dirs, requests }) => {
    const provider = providerConf();
    const answer = await upload(zone, provider.text, 'nl-ams-01.conf');
    assert.is(answer.status, 200, answer.text);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    const body = answer.json;
    assert.is(body.status, 'ingested');
    assert.is(body.name, 'nl-ams-01.conf');
    assert.equal(body.tunnel.addresses, ['10.34.0.7/32', 'fd7d:76ee:e68f:a993::7/128']);
    assert.equal(body.tunnel.dns, ['198.18.0.53', '2001:db8::53']);
    assert.is(body.tunnel.mtu, 1412);
    assert.is(body.tunnel.peers[0].publicKey, provider.peerKey);
    assert.is(body.tunnel.peers[0].endpoint, '198.18.10.20:51820');
    assert.is(body.tunnel.peers[0].presharedKey, true);
    assert.equal(body.ignored, ['PostUp']);
    assert.is(body.keyFile, join(dirs.keyDir, 'privado.key'));
    assert.not.ok(answer.text.includes(provider.privateKey), 'the private key is never answered');
    assert.not.ok(answer.text.includes(provider.presharedKey));

    assert.is(readFileSync(body.keyFile, 'utf8'), `${provider.privateKey}\n`);
    assert.is(statSync(body.keyFile).mode & 0o777, 0o600);
    const tunnel = readFileSync(join(dirs.configDir, 'tunnel.json'), 'utf8');
    assert.not.ok(tunnel.includes(provider.privateKey));
    assert.equal(
      dirs.files().filter((f) => f.startsWith('landing/')),
      [],
      'the upload was erased from the landing folder',
    );

    const entry = requests().at(-1)!;
    assert.is(entry.outcome, 'ingested');
    assert.match(entry.file!, /\/landing\/upload-\d{8}T\d{6}Z-[0-9a-f]{12}\.conf$/);
  });
});

test('a broken file is refused with its line and key, and never written', async () => {
  await withZone({}, async ({ zone, dirs, requests }) => {
    const broken = brokenConf();
    const answer = await upload(zone, broken.text, 'broken.conf');
    assert.is(answer.status, 422);
    assert.is(answer.json.status, 'refused');
    assert.is(answer.json.code, 'parse-error');
    assert.is(answer.json.line, brokenLine);
    assert.is(answer.json.key, 'PersistentKeepalive');
    assert.match(
      answer.json.reason,
      new RegExp(`broken\\.conf:${brokenLine}: PersistentKeepalive`),
    );
    assert.not.ok(answer.text.includes(broken.privateKey));
    assert.equal(dirs.files(), [], 'nothing reached the disk');
    assert.is(requests().at(-1)!.outcome, 'refused');

    const keyless = await upload(zone, '[Interface]\nAddress = 10.0.0.2/32\n', 'keyless.conf');
    assert.is(keyless.status, 422);
    assert.is(keyless.json.code, 'no-private-key');
    const empty = await upload(zone, '');
    assert.is(empty.status, 400);
    assert.equal(dirs.files(), []);
  });
});

test('over 64 KiB: 413 before anything is written, by Content-Length or while reading', async () => {
  await withZone({}, async ({ zone, dirs, requests }) => {
    const big = Buffer.alloc(64 * 1024 + 1, 0x23);
    const declared = await upload(zone, big);
    assert.is(declared.status, 413);
    assert.match(declared.text, /^413 too large: larger than 65536 bytes/);

    const exact = await upload(zone, Buffer.alloc(64 * 1024, 0x23));
    assert.is(exact.status, 422, '64 KiB itself is read (and refused as no config)');

    // Only the headers are sent: the answer comes without waiting for the body.
    const early = await send(`${zone.url}upload`, {
      method: 'POST',
      body: 'x',
      headers: { ...uploadHeaders(zone.token), 'content-length': '10000000' },
    });
    assert.is(early.status, 413);

    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${zone.url}upload`,
        { method: 'POST', agent: false, headers: uploadHeaders(zone.token) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(4096, 0x23));
      req.end();
    });
    assert.is(chunked, 413);

    type Expecting = { status: number; continued: boolean };
    const expecting = await new Promise<Expecting>((resolve, reject) => {
      let continued = false;
      const req = httpRequest(
        `${zone.url}upload`,
        {
          method: 'POST',
          agent: false,
          headers: {
            ...uploadHeaders(zone.token),
            expect: '100-continue',
            'content-length': String(big.length),
          },
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, continued });
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end(big);
      });
      req.on('error', reject);
    });
    assert.equal(expecting, { status: 413, continued: false }, 'no 100 Continue for a refusal');

    assert.equal(dirs.files(), []);
    assert.ok(
      requests()
        .filter((e) => e.status === 413)
        .every((e) => e.client === '127.0.0.1'),
    );
  });
});

test('file names from the client are never paths', async () => {
  await withZone({}, async ({ zone, dirs }) => {
    // Percent-decoded once: a doubly encoded name is shown as it was, still without a path.
    const tricks = [
      '../../../../tmp/nv-escape.conf',
      '/etc/cron.d/nv',
      '..%2F..%2Fescape.conf',
      'C:\\Windows\\escape.conf',
      '.hidden.conf',
      '..',
      'con\u0000f.conf',
      '\u202Efnoc.exe',
      `${'../'.repeat(40)}x.conf`,
    ];
    const shown: string[] = [];
    for (const name of tricks) {
      const answer = await upload(zone, providerConf().text, name);
      assert.is(answer.status, 200, `${name}: ${answer.text}`);
      shown.push(answer.json.name);
    }
    assert.equal(shown, [
      'nv-escape.conf',
      'nv',
      '..%2F..%2Fescape.conf',
      'escape.conf',
      '.hidden.conf',
      'upload.conf',
      'conf.conf',
      'fnoc.exe',
      'x.conf',
    ]);

    // Outside the landing folder only the ingest outputs exist; nothing escaped.
    assert.equal(
      dirs.files().filter((f) => !f.startsWith('landing/')),
      ['config/tunnel.json', 'config/tunnel.nix', 'keys/privado.key', 'keys/privado.peer1.psk'],
    );
    assert.throws(() => statSync('/tmp/nv-escape.conf'));

    for (const rawPath of [
      '/upload/../upload',
      '/../upload',
      '//upload',
      '/%2E%2E/upload',
      '/upload/',
    ]) {
      const raw = await send(zone.url, {
        method: 'POST',
        rawPath,
        headers: uploadHeaders(zone.token),
        body: providerConf().text,
      });
      assert.is(raw.status, 404, `${rawPath}: paths are matched as sent, never resolved`);
    }
  });
});

test('cross-site submissions are refused: token, Origin, Sec-Fetch-Site, form types', async () => {
  await withZone({}, async ({ zone, dirs, requests }) => {
    const good = providerConf().text;
    const post = (headers: Record<string, string>) =>
      send(`${zone.url}upload`, { method: 'POST', headers, body: good });
    const base = uploadHeaders(zone.token) as Record<string, string>;
    const { 'x-netvault-token': _, ...noToken } = base;

    assert.is((await post(noToken)).status, 403);
    assert.is((await post({ ...base, 'x-netvault-token': 'guess' })).status, 403);
    const foreign = await post({ ...base, origin: 'http://evil.example' });
    assert.is(foreign.status, 403);
    assert.match(foreign.text, /^403 forbidden: cross-site request refused/);
    assert.is(foreign.headers.connection, 'close', 'an unread body never becomes a request');
    assert.is((await post({ ...base, 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.is((await post({ ...base, 'sec-fetch-site': 'same-site' })).status, 403);

    // What a plain <form> can send, token or not: never accepted.
    for (const type of [
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
    ]) {
      assert.is((await post({ ...noToken, 'content-type': type })).status, 403, type);
      const answer = await post({ ...base, 'content-type': type });
      assert.is(answer.status, 415, type);
      assert.match(answer.text, /one file as the request body/);
    }

    const sameOrigin = await post({
      ...base,
      origin: zone.url.slice(0, -1),
      'sec-fetch-site': 'same-origin',
    });
    assert.is(sameOrigin.status, 200, sameOrigin.text);
    assert.equal(
      dirs.files().filter((f) => f.startsWith('landing/')),
      [],
    );
    assert.ok(
      requests()
        .filter((e) => e.status === 403)
        .every((e) => e.reason !== undefined),
    );
  });
});

test('a Host name nobody configured is refused (DNS rebinding)', async () => {
  await withZone({ hosts: ['landing.home.lan'] }, async ({ zone }) => {
    const rebound = await send(zone.url, { headers: { host: 'attacker.example:10023' } });
    assert.is(rebound.status, 403);
    assert.match(rebound.text, /host name "attacker.example" is not served here/);
    assert.is((await send(zone.url, { headers: { host: 'landing.home.lan' } })).status, 200);
    assert.is((await send(zone.url, { headers: { host: 'localhost:1' } })).status, 200);
  });
});

test('methods and paths: 405 with Allow, 404 elsewhere', async () => {
  await withZone({}, async ({ zone }) => {
    const put = await send(`${zone.url}upload`, { method: 'PUT' });
    assert.is(put.status, 405);
    assert.is(put.headers.allow, 'POST');
    assert.is((await send(zone.url, { method: 'POST', body: '' })).status, 405);
    assert.is((await send(`${zone.url}favicon.ico`)).status, 404);
  });
});

test('requests are limited per client address: 429 with Retry-After', async () => {
  await withZone({ rateLimit: { burst: 3, perSecond: 0.01 } }, async ({ zone, requests }) => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(zone.url)).status);
    assert.equal(statuses, [200, 200, 200, 429, 429]);
    const limited = await send(zone.url);
    assert.is(limited.headers['retry-after'], '100');
    assert.match(limited.text, /^429 too many requests: too many requests from 127\.0\.0\.1/);
    assert.is(requests().at(-1)!.outcome, 'limited');
  });
});

test('a spoofed X-Forwarded-For from a client that is no trusted proxy changes nothing', async () => {
  await withZone({ allow: ['10.0.0.0/8'] }, async ({ zone, requests }) => {
    const spoofed = await send(zone.url, { headers: { 'x-forwarded-for': '10.1.2.3' } });
    assert.is(spoofed.status, 403);
    assert.is(spoofed.text, '403 forbidden: 127.0.0.1: not in the allowed ranges\n');
    const entry = requests().at(-1)!;
    assert.equal(
      [entry.peer, entry.client, entry.proxied, entry.outcome, entry.forwardedIgnored],
      ['127.0.0.1', '127.0.0.1', false, 'forbidden', true],
    );
  });

  await withZone({ allow: ['10.0.0.0/8'], trustedProxies: ['10.200.1.1/32'] }, async ({ zone }) => {
    const spoofed = await send(zone.url, { headers: { 'x-forwarded-for': '10.1.2.3' } });
    assert.is(spoofed.status, 403, 'the peer is not the trusted proxy');
  });
});

test('from a trusted proxy the client comes from X-Forwarded-For (rightmost, depth, excluded)', async () => {
  await withZone(
    { allow: ['192.168.0.0/16'], trustedProxies: ['127.0.0.1/32'] },
    async ({ zone, requests }) => {
      const xff = (value?: string) =>
        send(zone.url, { headers: value === undefined ? {} : { 'x-forwarded-for': value } });
      assert.is((await xff('192.168.2.10')).status, 200);
      assert.equal([requests().at(-1)!.client, requests().at(-1)!.proxied], ['192.168.2.10', true]);
      assert.is((await xff('192.168.2.10, 198.18.0.9')).status, 403, 'rightmost counts');
      assert.is((await xff('198.18.0.9')).status, 403);
      const bare = await xff();
      assert.is(bare.status, 403);
      assert.match(bare.text, /through proxy 127\.0\.0\.1 names no usable client address/);
    },
  );

  await withZone(
    { allow: ['192.168.0.0/16'], trustedProxies: ['127.0.0.0/8'], depth: 2 },
    async ({ zone }) => {
      const answer = await send(zone.url, {
        headers: { 'x-forwarded-for': '192.168.2.10, 198.18.0.9' },
      });
      assert.is(answer.status, 200);
    },
  );

  await withZone(
    { allow: ['192.168.0.0/16'], trustedProxies: ['127.0.0.1'], excludedIPs: ['198.18.0.0/15'] },
    async ({ zone }) => {
      const answer = await send(zone.url, {
        headers: { 'x-forwarded-for': '192.168.2.10, 198.18.0.9, 198.19.0.1' },
      });
      assert.is(answer.status, 200);
    },
  );
});

test('dual-stack socket: IPv4 clients arrive as ::ffff:a.b.c.d and are checked as IPv4', async () => {
  await withZone({ listen: '[::]:0', allow: ['127.0.0.0/8'] }, async ({ zone, requests }) => {
    const answer = await send(zone.url, {
      connectTo: '127.0.0.1',
      headers: { host: `127.0.0.1:${zone.port}` },
    });
    assert.is(answer.status, 200);
    assert.equal(
      [requests().at(-1)!.peer, requests().at(-1)!.client],
      ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
    );
    const v6 = await send(zone.url, { connectTo: '::1', headers: { host: `[::1]:${zone.port}` } });
    assert.is(v6.status, 403, '::1 is not in 127.0.0.0/8');
  });

  await withZone({ listen: '[::]:0', allow: ['::1/128'] }, async ({ zone }) => {
    const mapped = await send(zone.url, {
      connectTo: '127.0.0.1',
      headers: { host: `127.0.0.1:${zone.port}` },
    });
    assert.is(mapped.status, 403);
    assert.is(mapped.text, '403 forbidden: ::ffff:127.0.0.1: not in the allowed ranges\n');
  });

  await withZone(
    { listen: '[::]:0', allow: ['192.168.0.0/16'], trustedProxies: ['127.0.0.1'] },
    async ({ zone }) => {
      const proxied = await send(zone.url, {
        connectTo: '127.0.0.1',
        headers: { host: `127.0.0.1:${zone.port}`, 'x-forwarded-for': '::ffff:192.168.2.10' },
      });
      assert.is(proxied.status, 200, 'a mapped peer matches an IPv4 trusted proxy');
    },
  );
});

test('the watcher ingests a file dropped into the folder by hand', async () => {
  await withZone({ watch: { settleMs: 50, rescanMs: 0 } }, async ({ dirs, log }) => {
    const file = join(dirs.landing, 'by-hand.conf');
    writeFileSync(file, providerConf().text, { mode: 0o600 });
    for (let i = 0; i < 100 && !log.some((e) => e.kind === 'watch'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const entry = log.find((e) => e.kind === 'watch');
    assert.ok(entry, 'the watcher reported');
    assert.is(entry!.kind === 'watch' && entry!.result?.status, 'ingested');
    assert.throws(() => statSync(file));
  });
});

test('the landing folder must not be a symlink or writable by others', async () => {
  const dirs = makeDirs();
  try {
    const { chmodSync, symlinkSync } = await import('node:fs');
    chmodSync(dirs.landing, 0o777);
    let error: Error | undefined;
    try {
      await startLandingZone({
        listen: '127.0.0.1:0',
        landingDir: dirs.landing,
        keyDir: dirs.keyDir,
        configDir: dirs.configDir,
        watch: false,
      });
    } catch (caught) {
      error = caught as Error;
    }
    assert.match(String(error?.message), /lets group or others write there/);

    const link = join(dirs.base, 'link');
    symlinkSync(dirs.landing, link);
    error = undefined;
    try {
      await startLandingZone({
        listen: '127.0.0.1:0',
        landingDir: link,
        keyDir: dirs.keyDir,
        configDir: dirs.configDir,
        watch: false,
      });
    } catch (caught) {
      error = caught as Error;
    }
    assert.match(String(error?.message), /symbolic link/);
  } finally {
    dirs.remove();
  }
});

test.run();
