// netvault proxy-config: Traefik's dynamic configuration parsed back and checked against a
// schema of the fields it uses, and the Caddyfile read by Caddy's own adapter.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { LOCAL_RANGES } from '@netvault/cidr';
import type { Change } from '../src/changes.ts';
import { DEFAULTS, type VaultConfig } from '../src/config.ts';
import {
  ALLOW_MIDDLEWARE,
  caddyfile,
  DEFAULT_ALLOW_LIST,
  DEFAULT_PROXY_SERVICES,
  formatTraefikYaml,
  parseServiceOption,
  proxyConfigCommand,
  ProxyUsageError,
  traefikDynamicConfig,
  type ProxyOptions,
} from '../src/proxy-config.ts';

const options: ProxyOptions = {
  services: DEFAULT_PROXY_SERVICES,
  upstream: '10.200.1.2',
  allowList: DEFAULT_ALLOW_LIST,
  domain: 'home.lan',
  entryPoint: 'web',
  listen: ':80',
};

const config: VaultConfig = { ...structuredClone(DEFAULTS), source: 'test.json' };

// The fields netvault writes, as Traefik v3's file provider names them (http.middlewares
// .<name>.ipAllowList.sourceRange, http.routers.<name>.{rule, entryPoints, middlewares,
// service}, http.services.<name>.loadBalancer.servers[].url); nothing else is allowed.
type Schema = {
  type: 'object' | 'array' | 'string';
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: false | Schema;
  items?: Schema;
  minItems?: number;
  pattern?: RegExp;
};
const strings = (pattern: RegExp): Schema => ({
  type: 'array',
  minItems: 1,
  items: { type: 'string', pattern },
});
const object = (properties: Record<string, Schema>): Schema => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});
const named = (value: Schema): Schema => ({ type: 'object', additionalProperties: value });
const traefikSchema: Schema = object({
  http: object({
    middlewares: named(
      object({ ipAllowList: object({ sourceRange: strings(/^[0-9a-f.:]+\/\d+$/) }) }),
    ),
    routers: named(
      object({
        rule: { type: 'string', pattern: /^Host\(`[a-z0-9.-]+`\)$/ },
        entryPoints: strings(/^[A-Za-z0-9_-]+$/),
        middlewares: strings(/^[A-Za-z0-9_-]+$/),
        service: { type: 'string', pattern: /^[a-z0-9-]+$/ },
      }),
    ),
    services: named(
      object({
        loadBalancer: object({
          servers: {
            type: 'array',
            minItems: 1,
            items: object({ url: { type: 'string', pattern: /^http:\/\/10\.200\.1\.2:\d+$/ } }),
          },
        }),
      }),
    ),
  }),
});

function validate(value: unknown, schema: Schema, path = '$'): string[] {
  const problems: string[] = [];
  if (schema.type === 'string') {
    if (typeof value !== 'string') return [`${path}: expected a string`];
    if (schema.pattern && !schema.pattern.test(value)) {
      problems.push(`${path}: "${value}" !~ ${schema.pattern}`);
    }
    return problems;
  }
  if (schema.type === 'array') {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    if (value.length < (schema.minItems ?? 0)) problems.push(`${path}: too few items`);
    value.forEach((item, i) => problems.push(...validate(item, schema.items!, `${path}[${i}]`)));
    return problems;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`${path}: expected a map`];
  }
  const record = value as Record<string, unknown>;
  for (const key of schema.required ?? []) {
    if (!(key in record)) problems.push(`${path}.${key}: missing`);
  }
  for (const [key, item] of Object.entries(record)) {
    const sub = schema.properties?.[key] ?? schema.additionalProperties;
    if (!sub) problems.push(`${path}.${key}: not a field netvault writes`);
    else problems.push(...validate(item, sub, `${path}.${key}`));
  }
  return problems;
}

test('Traefik: the YAML parses back to the configuration and fits the schema', async () => {
  const text = await formatTraefikYaml(options);
  const parsed = parse(text);
  assert.equal(parsed, traefikDynamicConfig(options));
  assert.equal(validate(parsed, traefikSchema), []);
  // The schema check itself refuses what Traefik would not know.
  assert.equal(
    validate({ http: { ...parsed.http, routers: { x: { rule: 'Host(`x`)' } } } }, traefikSchema)
      .length,
    3,
  );
});

