// The landing page's pure parts: the token bucket, who counts as which client, the Host and
// cross-site checks, the clean-up of client file names, the listen address, the log lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../src/landing-limit.ts';
import {
  LandingAccess,
  crossSiteRefusal,
  displayName,
  hostOf,
  isAcceptedHost,
} from '../src/landing-guard.ts';
import { parseListen } from '../src/landing.ts';
import { escapeHtml, landingPage } from '../src/landing-page.ts';
import { uploadName } from '../src/landing-write.ts';
import { formatLandingEntry } from '../src/landing-cli.ts';

function requestFrom(remoteAddress: string, headers: Record<string, string> = {}) {
  return { socket: { remoteAddress }, headers };
}

test('rate limit: a burst, then one request per refill, per address', () => {
  let now = 0;
  const limiter = new RateLimiter({ burst: 3, perSecond: 0.5, now: () => now });
  for (let i = 0; i < 3; i++) assert.ok(limiter.take('10.0.0.1').allowed);
  const refused = limiter.take('10.0.0.1');
  assert.is(refused.allowed, false);
  assert.is(refused.retryAfterSeconds, 2);
  assert.ok(limiter.take('10.0.0.2').allowed, 'another address has its own bucket');

  now = 1999;
  assert.is(limiter.take('10.0.0.1').allowed, false);
  now = 2500;
  assert.ok(limiter.take('10.0.0.1').allowed);
  assert.is(limiter.take('10.0.0.1').allowed, false);
});

test('rate limit: the bucket never holds more than the burst', () => {
  let now = 0;
  const limiter = new RateLimiter({ burst: 2, perSecond: 10, now: () => now });
  limiter.take('a');
  now = 3_600_000;
  assert.ok(limiter.take('a').allowed);
  assert.ok(limiter.take('a').allowed);
  assert.is(limiter.take('a').allowed, false);
});

test('rate limit: past maxClients the least recently seen address is forgotten', () => {
  const limiter = new RateLimiter({ burst: 1, perSecond: 0.001, maxClients: 2, now: () => 0 });
  limiter.take('a');
  limiter.take('b');
  limiter.take('a');
  limiter.take('c');
  assert.is(limiter.size, 2);
  assert.is(limiter.take('a').allowed, false, 'a was used recently and kept');
  assert.ok(limiter.take('b').allowed, 'b was dropped and starts full');
});

test('rate limit: bad options are refused', () => {
  assert.throws(() => new RateLimiter({ burst: 0 }), /burst/);
  assert.throws(() => new RateLimiter({ perSecond: 0 }), /perSecond/);
  assert.throws(() => new RateLimiter({ maxClients: 1.5 }), /maxClients/);
});

test('access: the local preset by default, on the peer address', () => {
  const access = new LandingAccess();
  for (const peer of [
    '127.0.0.1',
    '::1',
    '192.168.2.10',
    '100.100.1.1',
    'fd7a:115c:a1e0::1',
    '::ffff:10.1.2.3',
    'fe80::1%eth0',
  ]) {
    assert.ok(access.decide(requestFrom(peer)).allowed, peer);
  }
  const outside = access.decide(requestFrom('198.18.0.2'));
  assert.is(outside.allowed, false);
  assert.is(outside.client, '198.18.0.2');
  assert.is(outside.reason, '198.18.0.2: not in the allowed ranges');
  assert.is(access.decide(requestFrom('::ffff:198.18.0.2')).allowed, false);
});

test('access: X-Forwarded-For from a peer that is not a trusted proxy is ignored', () => {
  const access = new LandingAccess({ allow: ['10.0.0.0/8'], trustedProxies: ['10.200.1.1/32'] });
  const spoofed = access.decide(requestFrom('198.18.0.2', { 'x-forwarded-for': '10.1.2.3' }));
  assert.is(spoofed.allowed, false);
  assert.is(spoofed.client, '198.18.0.2');
  assert.is(spoofed.forwardedIgnored, true);
  assert.is(spoofed.proxied, false);

  const withoutProxies = new LandingAccess({ allow: ['10.0.0.0/8'] });
  const again = withoutProxies.decide(requestFrom('198.18.0.2', { 'x-forwarded-for': '10.1.2.3' }));
  assert.is(again.allowed, false);
});

test('access: behind a trusted proxy, the rightmost entry by default', () => {
  const access = new LandingAccess({ allow: ['192.168.0.0/16'], trustedProxies: ['127.0.0.1'] });
  const proxied = access.decide(
    requestFrom('::ffff:127.0.0.1', { 'x-forwarded-for': '198.18.0.9, 192.168.2.10' }),
  );
  assert.ok(proxied.allowed);
  assert.is(proxied.client, '192.168.2.10');
  assert.is(proxied.proxied, true);

  const outside = access.decide(requestFrom('127.0.0.1', { 'x-forwarded-for': '198.18.0.9' }));
  assert.is(outside.allowed, false);
  assert.is(outside.client, '198.18.0.9');

  const bare = access.decide(requestFrom('127.0.0.1'));
  assert.is(bare.allowed, false, 'a proxied request must name its client');
  assert.match(bare.reason, /X-Forwarded-For/);
});