test('Traefik: the allow-list middleware holds the local ranges; every router uses it', () => {
  const { http } = traefikDynamicConfig(options);
  assert.equal(Object.keys(http.middlewares), [ALLOW_MIDDLEWARE]);
  assert.equal(
    http.middlewares[ALLOW_MIDDLEWARE].ipAllowList.sourceRange,
    LOCAL_RANGES.map((range) => range.cidr),
  );
  assert.equal(Object.keys(http.routers), ['sonarr', 'radarr', 'prowlarr', 'sabnzbd']);
  for (const [name, router] of Object.entries(http.routers)) {
    assert.equal(router.middlewares, [ALLOW_MIDDLEWARE]);
    assert.equal(router.entryPoints, ['web']);
    assert.is(router.rule, `Host(\`${name}.home.lan\`)`);
    assert.ok(http.services[router.service], name);
  }
  assert.equal(http.services.sonarr.loadBalancer.servers, [{ url: 'http://10.200.1.2:8989' }]);
  assert.equal(http.services.radarr.loadBalancer.servers, [{ url: 'http://10.200.1.2:7878' }]);
  assert.equal(http.services.prowlarr.loadBalancer.servers, [{ url: 'http://10.200.1.2:9696' }]);
  assert.equal(http.services.sabnzbd.loadBalancer.servers, [{ url: 'http://10.200.1.2:8080' }]);
});

test('Traefik: no domain routes the bare name; services, entry point and list are options', () => {
  const { http } = traefikDynamicConfig({
    ...options,
    domain: undefined,
    entryPoint: 'websecure',
    allowList: ['192.168.2.0/24'],
    services: [{ name: 'jellyfin', port: 8096 }],
  });
  assert.equal(http.routers, {
    jellyfin: {
      rule: 'Host(`jellyfin`)',
      entryPoints: ['websecure'],
      middlewares: [ALLOW_MIDDLEWARE],
      service: 'jellyfin',
    },
  });
  assert.equal(http.middlewares[ALLOW_MIDDLEWARE].ipAllowList.sourceRange, ['192.168.2.0/24']);
});

test('--service NAME=PORT, and what is refused', () => {
  assert.equal(parseServiceOption('sonarr=8989'), { name: 'sonarr', port: 8989 });
  assert.equal(parseServiceOption(' Jellyfin=8096 '), { name: 'jellyfin', port: 8096 });
  for (const bad of ['sonarr', 'sonarr=0', 'sonarr=65536', 'a b=1', '=80', 'x.y=80']) {
    assert.throws(
      () => parseServiceOption(bad),
      (e: Error) => e instanceof ProxyUsageError,
      bad,
    );
  }
  const refuses = (o: Partial<ProxyOptions>) =>
    assert.throws(
      () => traefikDynamicConfig({ ...options, ...o }),
      (e: Error) => e instanceof ProxyUsageError,
      JSON.stringify(o),
    );
  refuses({ domain: 'home..lan' });
  refuses({ entryPoint: 'a b' });
  refuses({ upstream: 'vault' });
  refuses({ allowList: [] });
  refuses({
    services: [
      { name: 'a', port: 1 },
      { name: 'a', port: 2 },
    ],
  });
});

test('Caddy: admin API and automatic HTTPS off; per service 403 outside the list, then proxy', () => {
  const text = caddyfile({ ...options, listen: '192.168.2.73:80' });
  assert.match(text, /^\{\n\tadmin off\n\tauto_https off\n\}\n/m);
  assert.match(
    text,
    /^http:\/\/sonarr\.home\.lan:80 \{\n\tbind 192\.168\.2\.73\n\t@refused not remote_ip 127\.0\.0\.0\/8 /m,
  );
  assert.match(text, /\trespond @refused 403\n\treverse_proxy 10\.200\.1\.2:8989\n\}/);
  assert.not.match(caddyfile(options), /\tbind /);
  assert.throws(
    () => caddyfile({ ...options, listen: 'localhost:80' }),
    (e: Error) => e instanceof ProxyUsageError,
  );
});

const caddy = spawnSync('caddy', ['version'], { encoding: 'utf8' });
const noCaddy = caddy.status === 0 ? undefined : 'caddy not found (Debian: caddy)';
if (noCaddy) console.log(`Caddy adapter test skipped: ${noCaddy}`);