test('access: depth and excluded IPs pick the entry Traefik would', () => {
  const headers = { 'x-forwarded-for': '192.168.2.10, 198.18.0.9, 10.0.0.5' };
  const depth = new LandingAccess({
    allow: ['192.168.0.0/16'],
    trustedProxies: ['127.0.0.1'],
    depth: 3,
  });
  assert.is(depth.decide(requestFrom('127.0.0.1', headers)).client, '192.168.2.10');
  const tooDeep = new LandingAccess({ trustedProxies: ['127.0.0.1'], depth: 4 });
  assert.is(tooDeep.decide(requestFrom('127.0.0.1', headers)).allowed, false);

  const excluded = new LandingAccess({
    allow: ['198.18.0.0/15'],
    trustedProxies: ['127.0.0.1'],
    excludedIPs: ['10.0.0.0/8'],
  });
  assert.is(excluded.decide(requestFrom('127.0.0.1', headers)).client, '198.18.0.9');
  assert.throws(() => new LandingAccess({ depth: 1 }), /trustedProxies/);
});

test('host: IP literals, localhost and configured names only', () => {
  assert.is(hostOf('127.0.0.1:10023'), '127.0.0.1');
  assert.is(hostOf('[::1]:10023'), '::1');
  assert.is(hostOf('[::1]'), '::1');
  assert.is(hostOf('Landing.Home.Lan'), 'landing.home.lan');
  assert.is(hostOf('a b'), undefined);
  assert.is(hostOf('evil.example@127.0.0.1'), undefined);
  assert.is(hostOf(undefined), undefined);

  assert.ok(isAcceptedHost('192.168.2.73:10023', []));
  assert.ok(isAcceptedHost('[fd00::1]:10023', []));
  assert.ok(isAcceptedHost('localhost:10023', []));
  assert.ok(isAcceptedHost('landing.home.lan', ['Landing.home.lan']));
  assert.is(isAcceptedHost('rebind.evil.example:10023', ['landing.home.lan']), false);
  assert.is(isAcceptedHost(undefined, []), false);
});

test('cross-site: the token, and same-origin when the browser says where it comes from', () => {
  const token = 'T0ken';
  const base = { host: '127.0.0.1:10023', 'x-netvault-token': token };
  assert.is(crossSiteRefusal(base, token), undefined, 'curl sends neither Origin nor Sec-Fetch');
  assert.is(
    crossSiteRefusal(
      { ...base, origin: 'http://127.0.0.1:10023', 'sec-fetch-site': 'same-origin' },
      token,
    ),
    undefined,
  );
  assert.is(
    crossSiteRefusal(
      { ...base, host: 'landing.home.lan', origin: 'https://landing.home.lan' },
      token,
    ),
    undefined,
    'behind a TLS proxy',
  );

  assert.match(crossSiteRefusal({ ...base, 'sec-fetch-site': 'cross-site' }, token)!, /cross-site/);
  assert.match(crossSiteRefusal({ ...base, 'sec-fetch-site': 'same-site' }, token)!, /same-site/);
  assert.match(crossSiteRefusal({ ...base, origin: 'http://evil.example' }, token)!, /Origin/);
  assert.match(crossSiteRefusal({ ...base, origin: 'null' }, token)!, /Origin/);
  assert.match(crossSiteRefusal({ host: base.host }, token)!, /X-Netvault-Token/);
  assert.match(crossSiteRefusal({ ...base, 'x-netvault-token': 'T0kem' }, token)!, /Token/);
  assert.match(crossSiteRefusal({ ...base, 'x-netvault-token': 'T0ken0' }, token)!, /Token/);
});

test('file names: only shown, cut to a harmless last component', () => {
  assert.is(displayName('privado.conf'), 'privado.conf');
  assert.is(displayName(encodeURIComponent('../../etc/passwd')), 'passwd');
  assert.is(displayName('..%2F..%2Fetc%2Fshadow'), 'shadow');
  assert.is(displayName('C:\\Users\\me\\Downloads\\nl-ams.conf'), 'nl-ams.conf');
  assert.is(displayName('/etc/'), 'upload.conf');
  assert.is(displayName('..'), 'upload.conf');
  assert.is(displayName(encodeURIComponent('a\u0000b\r\n.conf')), 'ab.conf');
  assert.is(displayName(encodeURIComponent('\u202Efnoc.exe')), 'fnoc.exe');
  assert.is(displayName('%E0%A4%A'), '%E0%A4%A', 'bad percent-encoding is shown as sent');
  assert.is(displayName(undefined), 'upload.conf');
  assert.is(displayName('x'.repeat(500)).length, 80);
});

test('upload names are chosen by the server', () => {
  assert.is(
    uploadName(new Date('2025-01-02T03:04:05.678Z'), 'a1b2c3d4e5f6'),
    'upload-20250102T030405Z-a1b2c3d4e5f6.conf',
  );
  assert.match(uploadName(), /^upload-\d{8}T\d{6}Z-[0-9a-f]{12}\.conf$/);
  assert.is.not(uploadName(), uploadName());
});

test('listen address: ADDR:PORT with an IP literal', () => {
  assert.equal(parseListen('127.0.0.1:10023'), { host: '127.0.0.1', port: 10023 });
  assert.equal(parseListen('[::]:10023'), { host: '::', port: 10023 });
  assert.equal(parseListen('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  for (const bad of [
    '127.0.0.1',
    'localhost:10023',
    '::1:10023',
    '127.0.0.1:65536',
    '127.0.0.1:http',
    '127.0.0.1:',
    '[::1]',
  ]) {
    assert.throws(() => parseListen(bad), /ADDR:PORT/, bad);
  }
});

test('page: the token and host are escaped, and no external resource is named', () => {
  const page = landingPage({
    token: 'abc',
    nonce: 'n0nce',
    maxBytes: 65536,
    host: '127.0.0.1:10023"><script>',
  });
  assert.ok(page.includes('<meta name="netvault-token" content="abc">'));
  assert.not.ok(page.includes('"><script>'));
  assert.ok(page.includes('&#34;&#62;&#60;script&#62;'));
  assert.not.match(page, /(src|href)="https?:/);
  assert.is(page.match(/<script nonce="n0nce">/g)?.length, 1);
  assert.ok(page.includes('name="viewport"'));
  assert.is(escapeHtml(`<&>"'`), '&#60;&#38;&#62;&#34;&#39;');
});

test('log lines: one per decision, with the address', () => {
  const base = { kind: 'request' as const, method: 'GET', path: '/', proxied: false };
  assert.is(
    formatLandingEntry({
      ...base,
      status: 403,
      outcome: 'forbidden',
      peer: '198.18.0.2',
      client: '198.18.0.2',
      reason: '198.18.0.2: not in the allowed ranges',
    }),
    'landing-zone: 198.18.0.2 GET / 403 forbidden: 198.18.0.2: not in the allowed ranges',
  );
  assert.is(
    formatLandingEntry({
      ...base,
      method: 'POST',
      path: '/upload',
      status: 200,
      outcome: 'ingested',
      peer: '127.0.0.1',
      client: '192.168.2.10',
      proxied: true,
      name: 'nl "1".conf',
      file: '/run/netvault/landing/upload-x.conf',
    }),
    'landing-zone: 192.168.2.10 via 127.0.0.1 POST /upload 200 ingested "nl \\"1\\".conf" as ' +
      '/run/netvault/landing/upload-x.conf',
  );
  assert.is(
    formatLandingEntry({
      ...base,
      status: 200,
      outcome: 'page',
      peer: '127.0.0.1',
      client: '127.0.0.1',
      forwardedIgnored: true,
    }),
    'landing-zone: 127.0.0.1 GET / 200 page (X-Forwarded-For ignored: not from a trusted proxy)',
  );
  assert.is(
    formatLandingEntry({ kind: 'watch', file: '/l/x.conf', error: new Error('EACCES') }),
    'landing-zone: watcher: /l/x.conf: EACCES',
  );
});

test('the command: bad options are refused with exit 2 before anything starts', async () => {
  const { main } = await import('../src/main.ts');
  const said: string[] = [];
  const write = process.stderr.write;
  const stdout = process.stdout.write;
  const capture = ((text: string) => said.push(text) > 0) as typeof process.stderr.write;
  process.stderr.write = capture;
  process.stdout.write = capture;
  try {
    assert.is(await main(['landing-zone', '--listen', 'localhost:10023']), 2);
    assert.is(await main(['landing-zone', '--depth', '2']), 2);
    assert.is(await main(['landing-zone', '--trusted-proxy', '127.0.0.1', '--depth', 'x']), 2);
    assert.is(await main(['landing-zone', '--allow', '10.0.0.0/33']), 2);
    assert.is(await main(['landing-zone', '--help']), 0);
  } finally {
    process.stderr.write = write;
    process.stdout.write = stdout;
  }
  const text = said.join('');
  assert.match(text, /listen address must be ADDR:PORT/);
  assert.match(text, /--depth and --excluded-ips need --trusted-proxy/);
  assert.match(text, /--depth takes a whole number/);
  assert.match(text, /10\.0\.0\.0\/33/);
  assert.match(text, /^netvault landing-zone \[--listen ADDR:PORT\]/m);
});

test.run();