(noCaddy ? test.skip : test)('Caddy: its own adapter reads the Caddyfile as intended', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvt-caddy-'));
  try {
    const file = join(dir, 'Caddyfile');
    writeFileSync(file, caddyfile({ ...options, listen: '192.168.2.73:80' }));
    const result = spawnSync('caddy', ['adapt', '--config', file, '--adapter', 'caddyfile'], {
      encoding: 'utf8',
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
    });
    assert.is(result.status, 0, result.stderr);
    assert.not.match(result.stderr, /not formatted/);
    const json = JSON.parse(result.stdout);
    assert.equal(json.admin, { disabled: true });
    const servers = Object.values(json.apps.http.servers) as {
      listen: string[];
      automatic_https?: { disable?: boolean };
      routes: { match: { host: string[] }[]; handle: { routes: unknown[] }[] }[];
    }[];
    assert.is(servers.length, 1);
    assert.equal(servers[0].listen, ['192.168.2.73:80']);
    const hosts = servers[0].routes.map((route) => route.match[0].host[0]).sort();
    assert.equal(hosts, [
      'prowlarr.home.lan',
      'radarr.home.lan',
      'sabnzbd.home.lan',
      'sonarr.home.lan',
    ]);
    const sonarr = servers[0].routes.find((route) => route.match[0].host[0] === 'sonarr.home.lan')!;
    assert.equal(sonarr.handle[0].routes, [
      {
        handle: [{ handler: 'static_response', status_code: 403 }],
        match: [{ not: [{ remote_ip: { ranges: [...DEFAULT_ALLOW_LIST] } }] }],
      },
      { handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: '10.200.1.2:8989' }] }] },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function command(
  kind: string | undefined,
  values: Parameters<typeof proxyConfigCommand>[1],
  cfg = config,
) {
  const changes: Change[] = [];
  const printed: string[] = [];
  const errors: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => errors.push(String(chunk))) as never;
  try {
    const code = await proxyConfigCommand(
      kind,
      values,
      cfg,
      (c) => changes.push(c),
      (t) => printed.push(t),
    );
    return { code, changes, printed, errors: errors.join('') };
  } finally {
    process.stderr.write = write;
  }
}

test('the command: prints, writes --out once, reads --list, warns about closed ports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvt-proxy-'));
  try {
    const printed = await command('traefik', { domain: 'home.lan', service: ['sonarr=8989'] });
    assert.is(printed.code, 0);
    assert.equal(parse(printed.printed[0]).http.services, {
      sonarr: { loadBalancer: { servers: [{ url: 'http://10.200.1.2:8989' }] } },
    });

    const out = join(dir, 'netvault.yml');
    writeFileSync(join(dir, 'allow.txt'), '# the home LAN\n192.168.2.0/24\n100.64.0.0/10\n');
    const values = { out, list: join(dir, 'allow.txt') };
    const first = await command('traefik', values);
    assert.equal(first.changes, [{ sign: '+', text: `file ${out}` }]);
    const written = parse(readFileSync(out, 'utf8'));
    assert.equal(written.http.middlewares[ALLOW_MIDDLEWARE].ipAllowList.sourceRange, [
      '100.64.0.0/10',
      '192.168.2.0/24',
    ]);
    const second = await command('traefik', values);
    assert.equal(second.changes, [{ sign: '=', text: `file ${out}` }]);

    const moved: VaultConfig = {
      ...config,
      veth: { ...config.veth, vaultAddress: '10.200.2.2/30' },
      firewall: { servicePorts: [8989] },
    };
    const warned = await command('caddy', { listen: ':8080' }, moved);
    assert.is(warned.code, 0);
    assert.match(warned.printed[0], /reverse_proxy 10\.200\.2\.2:7878/);
    assert.match(warned.errors, /radarr's port 7878 is not in firewall.servicePorts of test.json/);
    assert.not.match(warned.errors, /sonarr/);

    assert.is((await command('nginx', {})).code, 2);
    assert.is((await command(undefined, {})).code, 2);
    assert.is((await command('traefik', { service: ['sonarr'] })).code, 2);
    assert.is((await command('traefik', { list: join(dir, 'missing.txt') })).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI: netvault proxy-config --help and traefik', () => {
  const cli = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/cli/src/netvault.ts', ...args],
      { encoding: 'utf8' },
    );
  const help = cli(['proxy-config', '--help']);
  assert.is(help.status, 0);
  assert.match(help.stdout, /sonarr=8989 radarr=7878 prowlarr=9696 sabnzbd=8080/);
  const traefik = cli([
    'proxy-config',
    'traefik',
    '-c',
    '/dev/null',
    '--domain',
    'home.lan',
    '--service',
    'sonarr=8989',
    '--service',
    'radarr=7878',
    '--entrypoint',
    'lan',
  ]);
  assert.is(traefik.status, 0, traefik.stderr);
  const { http } = parse(traefik.stdout);
  assert.equal(Object.keys(http.routers), ['sonarr', 'radarr']);
  assert.is(http.routers.radarr.rule, 'Host(`radarr.home.lan`)');
  assert.equal(http.routers.radarr.entryPoints, ['lan']);
});

test.run();
